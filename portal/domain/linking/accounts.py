"""Linked accounts: the accounts behind a number — added, proven, ordered, checked, removed.

An account is *unverified* when its owner only typed its handle, *verified* once ownership was
proven (OAuth, signing in, a signed login widget, an emailed code, or a link back from a public
page), and *needs reconnect* when the network stopped accepting what we hold for it. What acts
for an account (tokens, an XMPP password) is kept encrypted in ``LinkedAccount.secrets``.
Whenever an account is added, proven or given another handle, its public feed (what the
people who follow its owner's number read) is pointed at too (:mod:`portal.domain.feeds.accounts`),
and a proven account that can read (a Mastodon home timeline, a Bluesky follow list) becomes a
private source of its owner's feed (:mod:`portal.domain.feeds.timelines`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

import connectors
from connectors import base
from portal.crypto import SecretUnreadable, Vault
from portal.domain.feeds import accounts as feed_accounts
from portal.domain.feeds import timelines
from portal.domain.linking.services import LinkServices, connector, normalize
from portal.domain.linking.strategies import ConfiguredApp, strategy_for
from portal.errors import Conflict, InvalidInput, NotFound
from portal.storage.models import MAX_ID, LinkAttempt, LinkedAccount, OAuthApp, User, utcnow

log = logging.getLogger(__name__)

UNVERIFIED = "unverified"
VERIFIED = "verified"
NEEDS_RECONNECT = "needs_reconnect"
MAX_ACCOUNTS = 100
REFRESH_MARGIN = timedelta(minutes=5)
"""Tokens that expire within this margin are refreshed before they are used."""


# -- networks ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkInfo:
    name: str
    label: str
    auth: str
    capabilities: list[str]
    handle_label: str
    handle_example: str
    link_only: bool
    servers: list[tuple[str, str]]
    """Choices of server where the portal's settings list them (OpenID Connect providers)."""
    available: bool
    """``False`` when the portal lacks what proving such an account needs (a bot token…)."""
    one_server: bool = False
    """The network has one authorization server, where the portal is registered as an app
    (VK ID, Facebook Login): nobody names a server to link an account there."""


def network_info(services: LinkServices, cls: type[base.Connector]) -> NetworkInfo:
    """What a network can do, and whether this portal can prove accounts on it."""
    proof = strategy_for(cls)
    available = proof.available(services)
    return NetworkInfo(
        name=cls.NAME,
        label=cls.LABEL,
        auth=cls.AUTH,
        capabilities=base.capabilities(cls),
        handle_label=cls.HANDLE_LABEL,
        handle_example=cls.HANDLE_EXAMPLE,
        # Without the portal's app, a network of one OAuth server is a handle with links.
        link_only=cls.LINK_ONLY or (isinstance(proof, ConfiguredApp) and not available),
        servers=proof.servers(services),
        available=available,
        one_server=isinstance(proof, ConfiguredApp),
    )


def networks(services: LinkServices) -> list[NetworkInfo]:
    """Every network a person can add, and what each can do."""
    return [network_info(services, cls) for cls in connectors.registry().values()]


# -- the list --------------------------------------------------------------------------------


async def list_accounts(session: AsyncSession, user: User) -> list[LinkedAccount]:
    stmt = (
        select(LinkedAccount)
        .where(LinkedAccount.user_id == user.id)
        .order_by(LinkedAccount.position, LinkedAccount.id)
    )
    return list((await session.scalars(stmt)).all())


async def get_account(session: AsyncSession, user: User, account_id: int) -> LinkedAccount:
    found = await session.get(LinkedAccount, account_id) if 0 < account_id <= MAX_ID else None
    if found is None or found.user_id != user.id:
        raise NotFound("This linked account does not exist.")
    return found


async def _next_position(session: AsyncSession, user: User) -> int:
    count, highest = (
        await session.execute(
            select(func.count(), func.max(LinkedAccount.position)).where(
                LinkedAccount.user_id == user.id
            )
        )
    ).one()
    if count >= MAX_ACCOUNTS:
        raise Conflict("You can link at most %(max)d accounts.", max=MAX_ACCOUNTS)
    return (highest or 0) + 1 if count else 0


async def find_account(
    session: AsyncSession, user: User, network: str, handle: str
) -> LinkedAccount | None:
    stmt = select(LinkedAccount).where(
        LinkedAccount.user_id == user.id,
        LinkedAccount.network == network,
        LinkedAccount.handle == handle,
    )
    return (await session.scalars(stmt)).one_or_none()


