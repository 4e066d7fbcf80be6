"""Linking by OAuth 2 / OpenID Connect: authorization code with PKCE, state and nonce.

The flow (RFC 6749 §4.1, RFC 7636, OpenID Connect Core §3.1):
1. :func:`start` makes a random ``state``, a PKCE verifier (S256) and, for OpenID Connect, a
   ``nonce``; it keeps them encrypted in a :class:`LinkAttempt` keyed by the SHA-256 of the
   state, valid ten minutes, and returns the authorization URL with the exact redirect URI.
2. :func:`finish` takes the callback's ``state`` and ``code``: the attempt must exist, belong
   to the signed-in person and the same network, and not be expired; it is used once. The code
   is exchanged with the verifier; an ID token is validated (signature by JWKS, ``iss``,
   ``aud``, ``exp``, ``nonce``); the account is asked who it is and recorded as verified.

Tokens are refreshed shortly before they expire (:func:`refresh`) and revoked on unlink where
the server has a revocation endpoint (RFC 7009); :mod:`.tokens` talks to those endpoints.

The steps that differ between OAuth 2 with a registered client (Mastodon), OpenID Connect and
Bluesky (AT Protocol OAuth: the request pushed first (PAR), the tokens bound to a DPoP key, the
callback's ``iss`` naming the server the link started at (RFC 9207) and the token answer the
account it started from) are the connector's strategy's (:mod:`.strategies`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import httpx
from authlib.common.security import generate_token
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

import connectors
from connectors import base
from portal.db import write_next
from portal.domain import linking, notifications
from portal.domain.linking import tokens
from portal.domain.linking.services import LinkServices, connector, connector_errors
from portal.domain.linking.strategies import OAuthFlow, oauth_flow, strategy_for
from portal.errors import Conflict, InvalidInput, PortalError
from portal.storage.models import LinkAttempt, LinkedAccount, User, utcnow

log = logging.getLogger(__name__)

ATTEMPT_TTL = timedelta(minutes=10)
MAX_PENDING = 20


def is_oauth(cls: type[base.Connector], account: LinkedAccount) -> bool:
    """Whether the account's tokens come from this module (refreshed, revoked and reconnected
    here): AT Protocol accounts linked by an app password hold a session of their own."""
    return strategy_for(cls).holds_tokens(account)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _oauth_connector(network: str) -> tuple[type[base.Connector], OAuthFlow]:
    cls = connector(network)
    flow = oauth_flow(cls)
    if flow is None:
        raise InvalidInput(
            "%(network)s accounts are not linked by authorizing on its site.", network=cls.LABEL
        )
    return cls, flow


async def start(
    session: AsyncSession,
    services: LinkServices,
    user: User,
    network: str,
    server: str,
    *,
    account_id: int | None = None,
) -> str:
    """Begin linking (or reconnecting ``account_id``); returns the URL to send the person to."""
    cls, flow = _oauth_connector(network)
    if account_id is not None:
        account = await linking.get_account(session, user, account_id)
        if account.network != network:
            raise InvalidInput("This account is on another network.")
        server = server or flow.reconnect_server(account)
    server = flow.normalize_server(cls, server, services)
    by_oauth = [name for name, c in connectors.registry().items() if oauth_flow(c) is not None]
    pending = await session.scalar(
        select(func.count())
        .select_from(LinkAttempt)
        .where(
            LinkAttempt.user_id == user.id,
            LinkAttempt.network.in_(by_oauth),
            LinkAttempt.expires_at >= utcnow(),
        )
    )
    if (pending or 0) >= MAX_PENDING:
        raise Conflict("Too many links are under way. Finish one, or wait ten minutes.")
    state = generate_token(43)
    verifier = generate_token(64)
    url, kept, kept_server = await flow.authorization_url(
        session, services, cls, server, state, verifier
    )
    # The server was called: what is written now goes in a transaction that writes from its
    # start, not in the one that read before the call (see portal.db.write_next).
    await write_next(session)
    await session.execute(delete(LinkAttempt).where(LinkAttempt.expires_at < utcnow()))
    await _keep_attempt(session, services, user, network, kept_server, account_id, state, kept)
    return url


async def _keep_attempt(
    session: AsyncSession,
    services: LinkServices,
    user: User,
    network: str,
    server: str,
    account_id: int | None,
    state: str,
    kept: dict[str, Any],
) -> None:
    """Remember a started link (encrypted) under the digest of its ``state``."""
    session.add(
        LinkAttempt(
            id_hash=_digest(state),
            user_id=user.id,
            network=network,
            server=server,
            linked_account_id=account_id,
            secrets=services.vault.encrypt_json(kept),
            expires_at=utcnow() + ATTEMPT_TTL,
        )
    )
    await session.flush()


async def _consume(session: AsyncSession, user: User, network: str, state: str) -> LinkAttempt:
    """The attempt that ``state`` names, removed so that it serves once."""
    attempt = await session.get(LinkAttempt, _digest(state)) if 0 < len(state) <= 200 else None
    if attempt is None or attempt.user_id != user.id or attempt.network != network:
        raise InvalidInput(
            "This answer does not belong to a link you started here, or it was already used. "
            "Start linking again."
        )
    await session.delete(attempt)
    await session.flush()
    if attempt.expires_at < utcnow():
        raise InvalidInput("This link took longer than ten minutes. Start linking again.")
    return attempt


async def finish(
    session: AsyncSession,
    services: LinkServices,
    user: User,
    network: str,
    *,
    state: str,
    code: str,
    error: str = "",
    error_description: str = "",
    iss: str = "",
    returned: Mapping[str, str] | None = None,
) -> LinkedAccount:
    """Complete a link from the provider's answer; the account shows as verified.

    ``iss`` names the server that answered (RFC 9207): AT Protocol servers always send it, and
    where any server sends it, it must be the one the link started at. ``returned`` is the
    whole answer, of which the connector's :attr:`~connectors.base.Connector.OAUTH_RETURNS`
    are kept for its token requests."""
    cls, flow = _oauth_connector(network)
    attempt = await _consume(session, user, network, state)
    answer = {name: str((returned or {}).get(name) or "")[:500] for name in cls.OAUTH_RETURNS}
    if error:
        if error == "access_denied":
            raise InvalidInput(
                "You did not allow the link on %(network)s. Nothing was linked.", network=cls.LABEL
            )
        detail = (error_description or error)[:200]
        raise InvalidInput(
            "%(network)s did not authorize the link: %(detail)s", network=cls.LABEL, detail=detail
        )
    if not code or len(code) > 2000:
        raise InvalidInput(
            "%(network)s sent no authorization code. Start linking again.", network=cls.LABEL
        )
    kept = services.vault.decrypt_json(attempt.secrets)
    label = flow.label(cls, attempt.server, services)
    metadata = tokens.server_from(kept["metadata"])
    if (iss or flow.names_issuer) and iss != metadata.issuer:
        raise InvalidInput(
            "This answer did not come from the %(network)s server the link started at. "
            "Start linking again.",
            network=label,
        )
    dpop = flow.dpop(kept)
    async with services.http() as http:
        party = await flow.party(session, services, cls, attempt.server, http, metadata=metadata)
        with connector_errors(label):
            payload = await tokens.token_request(
                http,
                party,
                label,
                {
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": party.client.redirect_uri,
                    "code_verifier": kept["verifier"],
                    **cls.token_parameters("authorization_code", answer),
                },
                dpop,
            )
        try:
            with connector_errors(label):
                subject, account = await flow.proven(payload, party, kept, dpop, http, label)
                credentials = tokens.credentials_from(payload, party, attempt.server, account)
                credentials = await cls.oauth_linked(
                    payload, credentials, answer, party.client, http, context=services.context
                )
                actor = await cls("", credentials, http, context=services.context).get_actor()
            if subject is not None and actor.id != subject:
                raise InvalidInput(
                    "%(network)s described another account than the one that signed in.",
                    network=label,
                )
            linked, replaced = await linking.save_proven(
                session,
                services,
                user,
                network,
                base.Linked(actor, credentials),
                proof="oauth",
                server=attempt.server,
                account_id=attempt.linked_account_id,
            )
        except Exception:
            # Nothing was linked: the tokens just received must not outlive the attempt.
            received = tokens.tokens_of(
                base.Credentials(
                    access_token=str(payload["access_token"]),
                    refresh_token=str(payload.get("refresh_token") or ""),
                )
            )
            try:
                if flow.tokens_per_link:
                    await tokens.revoke_quietly(http, party, received, dpop, network)
            except Exception as error:  # the link's own error is the one to tell
                log.warning("revoking the tokens of a failed %s link failed: %s", network, error)
            raise
        if replaced is not None and flow.tokens_per_link:  # old tokens serve no more
            await _revoke_replaced(session, services, flow, linked, replaced, credentials, http)
    return linked


async def _revoke_replaced(
    session: AsyncSession,
    services: LinkServices,
    flow: OAuthFlow,
    account: LinkedAccount,
    replaced: base.Credentials,
    kept: base.Credentials,
    http: httpx.AsyncClient,
) -> None:
    """Revoke the tokens a reconnect replaced (never the ones it keeps); failures are logged."""
    still_used = {kept.access_token, kept.refresh_token}
    old = [(token, hint) for token, hint in tokens.tokens_of(replaced) if token not in still_used]
    if not any(token for token, _ in old):
        return
    try:
        _, party = await _party_of(session, services, account, replaced, http)
        await tokens.revoke_quietly(http, party, old, flow.dpop(replaced.extra), account.network)
    except (base.ConnectorError, PortalError, httpx.HTTPError, ValueError) as error:
        # The account is linked with its new tokens whatever the server says to this.
        log.warning("revoking the replaced %s tokens failed: %s", account.network, error)


async def _party_of(
    session: AsyncSession,
    services: LinkServices,
    account: LinkedAccount,
    credentials: base.Credentials,
    http: httpx.AsyncClient,
) -> tuple[OAuthFlow, tokens.Party]:
    """The account's way of authorizing, and the server and client its tokens were issued to."""
    cls, flow = _oauth_connector(account.network)
    flow.check_offered(account, services)
    kept = flow.kept_party(cls, credentials, services)
    if kept is not None:
        return flow, kept
    # Linked before the client was kept with the tokens: the app registered now.
    metadata = tokens.server_from(credentials.extra)
    return flow, await flow.party(session, services, cls, account.server, http, metadata=metadata)


