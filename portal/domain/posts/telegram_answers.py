"""Answers come home from Telegram: the comments on the posts Portal published in channels.

Telegram lists no answers on request (:mod:`connectors.telegram._updates`): the comments on a
channel's post are messages of the channel's discussion group, which the portal's bot
receives as updates when it is an administrator there. So instead of one job per copy, as for
the other networks (:mod:`portal.domain.posts.backfeed`), one job reads the bot's updates
(``bot_updates``) while any copy on Telegram is young enough for its answers to be read (the
backfeed's month), and rests after; a copy that goes out wakes it.

The same updates bring the answers to the messages the bot wrote to people for others
(:mod:`portal.domain.messages.deliver`): a message in the recipient's private chat with the
bot that replies to the bot's message is an answer to that copy, kept as every answer to a
message is (:func:`portal.domain.messages.answers.keep`). Only replies count: the bot's
message asks for one (the app opens a reply to it), and a message that names none could
answer any of the people who wrote through the bot, or none. The job runs while such a copy
is young too (:data:`portal.domain.messages.answers.SCHEDULE`).

Each read keeps, in one transaction, the threads Telegram opened in discussion groups for
posts of the portal's (``telegram_threads``), the comments in them as answers to their copy,
the answers to messages, and how far the bot has read (``telegram_bots``): a read repeated
after a crash finds the same updates and adds nothing twice. A comment changed is changed
here; one deleted stays, as Telegram does not tell.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import ColumnElement, exists, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors import base, telegram
from portal.db import session_scope
from portal.domain import jobs
from portal.domain.jobs import Claimed
from portal.domain.linking.services import LinkServices
from portal.domain.messages import answers as message_answers
from portal.domain.messages.send import SENT as MESSAGE_SENT
from portal.domain.posts.backfeed import (
    BOT,
    BOT_UPDATES,
    SCHEDULE,
    TALKING,
    answer_row,
    by_owner,
    notify,
)
from portal.domain.posts.compose import EDITING, SENT, parts_of
from portal.storage.messages import MessageCopy
from portal.storage.models import LinkedAccount, utcnow
from portal.storage.posts import Answer, Delivery, Post, TelegramBot, TelegramThread

log = logging.getLogger(__name__)

NETWORK = telegram.Telegram.NAME
EVERY = 20.0
"""Seconds between reads while nothing more is waiting."""
REFUSED = 3600.0
"""Seconds before trying again when Telegram will not give the bot's updates (a webhook is
set for it, or its token is wrong): a person must act first."""
RESTING = 86400.0
"""Seconds before looking again when no copy is young: a copy that goes out brings the job
forward (:func:`portal.domain.jobs.ensure`). Put off, not ended: ended while a copy went out,
the job would be gone with that copy's answers unread."""
LOOKED = timedelta(minutes=10)
"""How often the copies are marked as looked at (their page's "last looked")."""


def _window(now: datetime) -> datetime:
    """Copies sent after this still have their answers read."""
    return now - SCHEDULE[-1][0]


def _messages_window(now: datetime) -> datetime:
    """Messages the bot wrote after this still have their answers read."""
    return now - message_answers.SCHEDULE[-1][0]


@dataclass(frozen=True, slots=True)
class _Copy:
    delivery_id: int
    post_id: str
    user_id: int
    handle: str
    external_id: str
    channel: str
    url: str | None


