"""Delivering a post to one target, exactly once, and taking it down again: the jobs'
handlers (``portal.domain.jobs``).

Exactly once, whatever crashes: a delivery publishes its parts one by one (a thread has
several), and records each part's remote id in a transaction of its own as soon as the
network answered, before the next part and before the job ends. A worker that dies between
"published" and "recorded" leaves the job to be claimed again; the next run skips the parts
recorded and publishes the others with the same idempotency key as before (``<key>.<part>``),
which each connector turns into no second copy: Mastodon's ``Idempotency-Key``, a Bluesky
record key derived from it, a Matrix transaction id (``connectors.base.Connector.publish``).

No transaction is open while a network is called: the database is read and marked first, and
written after, each in a short transaction. On SQLite every transaction that writes waits its
turn for the one writer, so a delivery writes no more than it must: it reads and marks itself
*sending* in one, records every part but the last in one each, and records its last part, marks
itself *sent* and hands its job on in one: only if this worker still holds it, the job's row
becomes the reading of the copy's answers (:func:`portal.domain.jobs.finish_then`), or goes.
A delivery with nothing to do, or that fails for good, ends its job in the transaction that
says so. The starts and the records of deliveries that run at once (a post fanned out to ten
networks) share their transactions and their statements
(:meth:`portal.db.WritesTogether.write_many`): ten networks cost about two write turns and a
few statements more than one, not twenty turns.

A post deleted while a copy is being sent: the part on its way may be out a moment later, and
only the worker will know its id. So the copy becomes *deleting* and keeps its ``deliver``
job (:func:`portal.domain.posts.compose.delete`); the worker records the part, asks for the
take-down and ends its job, all in one transaction, and publishes nothing more. The take-down
waits while that job is there. A worker that stops before recording leaves the job to run
again, and that run sends the part once more with the same key, to learn what went out.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

import httpx
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors import base
from portal.db import WritesTogether, session_scope
from portal.domain import jobs, linking
from portal.domain.jobs import Claimed
from portal.domain.linking import oauth
from portal.domain.linking.services import LinkServices, connector
from portal.domain.posts import acting, backfeed
from portal.domain.posts.compose import (
    DELETED,
    DELETING,
    DELIVER,
    FAILED,
    RETRYING,
    SCHEDULED,
    SENDING,
    SENT,
    TAKE_DOWN,
    UNDER_WAY,
    full_text_url,
    parts_of,
    version_for,
)
from portal.errors import N_, PortalError
from portal.storage.models import LinkedAccount, utcnow
from portal.storage.posts import Delivery, Post, PostMedia

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
"""Tries of a delivery that keeps failing for reasons that pass (about an hour, backing off)."""
UNLINKED = N_("This account is no longer linked to your number.")
RECONNECT = N_("%(network)s no longer lets Portal publish for this account: reconnect it.")
UNREACHABLE = N_("%(network)s could not be reached.")
GAVE_UP = N_("%(network)s could not be reached after %(attempts)d tries.")


@dataclass(frozen=True, slots=True)
class _Work:
    """What one run of a delivery needs, read before the network is called."""

    delivery_id: int
    account: LinkedAccount
    """As read when the delivery started (detached: its columns only)."""
    text: str
    content_warning: str
    fit: str
    destination: str
    key: str
    post_id: str
    parts: list[base.Published]
    uploads: tuple[base.Upload, ...]
    credentials: base.Credentials | None
    attempts: int


_READ = (
    select(Delivery, Post, LinkedAccount)
    .join(Post, Post.id == Delivery.post_id)
    .outerjoin(LinkedAccount, LinkedAccount.id == Delivery.account_id)
    .where(Delivery.id.in_(bindparam("deliveries", expanding=True)))
)
"""Deliveries, each with its post and its account: one query, built once, for the
transaction that starts them."""
_PICTURES = (
    select(PostMedia)
    .where(PostMedia.post_id.in_(bindparam("posts", expanding=True)))
    .order_by(PostMedia.post_id, PostMedia.position)
)
"""The pictures of their posts, in order: each read once, however many copies go out."""
_DELIVERIES = cast(Table, Delivery.__table__)
"""The table itself, for statements run once for each of several deliveries."""

Listener = Callable[[str, int], None]
"""Told ``(post id, delivery id)`` after a delivery's status changed (the live page)."""


