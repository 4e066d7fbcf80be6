"""Telegram: a public username, ``@ada_lovelace``; proven by the signed Login Widget; posts
go into a channel or group through the portal's own bot.

Why it looks like this:

- Usernames (https://core.telegram.org/method/account.updateUsername): a–z (case-insensitive),
  0–9 and underscores, 5 to 32 characters. Telegram also refuses a name that starts with a
  digit or an underscore or ends with an underscore when one is chosen (not written in the API
  reference, but no such name exists), so these are refused here too; double underscores are
  allowed. Lookups ignore case, so the handle is kept in lowercase.
- Links (https://core.telegram.org/api/links): ``https://t.me/<name>`` (also
  ``telegram.me`` and ``<name>.t.me``) is the public page, ``tg://resolve?domain=<name>``
  opens the app. All of these are accepted as input.
- Proof is the Login Widget (https://core.telegram.org/widgets/login, archived at
  https://core.telegram.org/widgets/login-legacy): Telegram hands the browser ``id``,
  ``first_name``, ``last_name``, ``username``, ``photo_url``, ``auth_date`` and ``hash``,
  where ``hash`` is the hex HMAC-SHA-256 of the data-check-string (every other field as
  ``key=value``, sorted, joined by line feeds) keyed with SHA-256 of the bot's token. Checking
  it needs no call to Telegram, so there is no API and no :meth:`get_actor`: the portal calls
  :func:`verify_login` with what the widget sent. ``auth_date`` bounds how long such an answer
  can be replayed.
- An account without a username has no public address to show, so it cannot be linked.
- Telegram now also offers OpenID Connect (https://core.telegram.org/bots/telegram-login);
  this connector keeps the widget, which needs only the bot token.

Publishing (the Bot API, https://core.telegram.org/bots/api):

- A person's account cannot post through the Bot API; the portal's bot (the one the widget
  names, its token in :attr:`~connectors.base.Context.telegram_bot_token`) posts into a
  channel or group (``Draft.destination``: ``@channelusername`` or the chat's number,
  ``-100…``) where it is an administrator who may post. That bot is shared by every user of
  the portal, so before it posts, edits or deletes it asks ``getChatMember`` whether the
  linked Telegram account (the number the widget proved, kept in ``Credentials.extra["id"]``)
  is the chat's creator or an administrator who may post: nobody posts through Portal where
  they could not post themselves.
- Text goes by ``sendMessage`` (1–4096 characters), one picture by ``sendPhoto``, 2–10 by
  ``sendMediaGroup``, an album whose caption is its first picture's (0–1024 characters). A
  photo is at most 10 MB, its width and height add up to at most 10000, and one is at most
  20 times the other. Telegram has no alt text, so picture descriptions are not sent. No
  ``parse_mode`` is given: the text is shown as written. A thread's later parts reply to the
  previous part (``reply_parameters.message_id``).
- Every answer is ``{"ok": true, "result": …}`` or ``{"ok": false, "error_code": …,
  "description": …, "parameters": {"retry_after": …, "migrate_to_chat_id": …}}``
  (https://core.telegram.org/bots/api#making-requests): 429 waits ``retry_after`` seconds,
  5xx and timeouts may pass, the rest are refusals told in words.
- The token is part of every request's address (``/bot<token>/<method>``), so no error
  carries the address or the failure under it.

Answers (:mod:`connectors.telegram._updates`): the comments on a channel's post are messages
of its discussion group, which the Bot API does not list on request; the bot receives them
as updates (``getUpdates``) when it is an administrator of the group, and the portal reads
those (:mod:`portal.domain.posts.telegram_answers`).

Messages to a person (:mod:`connectors.telegram._direct`): nobody can write as themselves
through an API, so the portal's bot writes, for whoever writes, to a person who allowed it
(the Login Widget asks for that), in their private chat with it; their answers come to the
bot as updates too.
"""

from __future__ import annotations

from connectors.telegram._bot import NotAllowed
from connectors.telegram._connector import Telegram
from connectors.telegram._direct import DELETABLE_FOR, chat_of, take_back, write
from connectors.telegram._login import (
    FUTURE_SKEW,
    MAX_FIELD_LENGTH,
    MAX_FIELDS,
    MAX_TOTAL_LENGTH,
    REQUIRED,
    InvalidLogin,
    data_check_string,
    verify_login,
)
from connectors.telegram._updates import Batch, Comment, Private, Thread, heads, read_updates

__all__ = [
    "DELETABLE_FOR",
    "FUTURE_SKEW",
    "MAX_FIELDS",
    "MAX_FIELD_LENGTH",
    "MAX_TOTAL_LENGTH",
    "REQUIRED",
    "Batch",
    "Comment",
    "InvalidLogin",
    "NotAllowed",
    "Private",
    "Telegram",
    "Thread",
    "chat_of",
    "data_check_string",
    "heads",
    "read_updates",
    "take_back",
    "verify_login",
    "write",
]