@dataclass
class BotUpdates:
    """The handler of the ``bot_updates`` job: read the bot's updates, keep the comments."""

    sessions: async_sessionmaker[AsyncSession]
    services: LinkServices
    listener: Callable[[str, int], None] | None = None
    """Told ``(post id, delivery id)`` when a copy's answers changed (the live page)."""

    def handlers(self) -> Mapping[str, jobs.Handler]:
        return {BOT_UPDATES: self.read}

    async def read(self, job: Claimed) -> float | None:
        token = self.services.telegram_bot_token
        if not token or job.subject != BOT:
            return None
        bot = token.partition(":")[0]
        async with session_scope(self.sessions) as session:
            if not await _young_copies(session):
                return RESTING
            state = await session.get(TelegramBot, bot)
            offset = state.next_update if state is not None else None
        try:
            async with self.services.http() as http:
                batch = await telegram.read_updates(http, token, offset)
        except base.RateLimited as error:
            return max(error.retry_after or 0.0, EVERY)
        except (base.Retriable, httpx.HTTPError) as error:
            log.info("the Telegram bot's updates: %s", error)
            return EVERY
        except base.ConnectorError as error:
            if "other getupdates" in str(error).lower():  # a second reader, for a moment
                return EVERY
            log.warning("the Telegram bot's updates cannot be read: %s", error)
            return REFUSED
        changed = await self._keep(bot, batch)
        if self.listener is not None:
            for post_id, delivery_id in changed:
                self.listener(post_id, delivery_id)
        return 0.0 if batch.full else EVERY

    async def _keep(self, bot: str, batch: telegram.Batch) -> set[tuple[str, int]]:
        """Keep what a read brought; the copies whose answers changed."""
        now = utcnow()
        changed: set[tuple[str, int]] = set()
        if batch.next_offset is None:  # nothing came: only the copies are marked, at times
            async with session_scope(self.sessions) as session:
                stale = await session.scalar(select(exists().where(*_unmarked(now))))
            if stale:
                async with session_scope(self.sessions, writing=True) as session:
                    await session.execute(
                        update(Delivery).where(*_unmarked(now)).values(answers_read_at=now)
                    )
            return changed
        async with session_scope(self.sessions, writing=True) as session:
            for thread in batch.threads:
                await _follow(session, thread, now)
            copies = await _copies(session, {(c.group, c.thread) for c in batch.comments})
            fresh: dict[int, tuple[_Copy, list[base.Response]]] = {}
            for comment in batch.comments:
                copy = copies.get((comment.group, comment.thread))
                if copy is None or comment.sender_chat == copy.channel:
                    continue  # not on a post of the portal's, or the channel's own
                answer = comment.response
                if copy.url:
                    number = answer.id.rpartition(":")[2]
                    answer = dataclasses.replace(answer, url=f"{copy.url}?comment={number}")
                if by_owner(answer, copy.handle, copy.external_id):
                    continue
                kept = await _keep_answer(session, copy, answer, now)
                if kept is not None:
                    changed.add((copy.post_id, copy.delivery_id))
                if kept == "new":
                    fresh.setdefault(copy.delivery_id, (copy, []))[1].append(answer)
            for copy, answers in fresh.values():
                talk = [answer for answer in answers if answer.kind in TALKING]
                await notify(session, self.services, copy.user_id, copy.post_id, NETWORK, talk)
            await self._keep_message_answers(session, batch.private, now)
            state = await session.get(TelegramBot, bot)
            if state is None:
                session.add(TelegramBot(bot_id=bot, next_update=batch.next_offset, read_at=now))
            else:
                state.next_update, state.read_at = batch.next_offset, now
            await session.execute(
                update(Delivery).where(*_unmarked(now)).values(answers_read_at=now)
            )
        return changed

    async def _keep_message_answers(
        self, session: AsyncSession, private: list[telegram.Private], now: datetime
    ) -> None:
        """Keep the replies to the bot's messages as answers to their copies: each from the
        recipient, in their own chat with the bot, to a message of the bot's there."""
        replies = [item for item in private if item.replies_to is not None]
        if not replies:
            return
        wanted = sorted({(item.chat, str(item.replies_to)) for item in replies})
        copies = {
            (copy.thread, copy.remote_id): copy
            for copy in await session.scalars(
                select(MessageCopy).where(
                    MessageCopy.by_bot.is_(True),
                    MessageCopy.network == NETWORK,
                    MessageCopy.sent_at >= _messages_window(now),
                    MessageCopy.status.in_((MESSAGE_SENT, message_answers.WITHDRAWN)),
                    tuple_(MessageCopy.thread, MessageCopy.remote_id).in_(wanted),
                )
            )
        }
        found: dict[int, tuple[MessageCopy, list[base.Answer]]] = {}
        for item in replies:
            copy = copies.get((item.chat, str(item.replies_to)))
            if copy is not None:  # the chat is the recipient's: the copy's, which is theirs
                found.setdefault(copy.id, (copy, []))[1].append(item.answer)
        for copy, said in found.values():
            await message_answers.keep(session, self.services, copy, said)


