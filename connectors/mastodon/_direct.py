"""Direct messages on Mastodon, as pure functions: the status that carries one, who it
reached, and the answers below it (the requests are the connector's, ``_connector``).

Why it looks like this (https://docs.joinmastodon.org/methods/statuses/):

- Mastodon has no messages apart from statuses: a direct message is a status with
  ``visibility: direct``, which only the accounts it mentions (and its author) see. It starts
  with the recipient's mention: ``@user`` for an account of the sender's own server,
  ``@user@server`` for another, which the server looks up (WebFinger) before it answers.
- Any other mention in the text would show the message to that account too, so the text's
  own ``@`` are kept from making mentions by a word joiner (U+2060, invisible) after them:
  Mastodon's mention pattern needs a name's letter right after the ``@``.
- What the server answers says whether the message reached the person: a status that is not
  ``direct`` (a server that does not know the visibility), or whose ``mentions`` do not hold
  the recipient (a name the server could not find leaves the text as it is), reached no one
  but the public or no one at all; the connector takes it down and says so.
- An account is the recipient when its ``acct`` names them: ``user`` on the sender's own
  server, ``user@domain`` on another. Portal names a person by the server that issued their
  token (``user@host``), but a server may name its accounts by another domain than its host
  (``LOCAL_DOMAIN`` and ``WEB_DOMAIN``, https://docs.joinmastodon.org/admin/config/#web_domain);
  there the account's own address on the host counts: its ``uri`` (the ActivityPub id, which
  the server fetched from there), else its ``url``.
- The answers are the recipient's statuses below the message in its thread (the descendants
  of ``GET /api/v1/statuses/:id/context``), as plain text the way the posts' replies are
  (``_text.html_to_text``), without the mentions a reply starts with.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from connectors.base import MAX_ANSWERS, Answer, InvalidHandle, PermanentError
from connectors.mastodon import _api
from connectors.mastodon._api import server_error, text_of
from connectors.mastodon._model import post_from_json, server_name, web_url
from connectors.mastodon._text import CONTROL, html_to_text

QUIET = "\u2060"
"""The word joiner: put after an ``@`` of the text, it keeps it from making a mention."""
_MENTION_START = re.compile(r"(?<![=/\w])@(?=[a-z0-9_])", re.IGNORECASE)
"""Where Mastodon's mention pattern (``Account::MENTION_RE``) would start a mention."""
_LEADING_MENTIONS = re.compile(r"^(?:@[\w.-]+(?:@[\w.-]+)?[\s\u00a0]+)+")


def mention(recipient: str, instance: str) -> str:
    """How the message names ``recipient`` (``user@server``): ``@user`` on the sender's own
    server, ``@user@server`` elsewhere."""
    user, _, server = recipient.partition("@")
    return f"@{user}" if server == instance else f"@{recipient}"


def status_text(recipient: str, instance: str, text: str) -> str:
    """The status of a direct message: the recipient's mention, then the text, whose own
    ``@`` mention no one."""
    return f"{mention(recipient, instance)} {_MENTION_START.sub('@' + QUIET, text.strip())}"


def _host(value: str) -> str:
    return value.rsplit(":", 1)[0] if ":" in value else value


def _server(domain: str, allow_loopback: bool) -> str | None:
    try:
        return server_name(domain, allow_loopback=allow_loopback)
    except InvalidHandle:
        return None


def is_account(
    account: Any, recipient: str, instance: str, *, allow_loopback: bool = False
) -> bool:
    """Whether an Account, or a status's Mention, is the person ``recipient`` names
    (``user@server``), as the server of ``instance`` shows them."""
    if not isinstance(account, Mapping):
        return False
    user, _, server = recipient.partition("@")
    name, _, domain = text_of(account.get("acct")).removeprefix("@").partition("@")
    if name.lower() != user:
        return False
    on = _server(domain, allow_loopback) if domain else instance  # a local acct: no domain
    if on == server:
        return True
    # A server that names its accounts by another domain than its host: their address.
    address = web_url(account.get("uri")) or web_url(account.get("url"))
    host = (urlsplit(address).hostname or "") if address else ""
    return bool(host) and _server(host, allow_loopback) == _host(server)


def reached(status: Any, recipient: str, instance: str, *, allow_loopback: bool = False) -> bool:
    """Whether a status as the server answered it is a direct message that mentions
    ``recipient``: one they see, and no one else but those it mentions."""
    if not isinstance(status, Mapping):
        return False
    mentions = status.get("mentions")
    return status.get("visibility") == "direct" and any(
        is_account(found, recipient, instance, allow_loopback=allow_loopback)
        for found in (mentions if isinstance(mentions, list) else [])
    )


def refused(answer: _api.Answer, instance: str) -> str:
    """What a 404 or 422 to a direct message means, in words a person understands."""
    said = server_error(answer)
    if answer.status == 404:
        return (
            f"{instance} did not send the message ({said or 'not found'}). A message sent "
            "once and then deleted on Mastodon is not sent again."
        )
    return f"{instance} refused the message: {said or f'HTTP {answer.status}'}."


def _text_of(status: Mapping[str, Any]) -> str:
    """The plain text of an answer, without the mentions a reply starts with."""
    text = html_to_text(text_of(status.get("content")))
    text = _LEADING_MENTIONS.sub("", text, count=1).strip() or text
    warning = CONTROL.sub("", text_of(status.get("spoiler_text"))).strip()
    return f"CW: {warning}\n\n{text}".strip() if warning else text


def answers_in(
    context: Any,
    recipient: str,
    instance: str,
    since: datetime,
    *,
    allow_loopback: bool = False,
) -> list[Answer]:
    """The statuses of ``recipient`` among a context's descendants written since ``since``,
    oldest first, at most the newest :data:`MAX_ANSWERS`."""
    descendants = context.get("descendants") if isinstance(context, Mapping) else None
    found: dict[str, Answer] = {}
    for status in descendants if isinstance(descendants, list) else []:
        if not isinstance(status, Mapping) or not is_account(
            status.get("account"), recipient, instance, allow_loopback=allow_loopback
        ):
            continue
        try:
            post = post_from_json(status, instance, allow_loopback=allow_loopback)
        except PermanentError:  # no id or no date: not one to keep
            continue
        if post.published >= since:
            found.setdefault(post.id, Answer(post.id, _text_of(status), post.published, post.url))
    answers = sorted(found.values(), key=lambda answer: answer.written_at)
    return answers[-MAX_ANSWERS:]
