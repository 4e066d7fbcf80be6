"""Answers come back: what the recipient of a message wrote back on each messenger a copy
went over, read from the network by the sender's own account and kept with the message.

Each copy that went out on a network that can be read back (``CAN_READ_ANSWERS``) has a
``message_answers`` job of its own. It reads often while the message is young and less and
less as it ages (:data:`SCHEDULE`), then stops. A copy the portal's bot wrote (Telegram) has
no job of its own: its answers come to the bot, whose updates one job reads
(:mod:`portal.domain.posts.telegram_answers`), kept here the same way (:func:`keep`).

The first answer, on any messenger, ends the wait on the others: copies not yet out are
skipped, and those out but unread are withdrawn where the network allows (a Matrix
redaction, an XMPP retraction, a Mastodon status deleted, the bot deleting its Telegram
message while Telegram lets it), each by a ``withdraw_message`` job that reads the copy's own
answers first, so that the recipient is not answered three times. An answer tells the sender
(a notification, which reaches their open pages at once). Where several messages went into
one conversation on a network, each answer belongs to the latest sent before it, once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import connectors
from connectors import base, telegram
from portal.db import session_scope, upsert
from portal.domain import jobs, linking, notifications
from portal.domain.jobs import Claimed
from portal.domain.linking import oauth
from portal.domain.linking.services import LinkServices, label_of
from portal.domain.messages.send import QUEUED, RETRYING, SENT, SKIPPED, WAITING
from portal.domain.posts import acting
from portal.domain.posts.backfeed import BOT, BOT_UPDATES
from portal.storage.messages import Message, MessageAnswer, MessageCopy
from portal.storage.models import LinkedAccount, User, utcnow

log = logging.getLogger(__name__)

READ = "message_answers"
"""The job that reads the answers to one copy (its subject: the copy's id)."""
WITHDRAW = "withdraw_message"
"""The job that takes one unread copy back once the message is answered elsewhere."""
WITHDRAWN = "withdrawn"
FIRST_READ = timedelta(seconds=20)
SCHEDULE: jobs.Schedule = (
    (timedelta(minutes=10), timedelta(seconds=20)),
    (timedelta(hours=1), timedelta(minutes=1)),
    (timedelta(days=1), timedelta(minutes=10)),
    (timedelta(days=7), timedelta(hours=1)),
    (timedelta(days=30), timedelta(hours=6)),
)
"""While a copy is younger than the first, its answers are read every second: every 20
seconds in its first ten minutes, … four times a day in its first month; never after. A
conversation is quick when it is fresh."""
MAX_ATTEMPTS = 6
"""Tries of a withdrawal before the copy is left where it is."""
MAX_TEXT = 20_000


def reads_answers(network: str) -> bool:
    found = connectors.get(network)
    return found is not None and found.CAN_READ_ANSWERS


def withdraws(network: str) -> bool:
    found = connectors.get(network)
    return found is not None and found.CAN_WITHDRAW


def withdrawable(copy: MessageCopy, now: datetime) -> bool:
    """Whether a copy that went out can still be taken back: where its network allows, or,
    the portal's bot's, while Telegram lets the bot delete it."""
    if copy.by_bot:
        return copy.sent_at is not None and now - copy.sent_at < telegram.DELETABLE_FOR
    return withdraws(copy.network)


async def schedule(session: AsyncSession, copy: MessageCopy) -> None:
    """Start reading the answers to a copy that just went out (in the transaction that
    marks it sent): its own job, or, for the bot's, the reading of the bot's updates, by
    then at the latest (the one job may be due sooner for other copies)."""
    first = (copy.sent_at or utcnow()) + FIRST_READ
    if copy.by_bot:
        await jobs.ensure(session, BOT_UPDATES, BOT, run_at=first)
    elif reads_answers(copy.network):
        await jobs.enqueue(session, READ, str(copy.id), run_at=first)


async def keep(
    session: AsyncSession, services: LinkServices, copy: MessageCopy, found: Sequence[base.Answer]
) -> bool:
    """Keep the answers to ``copy`` not kept yet, in the caller's transaction; whether there
    were any. The first answer to the message ends the wait on its other copies, and the
    sender is told."""
    if not found:
        return False
    message = await session.get(Message, copy.message_id)
    if message is None:
        return False
    now = utcnow()
    known = set(
        await session.scalars(
            select(MessageAnswer.remote_id).where(MessageAnswer.copy_id == copy.id)
        )
    )
    fresh = [answer for answer in found if answer.id[:500] not in known]
    if fresh and not copy.by_bot:  # the bot's are the replies to it, and nothing else
        fresh = await _answers_to(session, copy, message, fresh)
    if not fresh:
        return False
    sent_at = copy.sent_at or copy.updated_at
    rows = [
        {
            "message_id": copy.message_id,
            "copy_id": copy.id,
            "remote_id": answer.id[:500],
            "text": answer.text[:MAX_TEXT],
            "url": (answer.url or "")[:2000] or None,
            # Never before the message it answers: a clock behind, or a time kept
            # in whole seconds (an email's), would put it above the message.
            # Nor after now: a hostile server's year 9999 would stay last for ever.
            "written_at": min(max(answer.written_at, sent_at), now),
            "created_at": now,
        }
        for answer in {answer.id[:500]: answer for answer in fresh}.values()
    ]
    # Another read of the same copy (a job taken up again) may have kept some.
    await session.execute(
        upsert(session)(MessageAnswer)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["copy_id", "remote_id"])
    )
    if message.answered_at is None:
        message.answered_at = now
        await end_the_wait(session, message, answered=copy.id)
    sender = await session.get(User, message.sender_id)
    recipient = await session.get(User, message.recipient_id)
    if sender is not None and recipient is not None:
        await notifications.notify(
            session,
            sender,
            notifications.MESSAGE_ANSWERED,
            actor=recipient,
            detail=label_of(copy.network),
            mailer=notifications.Mailer.of(services),
        )
    return True


