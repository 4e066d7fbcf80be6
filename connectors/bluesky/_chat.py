"""Direct messages on Bluesky: the conversation with one person, a message into it, and what
they wrote back (the connector's part of it is in :mod:`connectors.bluesky._connector`).

Why it looks like this (the lexicons are the truth:
https://github.com/bluesky-social/atproto/tree/main/lexicons/chat/bsky/convo):

- Chat is not kept in the account's repository but by Bluesky's chat service
  (``did:web:api.bsky.chat``). A client reaches it through the account's own PDS by service
  proxying: the call goes to the PDS with ``atproto-proxy: did:web:api.bsky.chat#bsky_chat``,
  and the PDS passes it on for the account (https://atproto.com/specs/xrpc#service-proxying,
  https://docs.bsky.app/docs/advanced-guides/api-directory).
- Not every session may do it. An app password reaches chat only when it was made with
  "Allow access to your direct messages" (a privileged one); the PDS answers any other with
  ``InvalidToken`` "Bad token method", which here says what to do, and is not a revoked
  link. An OAuth session needs the ``transition:chat.bsky`` scope, which Portal's OAuth
  client asks for (``connectors.atproto._oauth.SCOPE``): an account linked by signing in
  with Bluesky reaches chat; one linked so before Portal asked for it lacks it and is told
  so before anything is sent (the PDS would answer 403 ``ScopeMissingError``).
- ``chat.bsky.convo.getConvoForMembers`` with the recipient's DID gets, or starts, the one
  direct conversation of the two; ``chat.bsky.convo.sendMessage`` with
  ``{convoId, message: {text, facets}}`` (``chat.bsky.convo.defs#messageInput``: at most 1,000
  graphemes and 10,000 bytes of text) answers with the message's ``messageView``.
- The chat service refuses a message the recipient does not take: from no one, or only from
  people they follow (their ``allowIncoming`` setting), between people one of whom blocked the
  other, to an account it does not know. The lexicons name these errors (``MessagesDisabled``,
  ``NotFollowedBySender``, ``BlockedActor``, ``BlockedSubject``, ``RecipientNotFound``,
  ``AccountSuspended``, ``ConvoLocked``, ``InvalidConvo``); before it named them, the service
  said them in words only ("recipient has disabled incoming messages", as the Bluesky app
  still reads them). Each is told in words a person understands.
- Exactly once: chat takes no idempotency key, and a message carries no id of the client's. A
  try ``again`` reads the conversation's newest messages (one page of ``getMessages``) for one
  of this account's with the very same text, sent within :data:`AGAIN_WITHIN`: found, that is
  the first try's, and nothing is sent. Its limits: a text sent twice on purpose within that
  time, the second's first try unrecorded, counts as sent (the recipient has that very text
  from the sender already); a first try further back than that page, or than that time, is
  sent once more.
- Answers are the recipient's ``messageView``s in ``getMessages``, a page at a time from the
  newest back (its cursor leads to older ones); a ``deletedMessageView`` (taken back by its
  sender) and a ``systemMessageView`` are not answers. The recipient is the conversation's
  other member (``getConvo``): the person the message went to, whatever their handle became.
  A chat message has no web address of its own; an answer's is the conversation's page on
  bsky.app.
- Whether the recipient read a message cannot be told: ``convoView.unreadCount`` counts the
  viewer's own unread messages, and the log's ``logReadMessage``/``logReadConvo`` are the
  viewer's own reads. A message cannot be taken back either: ``deleteMessageForSelf`` hides it
  from its sender alone, the recipient keeps it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import quote

from connectors._http import json_text
from connectors.atproto import XrpcError
from connectors.base import MAX_ANSWERS, Answer, PermanentError, Retriable, count_text
from connectors.bluesky._model import WEB, moment

SERVICE = "did:web:api.bsky.chat#bsky_chat"
"""The chat service, as the ``atproto-proxy`` header names it (its DID and service id)."""
MAX_GRAPHEMES = 1000
MAX_BYTES = 10_000
PAGE = 100
"""The most messages ``getMessages`` gives at once."""
PAGES = 5
"""How many pages of a conversation are read back for its answers, at most."""
AGAIN_WITHIN = timedelta(hours=6)
"""How far back a try ``again`` looks for the first try's message: longer than a message's
tries go on for (at most about an hour), with room for a worker that was down a while."""
MESSAGE = "chat.bsky.convo.defs#messageView"
OTHER = "[message]"
"""What stands for an answer without text (a post shared into the chat)."""

NO_ACCESS = (
    "The app password this Bluesky account was linked with does not allow direct messages. "
    "Create one in Bluesky under Settings → Privacy and security → App passwords with "
    "“Allow access to your direct messages” on, and link the account again with it."
)
NO_ACCESS_BY_SIGN_IN = (
    "This Bluesky account was linked before Portal asked to write its direct messages: link "
    "it again, by signing in with Bluesky or with an app password that allows direct "
    "messages (Bluesky → Settings → Privacy and security → App passwords)."
)


class Call(Protocol):
    """An XRPC call with the account's session (``Bluesky._call``)."""

    async def __call__(
        self,
        nsid: str,
        params: Mapping[str, str] | None = None,
        *,
        body: Mapping[str, Any] | None = None,
        proxy: str | None = None,
    ) -> dict[str, Any]: ...


