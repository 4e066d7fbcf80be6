"""Answers come home: what people did with each published copy of a post — replies, quotes,
reposts, likes — read back from its network and kept with the post (the backfeed).

Each delivery that went out has a ``backfeed`` job of its own in the durable queue
(``portal.domain.jobs``). It reads the network often while the post is young and less and
less as it ages (:data:`SCHEDULE`), then stops: a month on, little comes. Its owner may also
ask for a read now from the post's page.

Every read replaces what was known of the copy: new answers are added, edited replies
updated, and an answer withdrawn (a like taken back, a reply deleted) goes, where the
network listed them all. New replies and quotes notify the author, once per read.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import connectors
from connectors import base
from portal.db import session_scope
from portal.domain import jobs, linking, notifications, privacy
from portal.domain.jobs import Claimed
from portal.domain.linking import oauth
from portal.domain.linking.services import LinkServices, connector, label_of
from portal.domain.posts import acting
from portal.domain.posts.compose import EDITING, SENT, parts_of
from portal.errors import N_, NotFound
from portal.storage.models import LinkedAccount, User, utcnow
from portal.storage.posts import Answer, Delivery, Post

log = logging.getLogger(__name__)

BACKFEED = "backfeed"
FIRST_READ = timedelta(minutes=1)
"""How long after a copy went out its answers are first read."""
SCHEDULE: jobs.Schedule = (
    (timedelta(hours=1), timedelta(minutes=2)),
    (timedelta(hours=6), timedelta(minutes=10)),
    (timedelta(days=1), timedelta(minutes=30)),
    (timedelta(days=7), timedelta(hours=3)),
    (timedelta(days=30), timedelta(hours=12)),
)
"""While a copy is younger than the first, its answers are read every second: two minutes in
its first hour, … twice a day in its first month; never after."""
COMPLETE_BELOW = 80
"""A network that listed fewer answers of a kind than this listed them all: those missing
were withdrawn. (With more, the oldest may just not be on the page.)"""
MAX_SHOWN = 300
"""The most answers a post's page shows (the newest)."""
KINDS = ("reply", "quote", "repost", "like")
TALKING = frozenset({"reply", "quote"})

NOT_SENT = N_("This copy of the post has not gone out: it has no answers to read yet.")


def next_read(sent_at: datetime, now: datetime) -> datetime | None:
    """When the answers of a copy sent at ``sent_at`` are read after ``now``; ``None``: no
    more (it is older than the schedule)."""
    return jobs.next_time(SCHEDULE, sent_at, now)


BOT_UPDATES = "bot_updates"
"""The one job that reads the updates of the portal's Telegram bot, where the comments on the
posts of channels come (:mod:`portal.domain.posts.telegram_answers`)."""
BOT = "telegram"


def reads_answers(network: str) -> bool:
    found = connectors.get(network)
    return found is not None and found.CAN_BACKFEED


def answers_come_to_bot(network: str) -> bool:
    found = connectors.get(network)
    return found is not None and found.ANSWERS_COME_TO_BOT


def answers_come_home(network: str) -> bool:
    """Whether the answers to the copies on ``network`` are read, one way or the other."""
    return reads_answers(network) or answers_come_to_bot(network)


async def schedule(
    session: AsyncSession, sent: Sequence[tuple[Claimed, str]], sent_at: datetime
) -> None:
    """Start reading the answers of copies that just went out, and end their deliveries' jobs
    (``(job, network)`` each; in the transaction that marks them sent): each copy's own job,
    which its delivery's becomes, or the bot's updates where the answers come to the bot."""
    first = sent_at + FIRST_READ
    await jobs.finish_then(
        session, [job for job, network in sent if reads_answers(network)], BACKFEED, run_at=first
    )
    if any(answers_come_to_bot(network) for _, network in sent):
        await jobs.ensure(session, BOT_UPDATES, BOT, run_at=first)
    await jobs.finish_all(session, [job for job, network in sent if not reads_answers(network)])


