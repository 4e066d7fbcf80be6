"""The guided start after signing up: link the first accounts, choose who sees what, share
the number. It is shown once; finishing or skipping it is recorded on the account."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import connectors
from portal.domain import linking
from portal.domain.linking import LinkServices
from portal.domain.linking.accounts import NetworkInfo
from portal.domain.popular import POPULAR
from portal.errors import NotFound
from portal.storage.models import User, utcnow

START = "/me/start"
STEPS = (1, 2, 3)


@dataclass(frozen=True)
class FirstAccounts:
    """The first step: the common networks, and the accounts already linked."""

    networks: list[NetworkInfo]
    linked: list[dict[str, Any]]


def step(text: str) -> int:
    """The step asked for by ``?step=``; anything but 1, 2 or 3 is not a page."""
    if text not in {str(number) for number in STEPS}:
        raise NotFound("There is no such step.")
    return int(text)


async def first_accounts(
    session: AsyncSession, user: User, services: LinkServices
) -> FirstAccounts:
    registry = connectors.registry()
    networks = [
        linking.network_info(services, registry[name]) for name in POPULAR if name in registry
    ]
    accounts = await linking.list_accounts(session, user)
    return FirstAccounts(networks, [linking.describe(account) for account in accounts])


def landing(user: User) -> str:
    """Where a person goes once signed in without asking for a page: the guided start once
    their address is confirmed and until they finished or skipped it, else their page."""
    if user.guide_done_at is None and user.email_confirmed_at is not None:
        return START
    return "/me"


def after_linking(user: User) -> str:
    """Where a person goes once an account is linked (through its network's site, by signing
    in or by a code): back to the guided start while they are on it, else their list."""
    if user.guide_done_at is None and user.email_confirmed_at is not None:
        return START
    return "/me/accounts?linked=1"


async def finish(session: AsyncSession, user: User) -> None:
    """Record that the guided start is done (finished or skipped): it is not shown again."""
    if user.guide_done_at is None:
        user.guide_done_at = utcnow()
        await session.flush()
