"""Delivering one copy of a message: the handler of ``send_message`` jobs.

Like a post's delivery (``portal.domain.posts.deliver``): the copy is read and marked
*sending* in one short transaction, the network is called with no transaction open, and what
it answered is recorded together with the end of the job. The copy's key goes with every try
(a Matrix transaction id, an XMPP message id), so that a try repeated after a lost answer is
the same message. A failure that may pass is tried again later, backing off; one that will
not is said in words. For a message to the ``first`` that delivers, a copy delivered skips
the ones after it, and a copy that fails hands over to the next at once: the next messenger
now is sooner than this one in a while.

A copy the portal's bot writes (Telegram, ``MessageCopy.by_bot``) goes into the recipient's
private chat with the bot, introduced with the sender's name as the recipient's card of them
shows it and their number, in the recipient's language. Telegram takes no key: a try after
one whose answer was lost writes the message again, and the recipient may see it twice
(:mod:`connectors.telegram._direct`); what Telegram answered is recorded at once, so only a
stop in that moment can do it. A recipient who has not let the bot write to them is said in
words, and for the ``first`` that delivers the next messenger goes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors import base, telegram
from portal import i18n
from portal.db import session_scope
from portal.domain import jobs, linking, privacy, relations
from portal.domain import number as numbers
from portal.domain.jobs import Claimed
from portal.domain.linking import oauth
from portal.domain.linking.services import LinkServices, label_of
from portal.domain.messages import answers
from portal.domain.messages.send import (
    FAILED,
    QUEUED,
    RETRYING,
    SEND,
    SENDING,
    SENT,
    SKIPPED,
    WAITING,
    bot_chat,
    picture_of,
)
from portal.domain.posts import acting, public_pictures
from portal.errors import N_
from portal.storage.messages import Message, MessageCopy
from portal.storage.models import LinkedAccount, User, utcnow
from portal.storage.posts import PostMedia

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
UNLINKED = N_("Your account on this messenger is no longer linked to your number.")
RECONNECT = N_("%(network)s no longer lets Portal write for this account: reconnect it.")
UNREACHABLE = N_("%(network)s could not be reached.")
GAVE_UP = N_("%(network)s could not be reached after %(attempts)d tries.")
NO_BOT = N_("This portal no longer has a Telegram bot to write with.")
NOT_THEIRS_NOW = N_("Their account on this messenger is no longer linked to their number.")
NOT_ALLOWED = N_("%(name)s has not allowed Portal's bot to write to them on Telegram.")
NOT_ALLOWED_UNNAMED = N_("This person has not allowed Portal's bot to write to them on Telegram.")
INTRODUCED = N_("%(name)s (Portal %(number)s) writes:")
INTRODUCED_UNNAMED = N_("Portal %(number)s writes:")
"""The first line of a message the portal's bot writes: who writes, as the recipient knows
them."""
MAX_NAME = 64
"""The most of a name the introduction shows."""

Listener = Callable[[str, int], None]
"""Told ``(message id, copy id)`` after a copy's status changed (the live page)."""


@dataclass(frozen=True, slots=True)
class _Work:
    copy_id: int
    message_id: str
    network: str
    account: LinkedAccount | None
    """The sender's account that writes; ``None``: the portal's bot."""
    credentials: base.Credentials | None
    to: str
    """The recipient's handle; for the bot, its chat with them."""
    text: str
    key: str
    attempts: int
    first: bool
    """The message goes to the first messenger that delivers."""
    not_allowed: str = ""
    """What to say when the recipient does not let the bot write to them."""
    picture: base.Upload | None = None
    """The picture that goes with the text, with its address for a messenger that takes none."""


