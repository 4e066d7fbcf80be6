"""Writing to a person by their number: which of their messengers the sender may use, and a
message with one copy per messenger, each delivered by a job (``portal.domain.messages.deliver``).

The recipient decides (``portal.domain.reach``): who may write to them, and their messengers
in their order; a sender sees, and can use, only the messengers the recipient's card shows
them. A messenger is usable when the sender has a verified account there that can send
(``CAN_MESSAGE``): the message goes from the sender's own account to the recipient's, as if
they had written it themselves. On a messenger where nobody can write as themselves but the
portal's own bot may write to people (``MESSAGES_BY_BOT``: Telegram), the bot writes for
anyone, introducing the sender by name and number, when the portal has a bot and the
recipient's account there is proven with its number (what the bot writes to).

``all`` sends every copy at once; ``first`` sends them one after the other in the recipient's
order, and stops at the first delivered. Someone the recipient blocked is answered as anyone
else would be, and nothing is sent: their copies stay queued, with no job. The messages of
someone who is not the recipient's contact, where the recipient takes messages from any
member, are a message request until the recipient accepts it (``requests``): held the same
way, and shown to the recipient on Portal alone.
"""

from __future__ import annotations

import contextlib
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors import get as connector_class
from connectors import telegram
from portal.domain import jobs, linking, notifications, privacy, reach, relations
from portal.domain.linking.services import LinkServices
from portal.domain.text import reject_invisible
from portal.errors import N_, Forbidden, InvalidInput, NotFound, PortalError
from portal.storage.messages import Message, MessageCopy, MessageSender
from portal.storage.models import LinkedAccount, User
from portal.storage.posts import PostMedia

SEND = "send_message"
"""The job that delivers one copy (its subject: the copy's id)."""
NETWORK_BY_BOT = telegram.Telegram.NAME
"""The messenger the portal's own bot writes on, for whoever writes."""
MODES = ("all", "first")
MAX_TEXT = 4000
"""The longest message: what every messenger Portal sends on takes in one message."""
WAITING, QUEUED, SENDING, RETRYING = "waiting", "queued", "sending", "retrying"
SENT, FAILED, SKIPPED = "sent", "failed", "skipped"
UNDER_WAY = frozenset({WAITING, QUEUED, SENDING, RETRYING})
REQUEST, DECLINED = "request", "declined"
"""A message's states while it is held: the first words of someone who is not the
recipient's contact wait for the recipient to accept them; declined, they wait for good
(their sender is not told, as a blocked sender is not)."""

NOT_TO_YOU = N_("This person takes messages through Portal only from their contacts.")
TO_NOBODY = N_("This person does not take messages through Portal.")
NO_CHANNEL = N_(
    "You have no account that can write to this person on the messengers they offer you: "
    "link one of them (Matrix, XMPP, Mastodon, Bluesky, or an email address with its mailbox "
    "connected) to your number."
)
"""Said where nothing can be written either: no messenger for Portal, none for an app."""
NOT_OFFERED = N_("This person does not offer you that messenger.")
NO_PICTURE = N_("This picture does not exist; upload it again.")
MAX_ALT = 1_500
"""The longest description of a message's picture (as a post's)."""


@dataclass(frozen=True, slots=True)
class Attached:
    """The picture that goes with a message: one uploaded before (``POST /api/v1/media``),
    its alt text."""

    media_id: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class Offer:
    """One of the recipient's messengers as the sender may use it."""

    channel: reach.Channel
    sender_account: LinkedAccount | None
    """The sender's account that writes there; ``None``: they have none that can."""
    by_bot: bool = False
    """The portal's own bot writes there for the sender (Telegram)."""

    @property
    def network(self) -> str:
        return self.channel.account.network

    @property
    def usable(self) -> bool:
        """Portal writes there for the sender: from their account, or by its bot."""
        return self.sender_account is not None or self.by_bot

    def app_link(self, text: str) -> AppLink | None:
        """The link that hands ``text`` to the writer's own app for this messenger, where
        Portal does not write on it for them."""
        cls = connector_class(self.network)
        if cls is None or self.usable:
            return None
        url = cls.message_link(self.channel.account.handle, text)
        if url is None:
            return None
        return AppLink(self.network, cls.LABEL, url, cls.FILLS_IN_TEXT)


@dataclass(frozen=True, slots=True)
class AppLink:
    """A messenger Portal cannot write on for the writer: a link that opens it in their app,
    the text written in where the app takes it."""

    network: str
    label: str
    url: str
    fills_in_text: bool


@dataclass(frozen=True)
class Offered:
    recipient: User
    card: privacy.Card
    """What the sender may see of the recipient (their name, where the card shows it)."""
    offers: list[Offer]
    relation: privacy.Relation
    """The sender's relation to the recipient as it decides what a message does, a block
    aside: someone the recipient blocked is answered as if they were not."""