@dataclass
class Delivering:
    """The handlers of the ``deliver`` and ``take_down`` jobs."""

    sessions: async_sessionmaker[AsyncSession]
    services: LinkServices
    max_attempts: int = MAX_ATTEMPTS
    listener: Listener | None = None
    _writes: WritesTogether = field(init=False)

    def __post_init__(self) -> None:
        self._writes = WritesTogether(self.sessions)

    def handlers(self) -> Mapping[str, jobs.Handler]:
        return {DELIVER: self.deliver, TAKE_DOWN: self.take_down}

    # -- publishing --

    async def deliver(self, job: Claimed) -> float | jobs.Ended | None:
        work = await self._start(job)
        if work is None:
            return jobs.ENDED
        cls = connector(work.account.network)
        label = cls.LABEL
        try:
            async with self.services.http() as http:
                instance = cls(
                    work.account.handle,
                    work.credentials or base.Credentials(),
                    http,
                    context=self.services.context,
                )
                try:
                    await self._publish(instance, work, job)
                finally:
                    await acting.keep_renewed(
                        self.sessions, self.services, work.account.id, work.credentials, instance
                    )
        except base.RateLimited as error:
            wait = (
                error.retry_after if error.retry_after is not None else jobs.backoff(work.attempts)
            )
            return await self._later(work, wait, error.message)
        except (base.Retriable, httpx.HTTPError) as error:
            log.info("delivery %s: %s", work.delivery_id, error)
            if work.attempts >= self.max_attempts:
                await self._fail(work, job, GAVE_UP, network=label, attempts=work.attempts)
                return jobs.ENDED
            message = error.message if isinstance(error, base.ConnectorError) else ""
            return await self._later(
                work, jobs.backoff(work.attempts), message or UNREACHABLE % {"network": label}
            )
        except base.AuthRevoked:
            await self._fail(work, job, RECONNECT, network=label, revoked=True)
            return jobs.ENDED
        except base.ConnectorError as error:
            await self._fail(work, job, error.message)
            return jobs.ENDED
        except PortalError as error:
            await self._fail(work, job, error.message)
            return jobs.ENDED
        except _Stopped:
            self._tell(work)
            return jobs.ENDED
        self._tell(work)
        return jobs.ENDED

    async def _start(self, job: Claimed, *, refresh: bool = True) -> _Work | None:
        """Read what the delivery needs and mark it *sending*; ``None`` when it has nothing
        to do (sent already, cancelled, its post deleted, its account unlinked), the job
        ended then in the same transaction. An OAuth token that expires soon is renewed
        first, outside it (that calls the account's server). Deliveries that start at once
        start in one transaction (:class:`~portal.db.WritesTogether`)."""
        begun = await self._writes.write_many(self._begin, (job, refresh))
        if isinstance(begun, _Renew):  # renew the token, then start again with the new one
            await acting.renew_token(self.sessions, self.services, begun.account_id)
            return await self._start(job, refresh=False)
        if begun is not None:
            self._tell(begun)
        return begun

    async def _begin(
        self, session: AsyncSession, starting: list[tuple[Claimed, bool]]
    ) -> list[_Work | _Renew | None]:
        """:meth:`_start`'s transaction, for every delivery that starts in it: what they
        need is read in two queries for all of them."""
        ids = [int(job.subject) for job, _ in starting]
        read = {row[0].id: row for row in await session.execute(_READ, {"deliveries": ids})}
        posts = sorted({row[1].id for row in read.values()})
        pictures: dict[str, list[PostMedia]] = {}
        if posts:
            for picture in await session.scalars(_PICTURES, {"posts": posts}):
                pictures.setdefault(picture.post_id or "", []).append(picture)
        started = []
        for job, refresh in starting:
            found = read.get(int(job.subject))
            delivery, post, account = found if found is not None else (None, None, None)
            media = pictures.get(post.id, []) if post is not None else []
            started.append(
                await self._begin_one(session, job, refresh, delivery, post, account, media)
            )
        return started

    async def _begin_one(
        self,
        session: AsyncSession,
        job: Claimed,
        refresh: bool,
        delivery: Delivery | None,
        post: Post | None,
        account: LinkedAccount | None,
        media: list[PostMedia],
    ) -> _Work | _Renew | None:
        if delivery is None or post is None or not _to_send(delivery, post):
            await jobs.finish(session, job)
            return None
        if account is None or account.status != linking.VERIFIED:
            if delivery.status != DELETING:  # else its take-down tells what became of it
                _failed(delivery, _unusable(account))
            await jobs.finish(session, job)
            return None
        cls = connector(account.network)
        credentials = linking.load_credentials(self.services, account)
        if refresh and oauth.refresh_due(cls, account, credentials):
            return _Renew(account.id)
        return _mark(delivery, post, account, media, credentials)

    async def _publish(self, instance: base.Connector, work: _Work, job: Claimed) -> None:
        """Publish the parts not published yet, recording each as soon as it is out, the
        last one together with the end of the delivery and of its job."""
        rules = await instance.post_rules()
        version = version_for(
            work.account,
            work.text,
            fit="shorten" if work.fit == "shorten" else "thread",
            media=len(work.uploads),
            content_warning=work.content_warning,
            full_text_url=full_text_url(self.services.base_url, work.post_id),
            rules=rules,
        )
        if version.problems:
            raise base.PermanentError(version.problems[0])
        done = list(work.parts)
        parts = version.parts or ("",)  # pictures alone: one post of them, with no text
        for index, text in enumerate(parts):
            if index < len(done):
                continue
            draft = base.Draft(
                text,
                content_warning=work.content_warning if rules.content_warning else "",
                uploads=work.uploads if index == 0 else (),
                destination=work.destination,
                reply_to=base.Thread(done[0], done[-1]) if done else None,
            )
            done.append(await instance.publish(draft, f"{work.key}.{index}"))
            if len(done) < len(parts):
                await self._record(work, done, job)
        await self._record(work, done, job, last=True)

    async def _record(
        self, work: _Work, done: list[base.Published], job: Claimed, *, last: bool = False
    ) -> None:
        """Keep the parts out so far, and with the ``last`` mark the delivery *sent* and end
        its job. Stop (the job ended too) if the delivery was cancelled meanwhile: it keeps
        its parts, to be continued or taken down. If its post was deleted meanwhile, what
        went out is taken down: the delivery stays, or is again, *deleting*, and its
        ``take_down`` job is due now, whatever a take-down found before."""
        if await self._writes.write_many(_record_in, _Record(work, list(done), job, last)):
            raise _Stopped

    async def _later(self, work: _Work, seconds: float, reason: str) -> float:
        async with session_scope(self.sessions, writing=True) as session:
            delivery = await session.get(Delivery, work.delivery_id)
            if delivery is not None and delivery.status == SENDING:
                delivery.status, delivery.error = RETRYING, reason[:500]
                delivery.next_attempt_at = utcnow() + timedelta(seconds=seconds)
        self._tell(work)
        return seconds

    async def _fail(
        self, work: _Work, job: Claimed, message: str, *, revoked: bool = False, **params: object
    ) -> None:
        """The delivery failed for good: say why, and end its job in the same transaction."""
        async with session_scope(self.sessions, writing=True) as session:
            delivery = await session.get(Delivery, work.delivery_id)
            if delivery is not None and delivery.status == SENDING:
                _failed(delivery, message % params if params else message)
            if revoked:
                account = await session.get(LinkedAccount, work.account.id)
                if account is not None:
                    await oauth.connection_lost(session, self.services, account)
            await jobs.finish(session, job)
        self._tell(work)

    # -- taking down --

    async def take_down(self, job: Claimed) -> float | None:
        """Delete a delivery's parts from the network, last first, where it allows.

        Not while its ``deliver`` job is there: a worker may be publishing a part right now,
        or run the job again after one that stopped; the parts read now would miss that one,
        and the copy would be called deleted while it is out. The job's end records the part
        and makes this job due; until then it waits for the job's lease (read first, so
        that once the job is gone, the parts recorded with its end are read too)."""
        async with session_scope(self.sessions) as session:
            sending = await jobs.free_at(session, DELIVER, job.subject)
            if sending is not None:
                return max((sending - utcnow()).total_seconds(), 1.0)
            delivery = await session.get(Delivery, int(job.subject))
            if delivery is None or delivery.status != DELETING:
                return None
            account = (
                await session.get(LinkedAccount, delivery.account_id)
                if delivery.account_id is not None
                else None
            )
            parts = parts_of(delivery)
            credentials = (
                linking.load_credentials(self.services, account) if account is not None else None
            )
            destination = delivery.destination
        cls = connector(delivery.network)
        if account is None or credentials is None or not cls.CAN_DELETE:
            reason = (
                N_("%(network)s does not let apps delete posts: delete it there.")
                if not cls.CAN_DELETE
                else UNLINKED
            )
            await self._set(delivery.id, SENT, reason % {"network": cls.LABEL})
            return None
        try:
            async with self.services.http() as http:
                instance = cls(account.handle, credentials, http, context=self.services.context)
                for part in reversed(parts):
                    await instance.delete_post(part, destination)
        except base.RateLimited as error:
            return error.retry_after or jobs.backoff(job.attempts)
        except (base.Retriable, httpx.HTTPError):
            if job.attempts >= self.max_attempts:
                await self._set(delivery.id, SENT, UNREACHABLE % {"network": cls.LABEL})
                return None
            return jobs.backoff(job.attempts)
        except base.ConnectorError as error:
            await self._set(delivery.id, SENT, error.message)
            return None
        return None if await self._set(delivery.id, DELETED, "", unless_more=parts) else 0.0

    async def _set(
        self,
        delivery_id: int,
        status: str,
        error: str,
        *,
        unless_more: list[base.Published] | None = None,
    ) -> bool:
        """Set the delivery's status; not if it has parts besides ``unless_more`` (one
        recorded since they were read, by a worker late after losing its lease), to take
        that one down too: ``False`` then."""
        async with session_scope(self.sessions, writing=True) as session:
            delivery = await session.get(Delivery, delivery_id)
            if delivery is None:
                return True
            if unless_more is not None and parts_of(delivery) != unless_more:
                return False
            delivery.status, delivery.error = status, error[:500]
            post_id = delivery.post_id
        if self.listener is not None:
            self.listener(post_id, delivery_id)
        return True

    def _tell(self, work: _Work) -> None:
        if self.listener is not None:
            self.listener(work.post_id, work.delivery_id)