async def read_now(session: AsyncSession, user: User, post_id: str) -> int:
    """Read the answers of the person's post on every network now; how many copies."""
    post = await session.get(Post, post_id) if 0 < len(post_id) <= 24 else None
    if post is None or post.user_id != user.id:
        raise NotFound(N_("This post does not exist."))
    sent = await session.scalars(
        select(Delivery).where(Delivery.post_id == post.id, Delivery.status == SENT)
    )
    count = 0
    bot = False
    for delivery in sent:
        if reads_answers(delivery.network):
            await jobs.enqueue(session, BACKFEED, str(delivery.id))
            count += 1
        elif answers_come_to_bot(delivery.network):
            bot, count = True, count + 1
    if bot:
        await jobs.ensure(session, BOT_UPDATES, BOT)
    return count


# -- reading (the job) ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Copy:
    delivery_id: int
    post_id: str
    user_id: int
    account_id: int
    network: str
    handle: str
    external_id: str
    destination: str
    parts: list[base.Published]
    credentials: base.Credentials
    sent_at: datetime
    renew: bool
    """Its OAuth token expires soon: renew it first."""


@dataclass
class Backfeeding:
    """The handler of ``backfeed`` jobs: read a copy's answers, keep them, plan the next."""

    sessions: async_sessionmaker[AsyncSession]
    services: LinkServices
    listener: Callable[[str, int], None] | None = None
    """Told ``(post id, delivery id)`` when a copy's answers changed (the live page)."""

    def handlers(self) -> Mapping[str, jobs.Handler]:
        return {BACKFEED: self.backfeed}

    async def backfeed(self, job: Claimed) -> float | None:
        copy = await self._copy(int(job.subject))
        if copy is None:
            return None
        cls = connector(copy.network)
        credentials = copy.credentials
        if copy.renew:
            renewed = await acting.renew_token(self.sessions, self.services, copy.account_id)
            credentials = renewed or credentials
        try:
            async with self.services.http() as http:
                instance = cls(copy.handle, credentials, http, context=self.services.context)
                found: dict[tuple[str, str], base.Response] = {}
                try:
                    for part in copy.parts:
                        for answer in await instance.responses(part, copy.destination):
                            found.setdefault((answer.kind, answer.id), answer)
                finally:
                    await acting.keep_renewed(
                        self.sessions, self.services, copy.account_id, credentials, instance
                    )
        except base.RateLimited as error:
            return max(error.retry_after or 0.0, self._every(copy))
        except (base.Retriable, httpx.HTTPError) as error:
            log.info("answers of delivery %s: %s", copy.delivery_id, error)
            return self._every(copy)
        except base.AuthRevoked:
            async with session_scope(self.sessions, writing=True) as session:
                account = await session.get(LinkedAccount, copy.account_id)
                if account is not None:
                    await oauth.connection_lost(session, self.services, account)
            return None
        except base.ConnectorError as error:  # the network will not tell
            log.info("answers of delivery %s no longer read: %s", copy.delivery_id, error)
            return None
        own = {part.id for part in copy.parts}
        answers = [
            answer
            for answer in found.values()
            if answer.id not in own and not by_owner(answer, copy.handle, copy.external_id)
        ]
        changed = await self._keep(copy, answers)
        if changed and self.listener is not None:
            self.listener(copy.post_id, copy.delivery_id)
        return jobs.until_next(SCHEDULE, copy.sent_at)

    def _every(self, copy: _Copy) -> float:
        return jobs.after_failure(SCHEDULE, copy.sent_at, at_least=60.0)

    async def _copy(self, delivery_id: int) -> _Copy | None:
        async with session_scope(self.sessions) as session:
            delivery = await session.get(Delivery, delivery_id)
            if (
                delivery is None
                or delivery.status not in (SENT, EDITING)
                or delivery.account_id is None
            ):
                return None
            post = await session.get(Post, delivery.post_id)
            account = await session.get(LinkedAccount, delivery.account_id)
            if post is None or post.state == "deleted" or account is None:
                return None
            if account.status != linking.VERIFIED or not reads_answers(account.network):
                return None
            credentials = linking.load_credentials(self.services, account)
            parts = parts_of(delivery)
            if credentials is None or not parts:
                return None
            return _Copy(
                delivery_id=delivery.id,
                post_id=post.id,
                user_id=post.user_id,
                account_id=account.id,
                network=account.network,
                handle=account.handle,
                external_id=account.external_id or "",
                destination=delivery.destination,
                parts=parts,
                credentials=credentials,
                sent_at=delivery.sent_at or delivery.updated_at,
                renew=oauth.refresh_due(connector(account.network), account, credentials),
            )

    async def _keep(self, copy: _Copy, answers: Sequence[base.Response]) -> bool:
        """Make the stored answers of the copy what the network said; whether any changed.
        New replies and quotes notify the post's author."""
        now = utcnow()
        async with session_scope(self.sessions, writing=True) as session:
            delivery = await session.get(Delivery, copy.delivery_id)
            if delivery is None:
                return False
            delivery.answers_read_at = now
            stored = {
                (row.kind, row.remote_id): row
                for row in await session.scalars(
                    select(Answer).where(Answer.delivery_id == copy.delivery_id)
                )
            }
            changed = False
            fresh: list[base.Response] = []
            for answer in answers:
                row = stored.get((answer.kind, answer.id[:500]))
                if row is None:
                    session.add(
                        answer_row(copy.post_id, copy.delivery_id, copy.network, answer, now)
                    )
                    fresh.append(answer)
                    changed = True
                elif answer.text != row.text or answer.author.display_name[:200] != row.author_name:
                    row.text, row.author_name = answer.text, answer.author.display_name[:200]
                    changed = True
            listed = {(answer.kind, answer.id[:500]) for answer in answers}
            counts = {kind: sum(1 for a in answers if a.kind == kind) for kind in KINDS}
            gone = [
                row.id
                for key, row in stored.items()
                if key not in listed and counts.get(row.kind, 0) < COMPLETE_BELOW
            ]
            if gone:
                await session.execute(delete(Answer).where(Answer.id.in_(gone)))
                changed = True
            talk = [answer for answer in fresh if answer.kind in TALKING]
            if talk:
                await notify(session, self.services, copy.user_id, copy.post_id, copy.network, talk)
        return changed