def _already_linked(cls: type[base.Connector], handle: str) -> Conflict:
    return Conflict(
        "%(network)s %(handle)s is already linked.",
        network=cls.LABEL,
        handle=cls.display_handle(handle),
    )


async def add_handle(
    session: AsyncSession,
    user: User,
    network: str,
    handle: str,
    *,
    context: base.Context = base.PUBLIC,
) -> LinkedAccount:
    """Add an account by its handle alone: shown, marked unverified. Handles on servers of
    this machine are read only where ``context`` allows them (a development portal)."""
    cls = connector(network)
    normalized = normalize(cls, handle, context)
    if await find_account(session, user, network, normalized) is not None:
        raise _already_linked(cls, normalized)
    linked = LinkedAccount(
        user_id=user.id,
        network=network,
        handle=normalized,
        status=UNVERIFIED,
        position=await _next_position(session, user),
    )
    session.add(linked)
    try:
        await session.flush()
    except IntegrityError as error:
        raise _already_linked(cls, normalized) from error
    await feed_accounts.set_feed(session, linked)
    return linked


def handle_editable(account: LinkedAccount) -> bool:
    """Whether its owner may correct the handle: only of an account they typed. A proven
    account (verified, or verified once and now waiting to be reconnected) keeps the handle
    its network gave; were it edited, the proof would speak of another account."""
    return account.status == UNVERIFIED and not account.external_id


def handle_to_edit(account: LinkedAccount) -> str:
    """The handle to put in the form that edits it: as people write it (``@ada``) where that
    is read back as the same handle, else as it is kept."""
    cls = connectors.get(account.network)
    if cls is None:
        return account.handle
    shown = cls.display_handle(account.handle)
    try:
        same = cls.normalize_handle(shown) == account.handle
    except base.ConnectorError:
        same = False
    return shown if same else account.handle


def check_handle_editable(account: LinkedAccount) -> None:
    """:class:`~portal.errors.Conflict` unless :func:`handle_editable`."""
    if not handle_editable(account):
        raise Conflict(
            "The handle of a verified account is the one its network gave: it cannot be "
            "edited here."
        )


async def change_handle(
    session: AsyncSession,
    user: User,
    account_id: int,
    handle: str,
    *,
    context: base.Context = base.PUBLIC,
) -> LinkedAccount:
    """Correct the handle of an account added by hand (a typo, a changed username), checked
    and normalised as when it was added; it keeps its place in the list and its audience.
    A code mailed to the old address, if one is waiting, no longer counts."""
    account = await get_account(session, user, account_id)
    cls = connector(account.network)
    check_handle_editable(account)
    normalized = normalize(cls, handle, context)
    if normalized == account.handle:
        return account
    if await find_account(session, user, account.network, normalized) is not None:
        raise _already_linked(cls, normalized)
    try:  # in a savepoint: the list can still be read to show the message in it
        async with session.begin_nested():
            account.handle = normalized
            account.display_name = ""
            account.problem = ""
            await session.execute(
                delete(LinkAttempt).where(LinkAttempt.linked_account_id == account.id)
            )
    except IntegrityError as error:  # the same handle, written meanwhile by another request
        raise _already_linked(cls, normalized) from error
    await feed_accounts.set_feed(session, account)
    return account


async def save_proven(
    session: AsyncSession,
    services: LinkServices,
    user: User,
    network: str,
    linked: base.Linked,
    *,
    proof: str,
    server: str = "",
    account_id: int | None = None,
) -> tuple[LinkedAccount, base.Credentials | None]:
    """Record a proven account (a new one, or the one that was reconnected or verified), and
    the credentials it replaced: those the account held when it was last proven the same way
    (tokens to revoke), else ``None``."""
    cls = connector(network)
    handle = normalize(cls, linked.actor.handle, services.context)
    existing = await find_account(session, user, network, handle)
    if account_id is not None:
        target = await get_account(session, user, account_id)
        if existing is not None and existing.id != target.id:
            raise _already_linked(cls, handle)
        if target.external_id and target.external_id != linked.actor.id:
            raise InvalidInput(
                "You signed in as another %(network)s account than the one you are reconnecting.",
                network=cls.LABEL,
            )
        existing = target
    replaced = None
    if existing is None:
        existing = LinkedAccount(
            user_id=user.id, network=network, position=await _next_position(session, user)
        )
        session.add(existing)
    elif existing.verified_by == proof:
        replaced = load_credentials(services, existing)
    existing.handle = handle
    existing.server = server
    existing.external_id = linked.actor.id[:320]
    existing.display_name = linked.actor.display_name[:200]
    mark_verified(existing, proof)
    store_credentials(services, existing, linked.credentials)
    await session.flush()
    await feed_accounts.set_feed(session, existing, known=linked.credentials.extra)
    await timelines.set_timeline(session, existing)
    return existing, replaced


