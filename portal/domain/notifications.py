"""What happened for a person: a contact request, an answer, an invitation used, a linked
account that needs connecting again, a feed they read that stopped working.

A notification is a row; the page and the API list it, the live stream
(:func:`wait_for_news`) pushes it. Several web processes may serve one portal, so the stream
reads the database; within one process a commit also wakes the streams of the people it
notified at once. Email, for who asked for it, is sent after the commit in the background: a
mail server that is slow or down never holds up the request.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from portal import i18n, mail
from portal.db import write_next
from portal.domain import privacy
from portal.errors import N_, NotFound
from portal.storage.models import (
    MAX_ID,
    FeedSource,
    FeedSubscription,
    LinkedAccount,
    Notification,
    User,
    utcnow,
)

if TYPE_CHECKING:
    from portal.domain.linking import LinkServices

log = logging.getLogger(__name__)

CONTACT_REQUEST = "contact_request"
CONTACT_ACCEPTED = "contact_accepted"
INVITE_USED = "invite_used"
NEEDS_RECONNECT = "needs_reconnect"
FEED_PAUSED = "feed_paused"
POST_ANSWERS = "post_answers"
MESSAGE_ANSWERED = "message_answered"
MESSAGE_REQUEST = "message_request"
KINDS = (
    CONTACT_REQUEST,
    CONTACT_ACCEPTED,
    INVITE_USED,
    NEEDS_RECONNECT,
    FEED_PAUSED,
    POST_ANSWERS,
    MESSAGE_ANSWERED,
    MESSAGE_REQUEST,
)

PER_PAGE = 30


@dataclass(frozen=True)
class Mailer:
    """Where notification emails go out from (``portal.deps.mailer`` makes it from the
    settings)."""

    smtp_url: str
    sender: str
    base_url: str

    @classmethod
    def of(cls, services: LinkServices) -> Mailer:
        return cls(services.smtp_url, services.mail_from, services.base_url.rstrip("/"))

    @property
    def enabled(self) -> bool:
        return bool(self.smtp_url)


@dataclass(frozen=True)
class Shown:
    """One notification as its owner sees it: the other person through their card.

    Its sentence is a message id with ``%(name)s`` placeholders filled from ``params``, so
    that each reader gets it in their own language; ``text`` is the English one.
    """

    id: int
    kind: str
    message: str
    params: dict[str, str]
    link: str
    created_at: datetime
    read: bool
    actor: privacy.Card | None

    @property
    def text(self) -> str:
        return _english(self.message, self.params)


# --- waking the live streams of this process -------------------------------------------------

_listeners: dict[int, set[asyncio.Event]] = defaultdict(set)


def listen(user_id: int) -> asyncio.Event:
    """An event set whenever a notification for ``user_id`` is committed in this process."""
    wake = asyncio.Event()
    _listeners[user_id].add(wake)
    return wake


def stop_listening(user_id: int, wake: asyncio.Event) -> None:
    waiting = _listeners.get(user_id)
    if waiting is not None:
        waiting.discard(wake)
        if not waiting:
            del _listeners[user_id]


def _wake(user_ids: set[int]) -> None:
    for user_id in user_ids:
        for wake in _listeners.get(user_id, ()):
            wake.set()


def _after_commit(session: Session) -> None:
    users: set[int] = session.info.pop("notified_users", set())
    mails: list[tuple[Mailer, str, str, str]] = session.info.pop("mails_after_commit", [])
    _wake(users)
    for mailer, to, subject, text in mails:
        send_soon(mailer, to, subject, text)


def _after_rollback(session: Session) -> None:
    session.info.pop("notified_users", None)
    session.info.pop("mails_after_commit", None)


def _watch(session: AsyncSession) -> dict[str, Any]:
    info = session.sync_session.info
    if not info.get("notifications_watched"):
        event.listen(session.sync_session, "after_commit", _after_commit)
        event.listen(session.sync_session, "after_rollback", _after_rollback)
        info["notifications_watched"] = True
    return info


# --- email in the background -----------------------------------------------------------------

_mail_tasks: set[asyncio.Task[None]] = set()


def send_after_commit(
    session: AsyncSession, mailer: Mailer, to: str, subject: str, text: str
) -> None:
    """Send an email in the background once the session's transaction commits, and never if
    it rolls back. With no mail server configured, the email is written to the log."""
    _watch(session).setdefault("mails_after_commit", []).append((mailer, to, subject, text))


def send_soon(mailer: Mailer, to: str, subject: str, text: str) -> None:
    """Send an email in the background now, whether or not the request's changes are kept: a
    security warning about a refused request must go out although the request rolls back.
    With no mail server configured, the email is written to the log."""
    task = asyncio.get_running_loop().create_task(_deliver(mailer, to, subject, text))
    _mail_tasks.add(task)
    task.add_done_callback(_mail_tasks.discard)


async def _deliver(mailer: Mailer, to: str, subject: str, text: str) -> None:
    try:
        await mail.deliver(mailer.smtp_url, sender=mailer.sender, to=to, subject=subject, text=text)
    except mail.MailError as error:
        log.warning("email not sent: %s", error)


async def sent_mail() -> None:
    """Wait until the emails being sent in the background are out (for shutdown and tests)."""
    if _mail_tasks:
        await asyncio.gather(*list(_mail_tasks), return_exceptions=True)


# --- making them ------------------------------------------------------------------------------


_ABOUT_SOMEONE = {
    CONTACT_REQUEST: (
        N_("%(name)s asked to become your contact."),
        N_("Someone asked to become your contact."),
    ),
    CONTACT_ACCEPTED: (N_("%(name)s is now your contact."), N_("Someone is now your contact.")),
    INVITE_USED: (
        N_("%(name)s used your invitation and is now your contact."),
        N_("Someone used your invitation and is now your contact."),
    ),
}


def _describe(
    kind: str,
    actor: privacy.Card | None,
    account: LinkedAccount | None,
    feed: FeedSource | None = None,
    *,
    post_id: str | None = None,
    detail: str = "",
) -> tuple[str, dict[str, str], str]:
    """The sentence (a message id and its parameters) and the link of a notification."""
    if kind == POST_ANSWERS:
        return _answers(post_id, detail)
    if kind == MESSAGE_REQUEST:
        if actor is None:
            return N_("Someone who is not your contact wrote to you."), {}, "/conversations"
        return (
            N_("%(name)s, who is not your contact, wrote to you: accept or decline."),
            {"name": actor.display_name or actor.display_number},
            f"/conversations/{actor.number}",
        )
    if kind == MESSAGE_ANSWERED:
        if actor is None:
            return N_("Someone answered your message."), {}, "/conversations"
        return (
            N_("%(name)s answered your message on %(network)s."),
            {"name": actor.display_name or actor.display_number, "network": detail[:100]},
            f"/conversations/{actor.number}",
        )
    if kind in _ABOUT_SOMEONE:
        named, anonymous = _ABOUT_SOMEONE[kind]
        if actor is None:
            return anonymous, {}, "/me/contacts"
        return named, {"name": actor.display_name or actor.display_number}, "/me/contacts"
    if kind == NEEDS_RECONNECT:
        if account is None:
            return N_("A linked account needs to be connected again."), {}, "/me/accounts"
        return (
            N_("Your linked account %(handle)s needs to be connected again."),
            {"handle": account.handle},
            "/me/accounts",
        )
    if kind == FEED_PAUSED:
        if feed is None:
            return N_("A feed you read stopped working."), {}, "/me/notifications"
        return (
            N_("The feed %(feed)s stopped working: it is no longer fetched until it is refreshed."),
            {"feed": feed.title or feed.url},
            "/me/notifications",
        )
    return N_("Something happened."), {}, "/me/notifications"


def _answers(post_id: str | None, detail: str) -> tuple[str, dict[str, str], str]:
    """New replies to a post: who (the first of them) and where, and how many."""
    link = f"/posts/{post_id}" if post_id else "/posts"
    try:
        said = json.loads(detail) if detail else {}
    except ValueError:
        said = {}
    params = (
        {key: str(said.get(key, ""))[:100] for key in ("name", "network", "count")}
        if isinstance(said, dict)
        else {}
    )
    if not params.get("name") or not params.get("network"):
        return N_("Someone answered your post."), {}, link
    if params.get("count", "1") == "1":
        return N_("%(name)s answered your post on %(network)s."), params, link
    return (
        N_("%(count)s new answers to your post on %(network)s, the first by %(name)s."),
        params,
        link,
    )


_WHY_THIS_EMAIL = N_(
    "You receive this email because you asked for notifications by email; "
    "you can stop them in your settings at %(settings)s."
)


def _english(message: str, params: dict[str, str]) -> str:
    return message % params if params else message


async def notify(
    session: AsyncSession,
    user: User,
    kind: str,
    *,
    actor: User | None = None,
    account: LinkedAccount | None = None,
    feed: FeedSource | None = None,
    post_id: str | None = None,
    detail: str = "",
    mailer: Mailer | None = None,
) -> Notification:
    """Record a notification for ``user``; it reaches open pages and email once committed."""
    notification = Notification(
        user_id=user.id,
        kind=kind,
        actor_id=actor.id if actor is not None else None,
        linked_account_id=account.id if account is not None else None,
        feed_source_id=feed.id if feed is not None else None,
        post_id=post_id,
        detail=detail,
    )
    session.add(notification)
    await session.flush()
    info = _watch(session)
    info.setdefault("notified_users", set()).add(user.id)
    if mailer is not None and mailer.enabled and user.notify_by_email and user.email:
        card = None
        if actor is not None:
            [card] = await privacy.cards_for(session, user, [actor])
        message, params, link = _describe(kind, card, account, feed, post_id=post_id, detail=detail)
        language = user.language or i18n.DEFAULT  # no request: the reader's stored language
        text = i18n.translate(language, message, params)
        why = i18n.translate(language, _WHY_THIS_EMAIL, {"settings": f"{mailer.base_url}/me"})
        body = f"{text}\n\n{mailer.base_url}{link}\n\n{why}\n"
        send_after_commit(session, mailer, user.email, f"Portal: {text}", body)
    return notification


async def account_needs_reconnect(
    session: AsyncSession, account: LinkedAccount, *, mailer: Mailer | None = None
) -> None:
    """Tell the owner that one of their linked accounts stopped working."""
    owner = await session.get(User, account.user_id)
    if owner is not None:
        await notify(session, owner, NEEDS_RECONNECT, account=account, mailer=mailer)


async def feed_paused(
    session: AsyncSession, source: FeedSource, *, mailer: Mailer | None = None
) -> int:
    """Tell everyone who reads ``source`` that it stopped working and is no longer polled;
    how many were told."""
    readers = await session.scalars(
        select(User)
        .join(FeedSubscription, FeedSubscription.user_id == User.id)
        .where(FeedSubscription.source_id == source.id)
        .order_by(User.id)
    )
    told = 0
    for reader in readers.all():
        await notify(session, reader, FEED_PAUSED, feed=source, mailer=mailer)
        told += 1
    return told


# --- reading them -----------------------------------------------------------------------------


@dataclass(frozen=True)
class NotificationPage:
    items: list[Shown]
    unread: int
    page: int
    pages: int


async def _show(session: AsyncSession, user: User, rows: Sequence[Notification]) -> list[Shown]:
    """Notifications with their people's cards, accounts and feeds: four queries for any
    number."""
    actor_ids = sorted({row.actor_id for row in rows if row.actor_id is not None})
    account_ids = sorted({row.linked_account_id for row in rows if row.linked_account_id})
    feed_ids = sorted({row.feed_source_id for row in rows if row.feed_source_id})
    actors: list[User] = []
    if actor_ids:
        actors = list((await session.scalars(select(User).where(User.id.in_(actor_ids)))).all())
    cards = {card.user_id: card for card in await privacy.cards_for(session, user, actors)}
    accounts: dict[int, LinkedAccount] = {}
    if account_ids:
        found = await session.scalars(
            select(LinkedAccount).where(
                LinkedAccount.id.in_(account_ids), LinkedAccount.user_id == user.id
            )
        )
        accounts = {account.id: account for account in found}
    feeds: dict[int, FeedSource] = {}
    if feed_ids:
        sources = await session.scalars(select(FeedSource).where(FeedSource.id.in_(feed_ids)))
        feeds = {source.id: source for source in sources}
    shown = []
    for row in rows:
        actor = cards.get(row.actor_id) if row.actor_id is not None else None
        account = accounts.get(row.linked_account_id) if row.linked_account_id else None
        feed = feeds.get(row.feed_source_id) if row.feed_source_id else None
        message, params, link = _describe(
            row.kind, actor, account, feed, post_id=row.post_id, detail=row.detail
        )
        shown.append(
            Shown(
                id=row.id,
                kind=row.kind,
                message=message,
                params=params,
                link=link,
                created_at=row.created_at,
                read=row.read_at is not None,
                actor=actor,
            )
        )
    return shown


async def unread_count(session: AsyncSession, user: User) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
    )
    return int(count or 0)


async def list_notifications(
    session: AsyncSession,
    user: User,
    *,
    page: int = 1,
    per_page: int = PER_PAGE,
    unread_only: bool = False,
    mark_read: bool = False,
) -> NotificationPage:
    """My notifications, newest first, one page at a time.

    With ``mark_read`` the page is being looked at: its notifications are shown as they were
    (the new ones stand out) and become read.
    """
    per_page = min(max(per_page, 1), 100)
    page = max(page, 1)
    where = [Notification.user_id == user.id]
    if unread_only:
        where.append(Notification.read_at.is_(None))
    total = int(
        await session.scalar(select(func.count()).select_from(Notification).where(*where)) or 0
    )
    rows = (
        await session.scalars(
            select(Notification)
            .where(*where)
            .order_by(Notification.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
    ).all()
    items = await _show(session, user, rows)
    unseen = [row.id for row in rows if row.read_at is None]
    if mark_read and unseen:
        # What was read may be older than another writer's commit (the worker's, often):
        # on SQLite such a transaction cannot begin to write, so a fresh one does.
        await write_next(session)
        await session.execute(
            update(Notification)
            .where(Notification.user_id == user.id, Notification.id.in_(unseen))
            .values(read_at=utcnow())
        )
        await session.flush()
    return NotificationPage(
        items=items,
        unread=await unread_count(session, user),
        page=page,
        pages=max(1, -(-total // per_page)),
    )


async def newer_than(session: AsyncSession, user_id: int, last_id: int) -> list[Shown]:
    """The notifications after ``last_id``, oldest first, for the live stream."""
    user = await session.get(User, user_id)
    if user is None:
        return []
    rows = (
        await session.scalars(
            select(Notification)
            .where(Notification.user_id == user_id, Notification.id > last_id)
            .order_by(Notification.id)
            .limit(100)
        )
    ).all()
    return await _show(session, user, rows)


async def stream_news(
    session: AsyncSession, user_id: int, last_id: int, *, first: bool
) -> tuple[list[Shown], int | None]:
    """What the live stream pushes next: the notifications after ``last_id``, and how many
    are unread when there are some or on the stream's ``first`` read (else ``None``)."""
    news = await newer_than(session, user_id, last_id)
    if not news and not first:
        return news, None
    user = await session.get(User, user_id)
    return news, await unread_count(session, user) if user else 0


async def latest_id(session: AsyncSession, user: User) -> int:
    found = await session.scalar(
        select(func.max(Notification.id)).where(Notification.user_id == user.id)
    )
    return int(found or 0)


async def mark_read(session: AsyncSession, user: User, notification_id: int) -> Notification:
    """Mark one of my notifications read."""
    if not 0 < notification_id <= MAX_ID:
        raise NotFound("This notification does not exist.")
    row = await session.scalar(
        select(Notification).where(
            Notification.id == notification_id, Notification.user_id == user.id
        )
    )
    if row is None:
        raise NotFound("This notification does not exist.")
    if row.read_at is None:
        row.read_at = utcnow()
        await session.flush()
    return row


async def open_notification(session: AsyncSession, user: User, notification_id: int) -> str:
    """Open one of my notifications: it becomes read; where it points."""
    row = await mark_read(session, user, notification_id)
    [shown] = await _show(session, user, [row])
    return shown.link


async def mark_all_read(session: AsyncSession, user: User) -> int:
    """Mark every notification of mine read; how many were unread."""
    result = await session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    await session.flush()
    return int(getattr(result, "rowcount", 0) or 0)
