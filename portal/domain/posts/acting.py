"""Acting for a linked account in the background (delivering a post or a message, changing a
post, reading answers): an OAuth token that expires soon renewed before the network is
called, and a session the network renewed on the way (a Bluesky app password's) kept after,
so that the next job starts from what the network holds now."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors import base
from portal.db import session_scope
from portal.domain import linking
from portal.domain.linking import oauth
from portal.domain.linking.services import LinkServices, connector
from portal.storage.models import LinkedAccount


async def renew_token(
    sessions: async_sessionmaker[AsyncSession], services: LinkServices, account_id: int
) -> base.Credentials | None:
    """Renew the account's OAuth token (this calls its server, so no other transaction may
    wait on it: call it when :func:`portal.domain.linking.oauth.refresh_due` said so, before
    the work); the credentials after, ``None`` when it could not be renewed."""
    async with session_scope(sessions) as session:
        account = await session.get(LinkedAccount, account_id)
        if account is None or not await oauth.refresh(session, services, account):
            return None
        return linking.load_credentials(services, account)


async def keep_renewed(
    sessions: async_sessionmaker[AsyncSession],
    services: LinkServices,
    account_id: int,
    before: base.Credentials | None,
    instance: base.Connector,
) -> None:
    """Keep the credentials the connector renewed while it worked, if it did."""
    if before is None or instance.credentials == before:
        return
    async with session_scope(sessions, writing=True) as session:
        account = await session.get(LinkedAccount, account_id)
        if account is not None:
            linking.store_credentials(services, account, instance.credentials)


@contextlib.asynccontextmanager
async def acting_for(
    sessions: async_sessionmaker[AsyncSession],
    services: LinkServices,
    account: LinkedAccount,
    credentials: base.Credentials,
) -> AsyncIterator[base.Connector]:
    """The connector of ``account`` acting with ``credentials``, with no transaction open:
    its OAuth token renewed first when it expires soon, and what the network renewed on the
    way kept after."""
    cls = connector(account.network)
    if oauth.refresh_due(cls, account, credentials):
        credentials = await renew_token(sessions, services, account.id) or credentials
    async with services.http() as http:
        instance = cls(account.handle, credentials, http, context=services.context)
        try:
            yield instance
        finally:
            await keep_renewed(sessions, services, account.id, credentials, instance)