async def _young_copies(session: AsyncSession) -> bool:
    """Whether a copy on Telegram is young enough for its answers to be read: of a post, or
    of a message the bot wrote."""
    now = utcnow()
    of_posts = exists().where(
        Delivery.network == NETWORK,
        Delivery.sent_at >= _window(now),
        Delivery.status.in_((SENT, EDITING)),
    )
    of_messages = exists().where(
        MessageCopy.by_bot.is_(True),
        MessageCopy.network == NETWORK,
        MessageCopy.sent_at >= _messages_window(now),
        MessageCopy.status == MESSAGE_SENT,
    )
    return bool(await session.scalar(select(or_(of_posts, of_messages))))


def _unmarked(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """The young copies on Telegram not marked as looked at for :data:`LOOKED`: the bot has
    read everything that came for them."""
    return (
        Delivery.network == NETWORK,
        Delivery.sent_at >= _window(now),
        Delivery.status.in_((SENT, EDITING)),
        or_(Delivery.answers_read_at.is_(None), Delivery.answers_read_at < now - LOOKED),
    )


async def _follow(session: AsyncSession, thread: telegram.Thread, now: datetime) -> None:
    """Remember which copy the thread's comments answer, when it heads a post of the
    portal's sent lately."""
    if await session.get(TelegramThread, (thread.group, thread.thread)) is not None:
        return
    number = str(thread.post)
    candidates = await session.scalars(
        select(Delivery).where(
            Delivery.network == NETWORK,
            Delivery.sent_at >= _window(now),
            Delivery.status.in_((SENT, EDITING)),
            or_(Delivery.remote_id == number, Delivery.parts.contains(f'"{number}"')),
        )
    )
    for delivery in candidates:
        if any(telegram.heads(thread, part) for part in parts_of(delivery)):
            session.add(
                TelegramThread(
                    group_id=thread.group, thread_id=thread.thread, delivery_id=delivery.id
                )
            )
            await session.flush()
            return


async def _copies(
    session: AsyncSession, threads: set[tuple[str, int]]
) -> dict[tuple[str, int], _Copy]:
    """The copies the comments of ``threads`` answer, by thread (one query)."""
    if not threads:
        return {}
    rows = await session.execute(
        select(TelegramThread.group_id, TelegramThread.thread_id, Delivery, Post.user_id,
               LinkedAccount.external_id)
        .join(Delivery, TelegramThread.delivery_id == Delivery.id)
        .join(Post, Post.id == Delivery.post_id)
        .outerjoin(LinkedAccount, LinkedAccount.id == Delivery.account_id)
        .where(
            tuple_(TelegramThread.group_id, TelegramThread.thread_id).in_(sorted(threads)),
            Post.state != "deleted",
            Delivery.status.in_((SENT, EDITING)),
        )
    )  # fmt: skip
    found: dict[tuple[str, int], _Copy] = {}
    for group, thread, delivery, user_id, external_id in rows:
        parts = parts_of(delivery)
        found[(group, thread)] = _Copy(
            delivery_id=delivery.id,
            post_id=delivery.post_id,
            user_id=user_id,
            handle=delivery.handle,
            external_id=external_id or "",
            channel=parts[0].ref.partition(":")[0] if parts else "",
            url=delivery.remote_url,
        )
    return found


async def _keep_answer(
    session: AsyncSession, copy: _Copy, answer: base.Response, now: datetime
) -> str | None:
    """Keep a comment as an answer to the copy: ``"new"``, ``"changed"`` (a comment edited),
    or ``None`` (known as it is)."""
    row = await session.scalar(
        select(Answer).where(
            Answer.delivery_id == copy.delivery_id,
            Answer.kind == answer.kind,
            Answer.remote_id == answer.id[:500],
        )
    )
    if row is None:
        session.add(answer_row(copy.post_id, copy.delivery_id, NETWORK, answer, now))
        await session.flush()
        return "new"
    if row.text == answer.text[:10_000]:
        return None
    row.text = answer.text[:10_000]
    return "changed"