REPLY_THROUGH_PORTAL = timedelta(minutes=10)
"""How long after the recipient wrote back through Portal its copy may show up on the network
among their messages (a try again, a slow server)."""


async def _answers_to(
    session: AsyncSession, copy: MessageCopy, message: Message, found: Sequence[base.Answer]
) -> list[base.Answer]:
    """Of the recipient's messages a network lists since ``copy`` went out, those that answer
    it. Where several messages went into one conversation there (a Matrix room, an XMPP chat,
    a Bluesky conversation: the same account, the same recipient, the same thread), each of
    theirs belongs to the latest one sent before it, once; and what the recipient wrote back
    through Portal itself, which the network lists among theirs too, is no answer."""
    sent_at = copy.sent_at or copy.updated_at
    same = (
        await session.execute(
            select(MessageCopy.id, MessageCopy.sent_at).where(
                MessageCopy.network == copy.network,
                MessageCopy.sender_account_id == copy.sender_account_id,
                MessageCopy.to_handle == copy.to_handle,
                MessageCopy.thread == copy.thread,
                MessageCopy.by_bot.is_(False),
                MessageCopy.sent_at.is_not(None),
                MessageCopy.id != copy.id,
            )
        )
    ).all()
    later = [at for _, at in same if at is not None and at > sent_at]
    until = min(later) if later else None
    kept = set(
        await session.scalars(
            select(MessageAnswer.remote_id).where(
                MessageAnswer.copy_id.in_([copy_id for copy_id, _ in same])
            )
        )
        if same
        else []
    )
    written_back = set(
        await session.scalars(
            select(Message.text).where(
                Message.sender_id == message.recipient_id,
                Message.recipient_id == message.sender_id,
                Message.created_at >= sent_at - REPLY_THROUGH_PORTAL,
            )
        )
    )
    return [
        answer
        for answer in found
        if (until is None or answer.written_at < until)
        and answer.id[:500] not in kept
        and answer.text.strip() not in written_back
    ]


async def end_the_wait(session: AsyncSession, message: Message, answered: int) -> None:
    """The message is answered: its copies not yet out are not sent, and those out on a
    network that can take a message back are withdrawn unless read."""
    await session.execute(
        update(MessageCopy)
        .where(
            MessageCopy.message_id == message.id,
            MessageCopy.status.in_((WAITING, QUEUED, RETRYING)),
        )
        .values(status=SKIPPED, next_attempt_at=None)
    )
    out = await session.scalars(
        select(MessageCopy).where(
            MessageCopy.message_id == message.id,
            MessageCopy.status == SENT,
            MessageCopy.id != answered,
        )
    )
    now = utcnow()
    for other in out:
        if withdrawable(other, now):
            await jobs.enqueue(session, WITHDRAW, str(other.id))


@dataclass(frozen=True, slots=True)
class _Copy:
    copy_id: int
    message_id: str
    account_id: int | None
    """The sender's account that wrote it; ``None`` for the portal's bot."""
    network: str
    handle: str
    to: str
    delivered: base.Delivered
    credentials: base.Credentials | None
    sent_at: datetime
    by_bot: bool
    account: LinkedAccount | None = None


