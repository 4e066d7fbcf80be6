"""Keeping linked accounts working: check them, and end them cleanly."""

from __future__ import annotations

import logging

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from connectors import base
from portal.db import write_next
from portal.domain import linking
from portal.domain.feeds import accounts as feed_accounts
from portal.domain.feeds import timelines
from portal.domain.linking import oauth
from portal.domain.linking.services import LinkServices, connector
from portal.errors import PortalError
from portal.storage.models import LinkedAccount, User

log = logging.getLogger(__name__)


async def check_account(
    session: AsyncSession, services: LinkServices, user: User, account_id: int
) -> LinkedAccount:
    """Ask the network whether the connection still works; refresh its token when due.

    An account whose token was revoked, or whose refresh failed, moves to *needs reconnect*
    (see :func:`~portal.domain.linking.oauth.connection_lost`); one that works again leaves
    that state.
    """
    account = await linking.get_account(session, user, account_id)
    cls = connector(account.network)
    if not cls.CAN_VERIFY or account.status == linking.UNVERIFIED:
        return account
    refreshed = not oauth.is_oauth(cls, account) or await oauth.refresh(session, services, account)
    if not refreshed and account.status == linking.NEEDS_RECONNECT:
        return account
    lost = await _ask_network(services, cls, account)
    if lost is not None:
        await oauth.connection_lost(session, services, account, lost)
    await session.flush()
    await timelines.set_timeline(session, account)  # working again: its timeline is read again
    return account


async def _ask_network(
    services: LinkServices, cls: type[base.Connector], account: LinkedAccount
) -> str | None:
    """Who the credentials belong to now, and what that means for the account's status: why
    the connection is lost, or None."""
    credentials = linking.load_credentials(services, account)
    if credentials is None:
        return oauth.RECONNECT_MESSAGE
    async with services.http() as http:
        instance = cls(account.handle, credentials, http, context=services.context)
        try:
            actor = await instance.get_actor()
        except base.AuthRevoked:
            return oauth.RECONNECT_MESSAGE
        except (base.Retriable, httpx.HTTPError) as error:
            account.problem = f"{cls.LABEL} did not answer the last check."[:300]
            log.info("check of linked account %s failed: %s", account.id, error)
            return None
        except base.ConnectorError as error:
            account.problem = error.message[:300]
            return None
    if instance.credentials != credentials:  # the connector renewed its session
        linking.store_credentials(services, account, instance.credentials)
    if account.external_id and actor.id != account.external_id:
        return "The connection now belongs to another account."
    account.status = linking.VERIFIED
    account.problem = ""
    account.display_name = actor.display_name[:200] or account.display_name
    return None


async def remove_account(
    session: AsyncSession, services: LinkServices, user: User, account_id: int
) -> bool:
    """Unlink an account, revoking its tokens first where the network allows; ``True`` if it
    revoked them. A network that cannot be reached does not stop the unlinking."""
    account = await linking.get_account(session, user, account_id)
    cls = connector(account.network)
    revoked = False
    credentials = linking.load_credentials(services, account)
    if credentials is not None:
        try:
            if oauth.is_oauth(cls, account):
                revoked = await oauth.revoke(session, services, account, credentials)
            else:
                async with services.http() as http:
                    connection = cls(account.handle, credentials, http, context=services.context)
                    revoked = await connection.revoke()
        except (base.ConnectorError, httpx.HTTPError, PortalError) as error:
            log.warning("revoking linked account %s failed: %s", account.id, error)
    await write_next(session)
    source_id = account.feed_source_id
    await timelines.forget_account(session, account)
    await session.delete(account)
    await session.flush()
    if source_id is not None:
        await feed_accounts.forget_if_unread(session, source_id)
    return revoked