@dataclass(frozen=True, slots=True)
class _Record:
    """What :meth:`Delivering._record` keeps of one delivery."""

    work: _Work
    done: list[base.Published]
    job: Claimed
    last: bool


async def _record_in(session: AsyncSession, records: list[_Record]) -> list[bool]:
    """:meth:`Delivering._record`'s transaction, for every delivery recorded in it; whether
    each stopped.

    The deliveries still *sending*, as nearly all are, are recorded by one statement for all
    of them, and their jobs ended by another (their rows locked first on PostgreSQL, where a
    cancel could come meanwhile): ten copies of a post sent at once cost a few statements, not
    a few each. One cancelled or deleted meanwhile is read, to learn what becomes of it."""
    now = utcnow()
    ids = [record.work.delivery_id for record in records]
    sending = set(
        await session.scalars(
            select(Delivery.id)
            .where(Delivery.id.in_(ids), Delivery.status == SENDING)
            .order_by(Delivery.id)
            .with_for_update()
        )
    )
    going = [record for record in records if record.work.delivery_id in sending]
    shapes: dict[tuple[str, ...], list[dict[str, object]]] = {}
    for record in going:
        columns = _recorded(record.done, now if record.last else None)
        if columns:
            values = {"b_id": record.work.delivery_id} | {f"b_{k}": v for k, v in columns.items()}
            shapes.setdefault(tuple(columns), []).append(values)
    for names, rows in shapes.items():
        await session.execute(
            update(_DELIVERIES)
            .where(_DELIVERIES.c.id == bindparam("b_id"))
            .values({name: bindparam(f"b_{name}") for name in names}),
            rows,
        )
    ended = [(r.job, r.work.account.network) for r in going if r.last]
    await backfeed.schedule(session, ended, now)
    return [
        False if record.work.delivery_id in sending else await _stopped(session, record)
        for record in records
    ]