async def offers(session: AsyncSession, sender: User, number: str, *, bot: bool) -> Offered:
    """The recipient behind ``number``, and their messengers the sender may use, in the
    recipient's order; ``bot``: the portal has a bot that writes to people (Telegram's). A
    number unknown or hidden from the sender is :data:`~portal.domain.privacy.NO_SUCH_NUMBER`,
    as for a lookup; one that does not take messages from the sender says so. Someone who
    blocked the sender is offered as their public card shows them, and :func:`send` sends
    them nothing."""
    card = await privacy.card_for_number(session, sender, number)
    recipient = await session.get(User, card.user_id)
    if recipient is None:
        raise NotFound(privacy.NO_SUCH_NUMBER)
    if recipient.id == sender.id:
        raise InvalidInput(N_("This is your own number."), field="to")
    relation = card.relation
    if relation is privacy.Relation.BLOCKED:  # told what anyone else in their place is told
        contact = await relations.contact_row(session, recipient.id, sender.id)
        relation = privacy.Relation.CONTACT if contact else privacy.Relation.MEMBER
    if not reach.may_write(recipient, relation):
        raise Forbidden(TO_NOBODY if recipient.messages_from == reach.NOBODY else NOT_TO_YOU)
    accounts = list(
        await session.scalars(
            select(LinkedAccount).where(LinkedAccount.user_id.in_((recipient.id, sender.id)))
        )
    )
    theirs = [account for account in accounts if account.user_id == recipient.id]
    channels = reach.open_to(card, reach.order(theirs))
    mine = sorted(
        (account for account in accounts if account.user_id == sender.id and _can_send(account)),
        key=lambda account: (account.position, account.id),
    )
    found = [
        # Portal writes only to an account the recipient proved is theirs: a handle merely
        # typed may be anyone's. The writer's own app may open any the card shows.
        Offer(
            channel,
            next((a for a in mine if a.network == channel.account.network), None)
            if channel.account.status == linking.VERIFIED
            else None,
            by_bot=bot and bot_writes_to(channel.account),
        )
        for channel in channels
    ]
    return Offered(recipient, card, found, relation)


def has_bot(services: LinkServices) -> bool:
    """Whether the portal has a bot that writes to people (what :func:`offers` asks)."""
    return bool(services.telegram_bot_token)


def bot_writes_to(account: LinkedAccount) -> bool:
    """Whether the portal's bot can write to the account (given the portal has one): on a
    network where it writes for people, proven, with the number it writes to."""
    cls = connector_class(account.network)
    return (
        cls is not None
        and cls.MESSAGES_BY_BOT
        and account.status == linking.VERIFIED
        and bot_chat(account) is not None
    )


def bot_chat(account: LinkedAccount) -> str | None:
    """Where the portal's bot writes to the account: the private chat numbered with the
    Telegram user's number, which the Login Widget proved."""
    return telegram.chat_of(account.external_id) if account.network == NETWORK_BY_BOT else None


def _can_send(account: LinkedAccount) -> bool:
    cls = connector_class(account.network)
    return (
        cls is not None
        and cls.CAN_MESSAGE
        and account.status == linking.VERIFIED
        and bool(account.secrets)
    )