@dataclass
class Answering:
    """The handlers of ``message_answers`` and ``withdraw_message`` jobs."""

    sessions: async_sessionmaker[AsyncSession]
    services: LinkServices
    listener: Callable[[str, int], None] | None = None
    """Told ``(message id, copy id)`` when a copy's answers or status changed."""

    def handlers(self) -> Mapping[str, jobs.Handler]:
        return {READ: self.read, WITHDRAW: self.withdraw}

    # -- reading --

    async def read(self, job: Claimed) -> float | None:
        copy = await self._copy(int(job.subject))
        if copy is None or copy.by_bot:  # the bot's answers come with its updates
            return None
        if copy.credentials is None:  # to be connected again: read once it is
            return jobs.until_next(SCHEDULE, copy.sent_at)
        try:
            async with self._acting(copy) as instance:
                found = await instance.answers(copy.to, copy.delivered, copy.sent_at)
        except base.RateLimited as error:
            return max(error.retry_after or 0.0, self._every(copy))
        except (base.Retriable, httpx.HTTPError) as error:
            log.info("answers to message copy %s: %s", copy.copy_id, error)
            return self._every(copy)
        except base.AuthRevoked:
            await self._revoked(copy)
            return jobs.until_next(SCHEDULE, copy.sent_at)
        except base.ConnectorError as error:  # the network will not tell
            log.info("answers to message copy %s no longer read: %s", copy.copy_id, error)
            return None
        if await self._keep(copy, found):
            self._tell(copy)
        return jobs.until_next(SCHEDULE, copy.sent_at)

    def _every(self, copy: _Copy) -> float:
        return jobs.after_failure(SCHEDULE, copy.sent_at, at_least=30.0)

    async def _copy(self, copy_id: int) -> _Copy | None:
        """A copy that went out, with the sender's account that wrote it (none for the
        portal's bot's)."""
        async with session_scope(self.sessions) as session:
            copy = await session.get(MessageCopy, copy_id)
            if copy is None or copy.status != SENT or not copy.remote_id:
                return None
            found = _Copy(
                copy_id=copy.id,
                message_id=copy.message_id,
                account_id=None,
                network=copy.network,
                handle="",
                to=copy.to_handle,
                delivered=base.Delivered(copy.remote_id, copy.thread),
                credentials=None,
                sent_at=copy.sent_at or copy.updated_at,
                by_bot=copy.by_bot,
            )
            if copy.by_bot:
                return found
            account = (
                await session.get(LinkedAccount, copy.sender_account_id)
                if copy.sender_account_id is not None
                else None
            )
            if account is None:  # unlinked: nothing reads for it any more
                return None
            credentials = (
                linking.load_credentials(self.services, account)
                if account.status == linking.VERIFIED
                else None
            )
            return dataclasses.replace(
                found,
                account_id=account.id,
                network=account.network,
                handle=account.handle,
                credentials=credentials,
                account=account,
            )

    @contextlib.asynccontextmanager
    async def _acting(self, copy: _Copy) -> AsyncIterator[base.Connector]:
        """The sender's account on the copy's network (:func:`acting.acting_for`)."""
        assert copy.account is not None
        assert copy.credentials is not None
        async with acting.acting_for(
            self.sessions, self.services, copy.account, copy.credentials
        ) as instance:
            yield instance

    async def _revoked(self, copy: _Copy) -> None:
        async with session_scope(self.sessions, writing=True) as session:
            account = (
                await session.get(LinkedAccount, copy.account_id)
                if copy.account_id is not None
                else None
            )
            if account is not None:
                await oauth.connection_lost(session, self.services, account)

    async def _keep(self, copy: _Copy, found: Sequence[base.Answer]) -> bool:
        """:func:`keep`, in a transaction of its own."""
        if not found:
            return False
        async with session_scope(self.sessions, writing=True) as session:
            row = await session.get(MessageCopy, copy.copy_id)
            return row is not None and await keep(session, self.services, row, found)

    # -- withdrawing --

    async def withdraw(self, job: Claimed) -> float | None:
        copy = await self._copy(int(job.subject))
        if copy is None:
            return None
        async with session_scope(self.sessions) as session:
            answered = await session.scalar(
                select(MessageAnswer.id).where(MessageAnswer.copy_id == copy.copy_id).limit(1)
            )
        if answered is not None:  # answered here too: it was read
            return None
        if copy.credentials is None and not copy.by_bot:
            return None  # the account cannot act: the copy stays
        try:
            if copy.by_bot:
                # Telegram does not tell the bot whether it was read: taken back all the same.
                async with self.services.http() as http:
                    token = self.services.telegram_bot_token
                    await telegram.take_back(http, token, copy.delivered)
            else:
                async with self._acting(copy) as instance:
                    # An answer here not read yet: the copy was read, and its answer is
                    # kept, not lost with it.
                    if instance.CAN_READ_ANSWERS:
                        found = await instance.answers(copy.to, copy.delivered, copy.sent_at)
                        if found and await self._keep(copy, found):
                            self._tell(copy)
                            return None
                    if await instance.message_read(copy.to, copy.delivered):
                        return None  # read: taking it back would confuse, not spare them
                    await instance.withdraw_message(copy.to, copy.delivered)
        except base.RateLimited as error:
            return self._again(job, error.retry_after)
        except (base.Retriable, httpx.HTTPError) as error:
            log.info("withdrawing message copy %s: %s", copy.copy_id, error)
            return self._again(job, None)
        except base.AuthRevoked:
            await self._revoked(copy)
            return None
        except base.ConnectorError as error:
            log.info("message copy %s cannot be withdrawn: %s", copy.copy_id, error)
            return None
        async with session_scope(self.sessions, writing=True) as session:
            row = await session.get(MessageCopy, copy.copy_id)
            if row is not None and row.status == SENT:
                row.status = WITHDRAWN
        self._tell(copy)
        return None

    def _again(self, job: Claimed, retry_after: float | None) -> float | None:
        if job.attempts >= MAX_ATTEMPTS:
            return None
        return retry_after or jobs.backoff(job.attempts)

    def _tell(self, copy: _Copy) -> None:
        if self.listener is not None:
            self.listener(copy.message_id, copy.copy_id)