@dataclass
class Sending:
    """The handler of ``send_message`` jobs."""

    sessions: async_sessionmaker[AsyncSession]
    services: LinkServices
    max_attempts: int = MAX_ATTEMPTS
    listener: Listener | None = None

    def handlers(self) -> Mapping[str, jobs.Handler]:
        return {SEND: self.send}

    async def send(self, job: Claimed) -> float | jobs.Ended | None:
        work = await self._start(job)
        if work is None:
            return jobs.ENDED
        label = label_of(work.network)
        try:
            delivered = await self._deliver(work)
        except telegram.NotAllowed:
            await self._fail(work, job, work.not_allowed)
            return jobs.ENDED
        except (base.RateLimited, base.Retriable, httpx.HTTPError) as error:
            log.info("message copy %s: %s", work.copy_id, error)
            said = error.message if isinstance(error, base.ConnectorError) else ""
            reason = said or UNREACHABLE % {"network": label}
            if work.first:  # the next messenger now beats this one in a while
                await self._fail(work, job, reason)
                return jobs.ENDED
            if isinstance(error, base.RateLimited):
                wait = error.retry_after
                return await self._later(work, wait or jobs.backoff(work.attempts), reason)
            if work.attempts >= self.max_attempts:
                await self._fail(work, job, GAVE_UP % {"network": label, "attempts": work.attempts})
                return jobs.ENDED
            return await self._later(work, jobs.backoff(work.attempts), reason)
        except base.AuthRevoked:
            await self._fail(work, job, RECONNECT % {"network": label}, revoked=True)
            return jobs.ENDED
        except base.ConnectorError as error:
            await self._fail(work, job, error.message)
            return jobs.ENDED
        await self._record(work, job, delivered)
        return jobs.ENDED

    async def _deliver(self, work: _Work) -> base.Delivered:
        """The network's call, with no transaction open."""
        if work.account is None:
            # No key to send: a try after a lost answer may write it twice (module doc).
            async with self.services.http() as http:
                token = self.services.telegram_bot_token
                return await telegram.write(http, token, work.to, work.text, picture=work.picture)
        assert work.credentials is not None
        async with acting.acting_for(
            self.sessions, self.services, work.account, work.credentials
        ) as instance:
            # A try after the first may follow one that went out unrecorded.
            return await instance.send_message(
                work.to, work.text, work.key, again=work.attempts > 1, picture=work.picture
            )

    async def _start(self, job: Claimed) -> _Work | None:
        async with session_scope(self.sessions, writing=True) as session:
            copy = await session.get(MessageCopy, int(job.subject))
            message = await session.get(Message, copy.message_id) if copy else None
            if copy is None or message is None or copy.status not in (QUEUED, RETRYING, SENDING):
                await jobs.finish(session, job)
                return None
            if (
                message.dropped
                or message.state
                or await relations.is_blocked(session, message.recipient_id, message.sender_id)
            ):
                # Held (a request), or from someone the recipient blocked since it was
                # written: it does not go, and its writer is not told.
                message.dropped = message.dropped or not message.state
                copy.status = QUEUED if copy.status == SENDING else copy.status
                await jobs.finish(session, job)
                return None
            work = await (self._by_bot if copy.by_bot else self._by_account)(session, copy, message)
            if isinstance(work, str):  # it cannot go: why
                await self._failed_in(session, copy, message, work)
                await jobs.finish(session, job)
                return None
            copy.status, copy.error, copy.next_attempt_at = SENDING, "", None
            copy.attempts = work.attempts
            media = await picture_of(session, message.id)
            if media is not None:
                work = replace(work, picture=self._picture(media, message))
        self._tell(work.message_id, work.copy_id)
        return work

    def _picture(self, media: PostMedia, message: Message) -> base.Upload:
        """A message's picture as a connector takes it, with the address that opens it for
        anyone a while (:data:`~portal.domain.posts.public_pictures.MESSAGE_LIFETIME`)."""
        secret, base_url = self.services.picture_secret, self.services.base_url.rstrip("/")
        return base.Upload(
            data=media.data,
            mime_type=media.mime_type,
            description=media.description,
            width=media.width,
            height=media.height,
            id=media.id,
            url=(
                public_pictures.message_address(
                    base_url, media.id, secret, message.created_at.timestamp()
                )
                if secret
                else ""
            ),
        )

    async def _by_account(
        self, session: AsyncSession, copy: MessageCopy, message: Message
    ) -> _Work | str:
        """The work of a copy from the sender's own account, or why it cannot go."""
        account = (
            await session.get(LinkedAccount, copy.sender_account_id)
            if copy.sender_account_id is not None
            else None
        )
        if account is None:
            return UNLINKED
        credentials = linking.load_credentials(self.services, account)
        if credentials is None or account.status != linking.VERIFIED:
            return RECONNECT % {"network": label_of(account.network)}
        if await _theirs_now(session, copy, message) is None:
            return NOT_THEIRS_NOW
        return _Work(
            copy_id=copy.id,
            message_id=message.id,
            network=account.network,
            account=account,
            credentials=credentials,
            to=copy.to_handle,
            text=message.text,
            key=copy.key,
            attempts=copy.attempts + 1,
            first=message.mode == "first",
        )

    async def _by_bot(
        self, session: AsyncSession, copy: MessageCopy, message: Message
    ) -> _Work | str:
        """The work of a copy the portal's bot writes, or why it cannot go: to the
        recipient's account as it is now (not written to once unlinked), introduced."""
        if not self.services.telegram_bot_token:
            return NO_BOT
        account = await _theirs_now(session, copy, message)
        chat = bot_chat(account) if account is not None else None
        sender = await session.get(User, message.sender_id)
        recipient = await session.get(User, message.recipient_id)
        if chat is None:
            return NOT_THEIRS_NOW
        if sender is None or recipient is None:  # gone, and the message with them
            return NOT_THEIRS_NOW
        [theirs] = await privacy.cards_for(session, sender, [recipient])
        name = _short(theirs.display_name)
        return _Work(
            copy_id=copy.id,
            message_id=message.id,
            network=copy.network,
            account=None,
            credentials=None,
            to=chat,
            text=await introduced(session, sender, recipient, message.text),
            key=copy.key,
            attempts=copy.attempts + 1,
            first=message.mode == "first",
            not_allowed=NOT_ALLOWED % {"name": name} if name else NOT_ALLOWED_UNNAMED,
        )

    async def _record(self, work: _Work, job: Claimed, delivered: base.Delivered) -> None:
        """The copy is delivered: its remote id and where its answers come, the reading of
        them planned, and, for the first that delivers, the copies after it skipped; the job
        ends in the same transaction."""
        async with session_scope(self.sessions, writing=True) as session:
            copy = await session.get(MessageCopy, work.copy_id)
            message = await session.get(Message, work.message_id)
            if copy is not None:
                copy.status, copy.error = SENT, ""
                copy.remote_id, copy.sent_at = delivered.id[:500], utcnow()
                copy.thread = delivered.thread[:500]
                await answers.schedule(session, copy)
            if message is not None and message.mode == "first":
                await session.execute(
                    update(MessageCopy)
                    .where(MessageCopy.message_id == message.id, MessageCopy.status == WAITING)
                    .values(status=SKIPPED)
                )
            await jobs.finish(session, job)
        self._tell(work.message_id, work.copy_id)

    async def _later(self, work: _Work, seconds: float, reason: str) -> float:
        async with session_scope(self.sessions, writing=True) as session:
            copy = await session.get(MessageCopy, work.copy_id)
            if copy is not None and copy.status == SENDING:
                copy.status, copy.error = RETRYING, reason[:500]
                copy.next_attempt_at = utcnow() + timedelta(seconds=seconds)
        self._tell(work.message_id, work.copy_id)
        return seconds

    async def _fail(self, work: _Work, job: Claimed, reason: str, *, revoked: bool = False) -> None:
        async with session_scope(self.sessions, writing=True) as session:
            copy = await session.get(MessageCopy, work.copy_id)
            message = await session.get(Message, work.message_id)
            if copy is not None and message is not None:
                await self._failed_in(session, copy, message, reason)
            if revoked and work.account is not None:
                account = await session.get(LinkedAccount, work.account.id)
                if account is not None:
                    await oauth.connection_lost(session, self.services, account)
            await jobs.finish(session, job)
        self._tell(work.message_id, work.copy_id)

    async def _failed_in(
        self, session: AsyncSession, copy: MessageCopy, message: Message, reason: str
    ) -> None:
        """The copy failed for good; for the first that delivers, the next one goes."""
        copy.status, copy.error, copy.next_attempt_at = FAILED, reason[:500], None
        if message.mode != "first":
            return
        after = await session.scalar(
            select(MessageCopy)
            .where(MessageCopy.message_id == message.id, MessageCopy.status == WAITING)
            .order_by(MessageCopy.position)
            .limit(1)
        )
        if after is not None:
            after.status = QUEUED
            await session.flush()
            await jobs.enqueue(session, SEND, str(after.id))

    def _tell(self, message_id: str, copy_id: int) -> None:
        if self.listener is not None:
            self.listener(message_id, copy_id)