RECONNECT_MESSAGE = "The network no longer accepts this connection. Connect it again."


async def connection_lost(
    session: AsyncSession,
    services: LinkServices,
    account: LinkedAccount,
    reason: str = RECONNECT_MESSAGE,
) -> None:
    """The account *needs reconnect*, for ``reason``; its owner is told once, when it moves
    into that state, not at every check that finds it there."""
    before = account.status
    linking.mark_needs_reconnect(account, reason)
    await session.flush()
    if before != linking.NEEDS_RECONNECT:
        await notifications.account_needs_reconnect(
            session, account, mailer=notifications.Mailer.of(services)
        )


def refresh_due(
    cls: type[base.Connector], account: LinkedAccount, credentials: base.Credentials | None
) -> bool:
    """Whether :func:`refresh` would call the account's server now: its tokens are this
    module's, it holds a refresh token, and the access token expires soon. Read from what
    the caller loaded, so that those with nothing to renew cost no transaction."""
    return (
        credentials is not None
        and bool(credentials.refresh_token)
        and is_oauth(cls, account)
        and _expires_soon(account)
    )


def _expires_soon(account: LinkedAccount) -> bool:
    expires = account.token_expires_at
    return expires is not None and expires - linking.REFRESH_MARGIN <= utcnow()


async def refresh(
    session: AsyncSession, services: LinkServices, account: LinkedAccount, *, force: bool = False
) -> bool:
    """Refresh the account's token if it expires soon; ``False`` when it could not be."""
    credentials = linking.load_credentials(services, account)
    if credentials is None or not credentials.refresh_token:
        return False
    if not force and not _expires_soon(account):
        return True
    async with services.http() as http:
        flow, party = await _party_of(session, services, account, credentials, http)
        dpop = flow.dpop(credentials.extra)
        try:
            payload = await tokens.token_request(
                http,
                party,
                party.server.issuer,
                {
                    "grant_type": "refresh_token",
                    "refresh_token": credentials.refresh_token,
                    **connector(account.network).token_parameters(
                        "refresh_token", credentials.extra
                    ),
                },
                dpop,
            )
            kept = flow.renewed(payload, credentials, dpop, party.server.issuer)
        except base.PermanentError:
            await connection_lost(session, services, account)
            return False
    renewed = tokens.credentials_from(payload, party, account.server, kept)
    if not renewed.refresh_token:  # the server did not rotate it: keep the one we had
        renewed = base.Credentials(
            renewed.access_token,
            credentials.refresh_token,
            renewed.expires_at,
            renewed.scope,
            renewed.extra,
        )
    linking.store_credentials(services, account, renewed)
    await session.flush()
    return True


async def revoke(
    session: AsyncSession,
    services: LinkServices,
    account: LinkedAccount,
    credentials: base.Credentials,
) -> bool:
    """Ask the server to forget the account's tokens (RFC 7009, or the network's own way);
    ``False`` if it cannot."""
    async with services.http() as http:
        flow, party = await _party_of(session, services, account, credentials, http)
        return await flow.revoke(session, services, account, credentials, party, http)