async def _stopped(session: AsyncSession, record: _Record) -> bool:
    """Record a delivery no longer *sending* (cancelled, or its post deleted): it keeps what
    went out, and what went out of a deleted post is taken down. Its job ends."""
    delivery = await session.get(Delivery, record.work.delivery_id)
    if delivery is not None:
        for name, value in _recorded(record.done).items():
            setattr(delivery, name, value)
        if await _post_deleted(session, delivery):
            delivery.status, delivery.error = DELETING, ""
            await jobs.enqueue(session, TAKE_DOWN, str(delivery.id))
    await jobs.finish(session, record.job)
    return True


def _recorded(done: list[base.Published], sent_at: datetime | None = None) -> dict[str, object]:
    """The columns that keep the parts out so far (none before the first), and with
    ``sent_at`` those of a delivery sent."""
    kept: dict[str, object] = {}
    if done:
        kept |= {
            "parts": _parts_json(done),
            "remote_id": done[0].id[:500],
            "remote_url": (done[0].url or "")[:2000],
        }
    if sent_at is not None:
        kept |= {"status": SENT, "sent_at": sent_at, "error": "", "updated_at": sent_at}
    elif kept:
        kept["updated_at"] = utcnow()
    return kept


@dataclass(frozen=True, slots=True)
class _Renew:
    """A delivery that starts once its account's token is renewed."""

    account_id: int