async def _theirs_now(
    session: AsyncSession, copy: MessageCopy, message: Message
) -> LinkedAccount | None:
    """The recipient's account a copy goes to, as it is now: still theirs, proven, and the
    handle the copy was written to. A message held a while (a request) never goes to a
    handle they gave up since, nor to one someone else proved."""
    theirs = (
        await session.get(LinkedAccount, copy.recipient_account_id)
        if copy.recipient_account_id is not None
        else None
    )
    if (
        theirs is None
        or theirs.user_id != message.recipient_id
        or theirs.status != linking.VERIFIED
        or theirs.handle != copy.to_handle
    ):
        return None
    return theirs


async def introduced(session: AsyncSession, sender: User, recipient: User, text: str) -> str:
    """``text`` as the portal's bot writes it to ``recipient``: after who wrote it, by the name
    ``recipient``'s card of the sender shows (none where it shows none) and their number, in
    ``recipient``'s language."""
    [card] = await privacy.cards_for(session, recipient, [sender])
    name = _short(card.display_name)
    number = numbers.display(sender.number)
    language = recipient.language or i18n.DEFAULT
    head = (
        i18n.translate(language, INTRODUCED, {"name": name, "number": number})
        if name
        else i18n.translate(language, INTRODUCED_UNNAMED, {"number": number})
    )
    return f"{head}\n\n{text}"


def _short(name: str | None) -> str:
    """A name on one line, at most :data:`MAX_NAME` characters."""
    return " ".join((name or "").split())[:MAX_NAME].strip()
