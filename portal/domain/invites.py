"""One-time invitations to become mutual contacts, for people who meet in person.

The link carries a random secret; only its SHA-256 digest is kept. An invitation works once,
for a day; a used, expired or unknown one gives one and the same answer.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from portal.domain import contacts, notifications, privacy
from portal.domain.notifications import Mailer
from portal.errors import N_, Conflict, InvalidInput, NotFound
from portal.storage.models import Invite, User, utcnow

INVITE_TTL = timedelta(hours=24)
MAX_LIVE_INVITES = 10
INVITE_GONE = N_(
    "This invitation does not work any more: it was already used, it expired, "
    "or the link is incomplete. Ask for a new one."
)


def invite_link(base_url: str, secret: str) -> str:
    return f"{base_url.rstrip('/')}/i/{secret}"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class NewInvite:
    secret: str
    """Shown once, in the link; only its digest is kept."""
    invite: Invite


async def create_invite(session: AsyncSession, user: User) -> NewInvite:
    """A one-time invitation to become my contact, valid for a day."""
    now = utcnow()
    live = await session.scalar(
        select(func.count())
        .select_from(Invite)
        .where(Invite.user_id == user.id, Invite.used_at.is_(None), Invite.expires_at > now)
    )
    if (live or 0) >= MAX_LIVE_INVITES:
        raise Conflict(
            "You already have %(max)d unused invitations. Wait until they are used or expire.",
            max=MAX_LIVE_INVITES,
        )
    secret = secrets.token_urlsafe(24)
    invite = Invite(id_hash=_digest(secret), user_id=user.id, expires_at=now + INVITE_TTL)
    session.add(invite)
    await session.flush()
    return NewInvite(secret, invite)


async def live_invites(session: AsyncSession, user: User) -> list[Invite]:
    """My invitations that still work, newest first."""
    return list(
        await session.scalars(
            select(Invite)
            .where(
                Invite.user_id == user.id, Invite.used_at.is_(None), Invite.expires_at > utcnow()
            )
            .order_by(Invite.created_at.desc())
        )
    )


async def _live_invite(session: AsyncSession, secret: str) -> Invite:
    if not 10 <= len(secret) <= 100:
        raise NotFound(INVITE_GONE)
    invite = await session.get(Invite, _digest(secret))
    if invite is None or invite.used_at is not None or invite.expires_at <= utcnow():
        raise NotFound(INVITE_GONE)
    return invite


async def invite_card(session: AsyncSession, viewer: User | None, secret: str) -> privacy.Card:
    """Who invites, as the viewer may see them; a used, expired or unknown invitation is one
    and the same error. Someone the inviter blocked finds it gone too."""
    invite = await _live_invite(session, secret)
    inviter = await session.get(User, invite.user_id)
    if inviter is None:
        raise NotFound(INVITE_GONE)
    [card] = await privacy.cards_for(session, viewer, [inviter])
    if card.relation is privacy.Relation.BLOCKED:
        raise NotFound(INVITE_GONE)
    return card


async def accept_invite(
    session: AsyncSession, user: User, secret: str, *, mailer: Mailer | None = None
) -> User:
    """Use an invitation: its maker and I become mutual contacts. Answers the maker."""
    card = await invite_card(session, user, secret)
    if card.relation is privacy.Relation.OWNER:
        raise InvalidInput("This is your own invitation: show it to the person you meet.")
    if card.relation is privacy.Relation.CONTACT:
        raise Conflict("You are already contacts.")
    if await contacts.is_blocked(session, user.id, card.user_id):
        raise Conflict("You blocked this person. Unblock them first.")
    # Used once only, even when two people open it at the same moment.
    result = await session.execute(
        update(Invite)
        .where(
            Invite.id_hash == _digest(secret),
            Invite.used_at.is_(None),
            Invite.expires_at > utcnow(),
        )
        .values(used_at=utcnow(), used_by_id=user.id)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise NotFound(INVITE_GONE)
    inviter = await session.get(User, card.user_id)
    assert inviter is not None
    await contacts.connect(session, user, inviter)
    await notifications.notify(
        session, inviter, notifications.INVITE_USED, actor=user, mailer=mailer
    )
    return inviter