class _Stopped(Exception):
    """The delivery was cancelled, or its post deleted, while it was being sent: it stops
    before its next part."""


def _to_send(delivery: Delivery, post: Post) -> bool:
    """Whether a run of the delivery publishes: it is on its way and its post is too; or its
    post was deleted while it was being sent, before the part on its way was recorded (it
    kept its job then). That part may be out: sent again with the same key, the network
    answers with that copy, which is recorded and taken down (or makes it, if the first
    never got there)."""
    if delivery.status == DELETING:
        return delivery.sent_at is None
    return delivery.status in UNDER_WAY | {SCHEDULED} and post.state not in ("deleted", "draft")


async def _post_deleted(session: AsyncSession, delivery: Delivery) -> bool:
    if delivery.status in (DELETING, DELETED):
        return True
    post = await session.get(Post, delivery.post_id)
    return post is None or post.state == "deleted"


def _mark(
    delivery: Delivery,
    post: Post,
    account: LinkedAccount,
    media: list[PostMedia],
    credentials: base.Credentials | None,
) -> _Work:
    """Mark the delivery *sending*, one attempt more; what its run needs. A deleted post's
    copy stays *deleting*: its run only finds out what the last one sent (:func:`_to_send`)."""
    if delivery.status != DELETING:
        delivery.status, delivery.error, delivery.next_attempt_at = SENDING, "", None
    delivery.attempts += 1
    return _Work(
        delivery_id=delivery.id,
        account=account,
        text=delivery.text if delivery.text is not None else post.text,
        content_warning=post.content_warning,
        fit=delivery.fit,
        destination=delivery.destination,
        key=delivery.key,
        post_id=post.id,
        parts=parts_of(delivery),
        uploads=tuple(
            base.Upload(m.data, m.mime_type, m.description, m.width, m.height, id=m.id)
            for m in media
        ),
        credentials=credentials,
        attempts=delivery.attempts,
    )


def _unusable(account: LinkedAccount | None) -> str:
    """Why a delivery cannot go out on its account: unlinked, or to be reconnected."""
    if account is None:
        return UNLINKED
    return RECONNECT % {"network": connector(account.network).LABEL}


def _failed(delivery: Delivery, message: str) -> None:
    delivery.status, delivery.error, delivery.next_attempt_at = FAILED, message[:500], None


def _parts_json(parts: list[base.Published]) -> str:
    return json.dumps([{"id": p.id, "url": p.url, "ref": p.ref} for p in parts])
