"""Delivering one copy of a message: the handler of ``send_message`` jobs.

Like a post's delivery (``portal.domain.posts.deliver``): the copy is read and marked
*sending* in one short transaction, the network is called with no transaction open, and what
it answered is recorded together with the end of the job. The copy's key goes with every try
(a Matrix transaction id, an XMPP message id), so that a try repeated after a lost answer is
the same message. A failure that may pass is tried again later, backing off; one that will
not is said in words. For a message to the ``first`` that delivers, a copy delivered skips
the ones after it, and a copy that fails hands over to the next at once: the next messenger
now is sooner than this one in a while.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors import base
from portal.db import session_scope
from portal.domain import jobs, linking
from portal.domain.jobs import Claimed
from portal.domain.linking import oauth
from portal.domain.linking.services import LinkServices, connector
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
)
from portal.domain.posts import acting
from portal.errors import N_
from portal.storage.messages import Message, MessageCopy
from portal.storage.models import LinkedAccount, utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
UNLINKED = N_("Your account on this messenger is no longer linked to your number.")
RECONNECT = N_("%(network)s no longer lets Portal write for this account: reconnect it.")
UNREACHABLE = N_("%(network)s could not be reached.")
GAVE_UP = N_("%(network)s could not be reached after %(attempts)d tries.")

Listener = Callable[[str, int], None]
"""Told ``(message id, copy id)`` after a copy's status changed (the live page)."""


@dataclass(frozen=True, slots=True)
class _Work:
    copy_id: int
    message_id: str
    account: LinkedAccount
    credentials: base.Credentials
    to: str
    text: str
    key: str
    attempts: int
    first: bool
    """The message goes to the first messenger that delivers."""


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
        cls = connector(work.account.network)
        try:
            async with self.services.http() as http:
                instance = cls(
                    work.account.handle, work.credentials, http, context=self.services.context
                )
                try:
                    # A try after the first may follow one that went out unrecorded.
                    delivered = await instance.send_message(
                        work.to, work.text, work.key, again=work.attempts > 1
                    )
                finally:
                    await acting.keep_renewed(
                        self.sessions, self.services, work.account.id, work.credentials, instance
                    )
        except (base.RateLimited, base.Retriable, httpx.HTTPError) as error:
            log.info("message copy %s: %s", work.copy_id, error)
            said = error.message if isinstance(error, base.ConnectorError) else ""
            reason = said or UNREACHABLE % {"network": cls.LABEL}
            if work.first:  # the next messenger now beats this one in a while
                await self._fail(work, job, reason)
                return jobs.ENDED
            if isinstance(error, base.RateLimited):
                wait = error.retry_after
                return await self._later(work, wait or jobs.backoff(work.attempts), reason)
            if work.attempts >= self.max_attempts:
                await self._fail(
                    work, job, GAVE_UP % {"network": cls.LABEL, "attempts": work.attempts}
                )
                return jobs.ENDED
            return await self._later(work, jobs.backoff(work.attempts), reason)
        except base.AuthRevoked:
            await self._fail(work, job, RECONNECT % {"network": cls.LABEL}, revoked=True)
            return jobs.ENDED
        except base.ConnectorError as error:
            await self._fail(work, job, error.message)
            return jobs.ENDED
        await self._record(work, job, delivered)
        return jobs.ENDED

    async def _start(self, job: Claimed) -> _Work | None:
        async with session_scope(self.sessions, writing=True) as session:
            copy = await session.get(MessageCopy, int(job.subject))
            message = await session.get(Message, copy.message_id) if copy else None
            if copy is None or message is None or copy.status not in (QUEUED, RETRYING, SENDING):
                await jobs.finish(session, job)
                return None
            account = (
                await session.get(LinkedAccount, copy.sender_account_id)
                if copy.sender_account_id is not None
                else None
            )
            credentials = (
                linking.load_credentials(self.services, account) if account is not None else None
            )
            if account is None or credentials is None or account.status != linking.VERIFIED:
                reason = (
                    UNLINKED
                    if account is None
                    else RECONNECT % {"network": connector(account.network).LABEL}
                )
                await self._failed_in(session, copy, message, reason)
                await jobs.finish(session, job)
                return None
            copy.status, copy.error, copy.next_attempt_at = SENDING, "", None
            copy.attempts += 1
            work = _Work(
                copy_id=copy.id,
                message_id=message.id,
                account=account,
                credentials=credentials,
                to=copy.to_handle,
                text=message.text,
                key=copy.key,
                attempts=copy.attempts,
                first=message.mode == "first",
            )
        self._tell(work.message_id, work.copy_id)
        return work

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
            if revoked:
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