# -- pure functions --------------------------------------------------------------------------


def check_text(text: str) -> str:
    """The text of one chat message, or :class:`PermanentError` saying why it is not one."""
    body = text.strip() if isinstance(text, str) else ""
    if not body:
        raise PermanentError("The message is empty.")
    length = count_text(body, "graphemes")
    if length > MAX_GRAPHEMES:
        raise PermanentError(
            f"This message is {length} characters long as Bluesky counts them, and a Bluesky "
            f"chat message holds {MAX_GRAPHEMES:,}: shorten it by {length - MAX_GRAPHEMES}."
        )
    if len(body.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise PermanentError(
            "This message has too many emoji or other characters that take much room: a "
            f"Bluesky chat message holds at most {MAX_BYTES:,} bytes of text. Shorten it."
        )
    return body


def lacks_access(error: XrpcError) -> bool:
    """Whether the PDS refused to pass a call on because the session may not chat: an app
    password made without access to direct messages."""
    return error.error == "InvalidToken" and "bad token method" in error.message.lower()


_REFUSALS = {
    "MessagesDisabled": "{who} takes no direct messages on Bluesky (their chat settings).",
    "NotFollowedBySender": (
        "{who} takes direct messages on Bluesky only from people they follow, and they do "
        "not follow this account."
    ),
    "BlockedActor": "A block between this account and {who} on Bluesky stops the message.",
    "BlockedSubject": "A block between this account and {who} on Bluesky stops the message.",
    "RecipientNotFound": "Bluesky's chat does not know {who}.",
    "AccountSuspended": "This Bluesky account may not send direct messages now.",
    "ConvoLocked": "The conversation with {who} on Bluesky is locked.",
    "InvalidConvo": "The conversation with {who} is no longer there on Bluesky.",
}
_SAID = {
    "recipient has disabled incoming messages": "MessagesDisabled",
    "recipient requires incoming messages to come from someone they follow": (
        "NotFollowedBySender"
    ),
    "recipient does not exist": "RecipientNotFound",
    "account does not exist": "RecipientNotFound",
    "block between recipient and sender": "BlockedActor",
    "account is disabled": "AccountSuspended",
    "convo not found": "InvalidConvo",
}
"""The chat service's words for the errors it had not named yet."""


def refusal(error: XrpcError, who: str) -> PermanentError:
    """A refusal of the chat service, told about ``who`` (the recipient, as people write them)."""
    if error.status == 403 and error.error == "ScopeMissingError":
        return PermanentError(NO_ACCESS_BY_SIGN_IN)
    name = error.error
    said = error.message.strip().rstrip(".")
    if name not in _REFUSALS:
        # Named in the words ("MessagesDisabled: recipient has …"), or said in them alone.
        prefix, _, rest = said.partition(":")
        name = prefix if prefix in _REFUSALS else _SAID.get((rest or said).strip().lower(), name)
    words = _REFUSALS.get(name)
    if words is not None:
        return PermanentError(words.format(who=who))
    return PermanentError(f"Bluesky's chat refused the message: {said or name or error.status}.")


def conversation_url(convo_id: str) -> str:
    """The conversation's page in the Bluesky app."""
    return f"{WEB}/messages/{quote(convo_id, safe='')}"


def _id(value: Any, what: str) -> str:
    found = json_text(value)
    if not found or len(found) > 500:
        raise Retriable(f"Bluesky's chat answered without the {what}.")
    return found


def _sender(view: Mapping[str, Any]) -> str:
    sender = view.get("sender")
    return json_text(sender.get("did")) if isinstance(sender, Mapping) else ""


def messages_in(page: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The messages of a ``getMessages`` page that someone wrote and did not take back."""
    items = page.get("messages")
    return [
        item
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, Mapping) and item.get("$type", MESSAGE) == MESSAGE
    ]


def sent_before(
    messages: Sequence[Mapping[str, Any]], sender: str, text: str, now: datetime
) -> str | None:
    """The id of the newest message of ``sender`` with exactly ``text``, sent within
    :data:`AGAIN_WITHIN` of ``now``; ``None`` when there is none."""
    found: tuple[datetime, str] | None = None
    for view in messages:
        sent = moment(view.get("sentAt"))
        if sent is None or sent < now - AGAIN_WITHIN or _sender(view) != sender:
            continue
        message_id = json_text(view.get("id"))
        if view.get("text") == text and message_id and (found is None or sent > found[0]):
            found = (sent, message_id)
    return found[1] if found else None


def answer_of(view: Mapping[str, Any], convo_id: str) -> Answer | None:
    """A message as an answer: its id, text and time; ``None`` for one without them."""
    message_id, written = json_text(view.get("id")), moment(view.get("sentAt"))
    if not message_id or written is None:
        return None
    text = json_text(view.get("text")).strip() or OTHER
    return Answer(message_id, text, written, url=conversation_url(convo_id))


def other_member(convo: Any, did: str) -> str:
    """The one member of a direct conversation who is not ``did``."""
    members = convo.get("members") if isinstance(convo, Mapping) else None
    others = {
        json_text(member.get("did"))
        for member in (members if isinstance(members, list) else [])
        if isinstance(member, Mapping) and json_text(member.get("did")) not in ("", did)
    }
    if len(others) != 1:
        raise PermanentError("This Bluesky conversation is not one with a single person.")
    return others.pop()


# -- the conversation, through the account's PDS --------------------------------------------


class Chat:
    """The account's direct conversations: ``call`` is the account's XRPC call, ``did`` its DID."""

    def __init__(self, call: Call, did: str) -> None:
        self._call = call
        self.did = did

    async def _chat(
        self,
        nsid: str,
        params: Mapping[str, str] | None = None,
        *,
        body: Mapping[str, Any] | None = None,
        who: str,
    ) -> dict[str, Any]:
        try:
            return await self._call(nsid, params, body=body, proxy=SERVICE)
        except XrpcError as error:
            raise refusal(error, who) from error

    async def conversation(self, member: str, who: str) -> str:
        """The id of the direct conversation with ``member`` (a DID), started if need be."""
        found = await self._chat("chat.bsky.convo.getConvoForMembers", {"members": member}, who=who)
        convo = found.get("convo")
        return _id(convo.get("id") if isinstance(convo, Mapping) else None, "conversation")

    async def send(
        self, convo_id: str, text: str, facets: Sequence[Mapping[str, Any]], who: str
    ) -> str:
        """Send ``text`` (with its links' and mentions' ``facets``); the new message's id."""
        message: dict[str, Any] = {"text": text}
        if facets:
            message["facets"] = list(facets)
        sent = await self._chat(
            "chat.bsky.convo.sendMessage",
            body={"convoId": convo_id, "message": message},
            who=who,
        )
        return _id(sent.get("id"), "message's id")

    async def sent_before(self, convo_id: str, text: str, who: str) -> str | None:
        """The id of a message of this account's with ``text`` among the conversation's
        newest, sent within :data:`AGAIN_WITHIN`: a try before that went out unrecorded."""
        page = await self._chat(
            "chat.bsky.convo.getMessages", {"convoId": convo_id, "limit": str(PAGE)}, who=who
        )
        return sent_before(messages_in(page), self.did, text, datetime.now(UTC))

    async def answers(self, convo_id: str, since: datetime, who: str) -> list[Answer]:
        """What the conversation's other member (``who``, the recipient) wrote since
        ``since``, oldest first, at most the newest :data:`MAX_ANSWERS`."""
        if not convo_id:
            raise PermanentError("This message names no Bluesky conversation.")
        convo = await self._chat("chat.bsky.convo.getConvo", {"convoId": convo_id}, who=who)
        recipient = other_member(convo.get("convo"), self.did)
        found: dict[str, Answer] = {}
        params = {"convoId": convo_id, "limit": str(PAGE)}
        for _ in range(PAGES):
            page = await self._chat("chat.bsky.convo.getMessages", params, who=who)
            views = messages_in(page)
            for view in views:
                answer = answer_of(view, convo_id) if _sender(view) == recipient else None
                if answer is not None and answer.written_at >= since:
                    found.setdefault(answer.id, answer)
            items = page.get("messages")
            times = [
                moment(item.get("sentAt"))
                for item in (items if isinstance(items, list) else [])
                if isinstance(item, Mapping)
            ]
            oldest = min((time for time in times if time is not None), default=None)
            cursor = json_text(page.get("cursor"))
            if len(found) >= MAX_ANSWERS or (oldest is not None and oldest < since):
                break
            if not cursor or cursor == params.get("cursor") or not times:
                break
            params = {**params, "cursor": cursor}
        answers = sorted(found.values(), key=lambda answer: answer.written_at)
        return answers[-MAX_ANSWERS:]