def store_credentials(
    services: LinkServices, account: LinkedAccount, credentials: base.Credentials | None
) -> None:
    if credentials is None or not (
        credentials.access_token or credentials.refresh_token or credentials.extra
    ):
        account.secrets = None
        account.token_expires_at = None
        return
    account.secrets = services.vault.encrypt_json(
        {
            "access_token": credentials.access_token,
            "refresh_token": credentials.refresh_token,
            "scope": credentials.scope,
            "extra": dict(credentials.extra),
        }
    )
    account.token_expires_at = credentials.expires_at


def load_credentials(services: LinkServices, account: LinkedAccount) -> base.Credentials | None:
    if not account.secrets:
        return None
    try:
        value = services.vault.decrypt_json(account.secrets)
    except SecretUnreadable:
        log.warning("linked account %s: credentials unreadable with the current keys", account.id)
        return None
    return base.Credentials(
        access_token=str(value.get("access_token", "")),
        refresh_token=str(value.get("refresh_token", "")),
        expires_at=account.token_expires_at,
        scope=str(value.get("scope", "")),
        extra=dict(value.get("extra") or {}),
    )


def mark_verified(account: LinkedAccount, proof: str) -> None:
    account.status = VERIFIED
    account.verified_by = proof
    account.verified_at = utcnow()
    account.problem = ""


def mark_needs_reconnect(account: LinkedAccount, reason: str) -> None:
    account.status = NEEDS_RECONNECT
    account.problem = reason[:300]


async def move(
    session: AsyncSession, user: User, account_id: int, offset: int = 0, *, to: int | None = None
) -> LinkedAccount:
    """Move one account up (``offset`` < 0) or down the list, or ``to`` a place in it."""
    accounts = await list_accounts(session, user)
    index = next((i for i, a in enumerate(accounts) if a.id == account_id), None)
    if index is None:
        raise NotFound("This linked account does not exist.")
    target = min(max(index + offset if to is None else to, 0), len(accounts) - 1)
    moved = accounts.pop(index)
    accounts.insert(target, moved)
    for position, linked in enumerate(accounts):
        linked.position = position
    await session.flush()
    return moved


async def reorder(session: AsyncSession, user: User, order: list[int]) -> list[LinkedAccount]:
    """Put the accounts in the given order; it must name each of them exactly once."""
    accounts = {a.id: a for a in await list_accounts(session, user)}
    if sorted(order) != sorted(accounts):  # ids are unique: no repeats, none left out
        raise InvalidInput("Give every one of your linked accounts exactly once.", field="order")
    for position, account_id in enumerate(order):
        accounts[account_id].position = position
    await session.flush()
    return [accounts[account_id] for account_id in order]


def describe(account: LinkedAccount) -> dict[str, Any]:
    """What pages and the API show of an account (links made by its connector)."""
    return describe_handle(account.network, account.handle)


def describe_handle(network: str, handle: str) -> dict[str, Any]:
    """:func:`describe` of the account ``handle`` on ``network``."""
    cls = connectors.get(network)
    if cls is None:  # a network removed from this version: still listed, no links
        return {"network": network, "label": network, "handle": handle, "url": None, "app": None}
    return {
        "network": network,
        "label": cls.LABEL,
        "handle": cls.display_handle(handle),
        "url": cls.profile_url(handle),
        "app": cls.deep_link(handle),
    }


async def rotate_secrets(
    session: AsyncSession, vault: Vault, progress: Callable[[int, int], None] | None = None
) -> int:
    """Re-encrypt every stored secret under the newest key; returns how many were."""
    tables: list[Any] = [LinkedAccount, OAuthApp, LinkAttempt]
    total = 0
    for model in tables:
        total += (
            await session.scalar(
                select(func.count()).select_from(model).where(model.secrets.is_not(None))
            )
            or 0
        )
    done = 0
    for model in tables:
        rows = await session.scalars(select(model).where(model.secrets.is_not(None)))
        for row in rows:
            row.secrets = vault.rotate(row.secrets)
            done += 1
            if progress is not None:
                progress(done, total)
    await session.flush()
    return done