async def notify(
    session: AsyncSession,
    services: LinkServices,
    user_id: int,
    post_id: str,
    network: str,
    talk: Sequence[base.Response],
) -> None:
    """Tell the author of a post of new replies and quotes to its copy on ``network``: one
    notification, naming the first who answered and how many did."""
    owner = await session.get(User, user_id)
    if owner is None:
        return
    first = talk[0].author
    detail = {
        "name": (first.display_name or first.handle)[:100],
        "network": label_of(network),
        "count": str(len(talk)),
    }
    await notifications.notify(
        session,
        owner,
        notifications.POST_ANSWERS,
        post_id=post_id,
        detail=json.dumps(detail),
        mailer=notifications.Mailer.of(services),
    )


def by_owner(answer: base.Response, handle: str, external_id: str) -> bool:
    """The doing of the account that published (``handle``, ``external_id``): the next part
    of its thread, a like of its own post."""
    author = answer.author
    return (bool(handle) and author.handle.lower() == handle.lower()) or (
        bool(external_id) and author.id == external_id
    )


def answer_row(
    post_id: str, delivery_id: int, network: str, answer: base.Response, now: datetime
) -> Answer:
    """The stored form of an answer to the copy ``delivery_id`` of a post, cut to the
    columns' sizes; seen ``now``."""
    author = answer.author
    return Answer(
        post_id=post_id,
        delivery_id=delivery_id,
        network=network,
        kind=answer.kind,
        remote_id=answer.id[:500],
        author_id=author.id[:500],
        author_handle=author.handle[:320],
        author_name=author.display_name[:200],
        author_url=(author.url or "")[:2000] or None,
        text=answer.text[:10_000],
        url=(answer.url or "")[:2000] or None,
        in_reply_to=(answer.in_reply_to or "")[:500] or None,
        happened_at=min(answer.published, now) if answer.published else now,
        seen_at=now,
    )


