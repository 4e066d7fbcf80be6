"""Acting for a linked account in the background (reading a post's answers, changing its
text): its OAuth token renewed before the network is called, when it expires soon, and a
session the network renewed on the way (a Bluesky app password's) kept after, so that the
next job, or the next delivery, starts from what the network holds now."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors import base
from portal.db import session_scope
from portal.domain import linking
from portal.domain.linking import oauth
from portal.domain.linking.services import LinkServices, connector
from portal.storage.models import LinkedAccount


async def renewed_token(
    sessions: async_sessionmaker[AsyncSession], services: LinkServices, account_id: int
) -> base.Credentials | None:
    """The account's credentials after renewing its OAuth token, when it expired soon (this
    calls its server); ``None`` when there was nothing to renew, or it could not be."""
    async with session_scope(sessions) as session:
        account = await session.get(LinkedAccount, account_id)
        if account is None or not oauth.is_oauth(connector(account.network), account):
            return None
        before = linking.load_credentials(services, account)
        if not await oauth.refresh(session, services, account):
            return None
        after = linking.load_credentials(services, account)
    return after if after != before else None


async def keep_renewed(
    sessions: async_sessionmaker[AsyncSession],
    services: LinkServices,
    account_id: int,
    before: base.Credentials,
    instance: base.Connector,
) -> None:
    """Keep the credentials the connector renewed while it worked, if it did."""
    if instance.credentials == before:
        return
    async with session_scope(sessions, writing=True) as session:
        account = await session.get(LinkedAccount, account_id)
        if account is not None:
            linking.store_credentials(services, account, instance.credentials)