async def send(
    session: AsyncSession,
    sender: User,
    number: str,
    text: str,
    *,
    mode: str = "all",
    networks: Sequence[str] | None = None,
    apps_too: bool = False,
    bot: bool,
    picture: Attached | None = None,
) -> Message:
    """Write ``text`` to the person behind ``number``, on every messenger of theirs the
    sender can use (or on ``networks`` of them), ``all`` at once or the ``first`` that
    delivers; the message and its copies, their jobs queued in the same transaction. The
    messengers for the sender's own app are ``networks`` too, or all with ``apps_too`` (a
    form ticks only those Portal writes on); ``bot`` as for :func:`offers`. ``picture``: one
    the sender uploaded and used nowhere yet, which goes with the text."""
    body = unicodedata.normalize("NFC", (text or "").replace("\r\n", "\n").replace("\r", "\n"))
    reject_invisible(body, "The message", "text", newlines=True)
    body = body.strip()
    if not body:
        raise InvalidInput(N_("Write something to send."), field="text")
    if len(body) > MAX_TEXT:
        raise InvalidInput(
            N_("A message has at most %(max)d characters."), field="text", max=MAX_TEXT
        )
    if mode not in MODES:
        raise InvalidInput(N_("Send to all at once, or to the first that delivers."), field="mode")
    media = await _picture(session, sender, picture) if picture is not None else None
    offered = await offers(session, sender, number, bot=bot)
    recipient, found = offered.recipient, offered.offers
    usable = [offer for offer in found if offer.usable]
    if networks is not None:
        wanted = set(networks)
        if wanted - {offer.network for offer in found}:
            raise InvalidInput(NOT_OFFERED, field="channels")
        usable = [offer for offer in usable if offer.network in wanted]
    by_app = [offer for offer in found if offer.app_link(body) is not None]
    if networks is not None and not apps_too:
        by_app = [offer for offer in by_app if offer.network in set(networks)]
    if not usable and not by_app:
        raise InvalidInput(NO_CHANNEL, field="channels")
    message = Message(
        id=secrets.token_urlsafe(12),
        sender_id=sender.id,
        recipient_id=recipient.id,
        text=body,
        mode=mode,
        dropped=offered.card.relation is privacy.Relation.BLOCKED,
    )
    if offered.relation is privacy.Relation.MEMBER and not await accepted(
        session, recipient.id, sender.id
    ):
        message.state = REQUEST
    session.add(message)
    if media is not None:
        await session.flush()
        media.message_id = message.id
    copies = []
    for position, offer in enumerate(usable):
        first_only = mode == "first" and position > 0
        copy = MessageCopy(
            message_id=message.id,
            position=position,
            network=offer.network,
            sender_account_id=offer.sender_account.id if offer.sender_account else None,
            by_bot=offer.sender_account is None,
            recipient_account_id=offer.channel.account.id,
            to_handle=offer.channel.account.handle,
            status=WAITING if first_only else QUEUED,
            key=secrets.token_hex(16),
        )
        session.add(copy)
        copies.append(copy)
    await session.flush()
    if message.dropped:  # untold
        return message
    if message.state == REQUEST:
        # Held until the recipient accepts; told once, not at each message while it waits.
        waiting = await session.scalar(
            select(Message.id)
            .where(
                Message.sender_id == sender.id,
                Message.recipient_id == recipient.id,
                Message.state == REQUEST,
                Message.dropped.is_(False),
                Message.id != message.id,
            )
            .limit(1)
        )
        if waiting is None:
            await notifications.notify(
                session, recipient, notifications.MESSAGE_REQUEST, actor=sender
            )
        return message
    for copy in copies:
        if copy.status == QUEUED:
            await jobs.enqueue(session, SEND, str(copy.id))
    return message


async def _picture(session: AsyncSession, sender: User, picture: Attached) -> PostMedia:
    """The sender's own picture, used by no post or message yet; another's is not found."""
    media_id = picture.media_id
    media = await session.get(PostMedia, media_id) if 0 < len(media_id) <= 24 else None
    if (
        media is None
        or media.user_id != sender.id
        or media.post_id is not None
        or media.message_id is not None
    ):
        raise NotFound(NO_PICTURE)
    description = unicodedata.normalize("NFC", picture.description).strip()
    if len(description) > MAX_ALT:
        raise InvalidInput(
            N_("A picture's description is at most %(max)d characters."),
            field="media_description",
            max=MAX_ALT,
        )
    reject_invisible(description, "The picture's description", "media_description", newlines=False)
    media.description, media.no_description = description, not description
    return media


async def picture_of(session: AsyncSession, message_id: str) -> PostMedia | None:
    """The picture that goes with a message, if one does."""
    found: PostMedia | None = await session.scalar(
        select(PostMedia).where(PostMedia.message_id == message_id).limit(1)
    )
    return found


async def accepted(session: AsyncSession, owner_id: int, sender_id: int) -> bool:
    """Whether ``owner_id`` accepted a message request of ``sender_id``."""
    found = await session.scalar(
        select(MessageSender.sender_id).where(
            MessageSender.owner_id == owner_id, MessageSender.sender_id == sender_id
        )
    )
    return found is not None


@dataclass(frozen=True)
class Loaded:
    message: Message
    copies: list[MessageCopy]
    recipient: User
    links: list[AppLink]
    """The recipient's messengers Portal does not write on, to write on in one's own app."""
    picture: PostMedia | None = None


async def load(
    session: AsyncSession, user: User, message_id: str, *, links: bool = True, bot: bool
) -> Loaded:
    """One of the person's own messages, with its copies; another's is not found, like one
    that does not exist. The links to one's own apps only with ``links`` (they need the
    recipient's card: not for a page that asks again how the copies stand); ``bot`` as for
    :func:`offers`."""
    message = await session.get(Message, message_id) if 0 < len(message_id) <= 24 else None
    if message is None or message.sender_id != user.id:
        raise NotFound(N_("This message does not exist."))
    copies = list(
        await session.scalars(
            select(MessageCopy)
            .where(MessageCopy.message_id == message.id)
            .order_by(MessageCopy.position)
        )
    )
    recipient = await session.get(User, message.recipient_id)
    assert recipient is not None
    found: list[AppLink] = []
    if links:
        with contextlib.suppress(PortalError):  # they may since have closed their door
            offered = await offers(session, user, recipient.number, bot=bot)
            written = {copy.network for copy in copies}
            found = [
                link
                for offer in offered.offers
                if offer.network not in written and (link := offer.app_link(message.text))
            ]
    return Loaded(message, copies, recipient, found, await picture_of(session, message.id))