# -- showing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shown:
    """One answer as the post's author sees it: who, with their portal card where they have
    one and let the author see the account they answered from."""

    answer: Answer
    label: str
    """The network's name."""
    card: privacy.Card | None


@dataclass(frozen=True)
class Answers:
    items: list[Shown]
    counts: dict[str, int]
    read_at: datetime | None
    marker: tuple[int, int] = (0, 0)
    """How many there are, and the newest row's id: what a live page compares."""

    @property
    def total(self) -> int:
        return sum(self.counts.values())


async def marker(session: AsyncSession, post_id: str) -> tuple[int, int]:
    """How many answers a post has, and the id of the newest row (one indexed query)."""
    count, newest = (
        await session.execute(
            select(func.count(), func.coalesce(func.max(Answer.id), 0)).where(
                Answer.post_id == post_id
            )
        )
    ).one()
    return int(count), int(newest)


async def answers_of(session: AsyncSession, viewer: User, post_id: str) -> Answers:
    """The answers to one of ``viewer``'s posts from every network, oldest first (three
    queries, five when some answered from an account linked to a portal number)."""
    counts: dict[str, int] = {}
    newest = 0
    for kind, count, last in await session.execute(
        select(Answer.kind, func.count(), func.max(Answer.id))
        .where(Answer.post_id == post_id)
        .group_by(Answer.kind)
    ):
        counts[kind], newest = int(count), max(newest, int(last))
    rows = list(
        await session.scalars(
            select(Answer)
            .where(Answer.post_id == post_id)
            .order_by(Answer.happened_at.desc(), Answer.id.desc())
            .limit(MAX_SHOWN)
        )
    )
    rows.reverse()
    read_at = await session.scalar(
        select(func.max(Delivery.answers_read_at)).where(Delivery.post_id == post_id)
    )
    cards = await _cards(session, viewer, rows)
    return Answers(
        [
            Shown(row, label_of(row.network), cards.get((row.network, row.author_handle.lower())))
            for row in rows
        ],
        counts,
        read_at,
        marker=(sum(counts.values()), newest),
    )


async def _cards(
    session: AsyncSession, viewer: User, rows: Sequence[Answer]
) -> dict[tuple[str, str], privacy.Card]:
    """The portal cards of those who answered from a verified account linked to a number,
    by (network, handle): only where the card shows the viewer that account."""
    by_network: dict[str, set[str]] = {}
    for row in rows:
        by_network.setdefault(row.network, set()).update({row.author_handle.lower(), row.author_id})
    if not by_network:
        return {}
    accounts = list(
        await session.scalars(
            select(LinkedAccount).where(
                LinkedAccount.status == linking.VERIFIED,
                or_(
                    *(
                        (LinkedAccount.network == network)
                        & (
                            func.lower(LinkedAccount.handle).in_(sorted(names))
                            | LinkedAccount.external_id.in_(sorted(names))
                        )
                        for network, names in by_network.items()
                    )
                ),
            )
        )
    )
    if not accounts:
        return {}
    owners = list(
        await session.scalars(select(User).where(User.id.in_({a.user_id for a in accounts})))
    )
    cards = {card.user_id: card for card in await privacy.cards_for(session, viewer, owners)}
    found: dict[tuple[str, str], privacy.Card] = {}
    for account in accounts:
        card = cards.get(account.user_id)
        if card is None or not any(shown.id == account.id for shown in card.accounts):
            continue
        found[(account.network, account.handle.lower())] = card
        if account.external_id:
            for row in rows:
                if row.network == account.network and row.author_id == account.external_id:
                    found[(row.network, row.author_handle.lower())] = card
    return found
