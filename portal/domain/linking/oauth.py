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
the server has a revocation endpoint (RFC 7009). URL and body encoding come from authlib.

Bluesky (AT Protocol OAuth) follows the same steps with what its profile adds: the request is
pushed first (PAR), the tokens are bound to a DPoP key, the callback's ``iss`` must name the
server the link started at (RFC 9207) and the token answer the account it started from;
:mod:`portal.domain.linking.atproto` holds those differences.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict
from datetime import timedelta
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

import connectors
from connectors import _atproto_oauth as atproto_oauth
from connectors import base
from connectors import oidc as openid
from connectors._atproto_oauth import DPoP
from portal.domain import linking, notifications
from portal.domain.linking import atproto, tokens
from portal.domain.linking.services import LinkServices, connector, connector_errors
from portal.errors import Conflict, InvalidInput, NotFound, PortalError
from portal.storage.models import LinkAttempt, LinkedAccount, OAuthApp, User, utcnow

log = logging.getLogger(__name__)

ATTEMPT_TTL = timedelta(minutes=10)
MAX_PENDING = 20
OAUTH_AUTH = ("oauth2", "oidc", "atproto")
TOKENS_PER_LINK = ("oauth2", "atproto")
"""Where every authorization gets tokens of its own, so that revoking the tokens of a failed
link, or the ones a reconnect replaced, ends nothing else. An OpenID provider may give a new
sign-in the grant of an earlier one (node oidc-provider does within one browser session), and
revoking a refresh token ends every token of its grant (RFC 7009 §2.1): there it would end
the tokens just linked, or those of another linked account, too."""


def is_oauth(cls: type[base.Connector], account: LinkedAccount) -> bool:
    """Whether the account's tokens come from this module (refreshed, revoked and reconnected
    here): AT Protocol accounts linked by an app password hold a session of their own."""
    if cls.AUTH == "atproto":
        return account.verified_by == "oauth"
    return cls.AUTH in OAUTH_AUTH


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _oauth_connector(network: str) -> type[base.Connector]:
    cls = connector(network)
    if cls.AUTH not in OAUTH_AUTH:
        raise InvalidInput(
            "%(network)s accounts are not linked by authorizing on its site.", network=cls.LABEL
        )
    return cls


def normalize_server(cls: type[base.Connector], server: str, services: LinkServices) -> str:
    """The provider name (OpenID Connect) or the instance's host name (Mastodon and the like)."""
    server = server.strip()
    if cls.AUTH == "oidc":
        if server not in services.providers:
            names = ", ".join(p.label for p in services.providers.values()) or "none"
            raise InvalidInput(
                "Choose one of the sign-in providers this portal offers (%(names)s).",
                field="server",
                names=names,
            )
        return server
    with connector_errors(cls.LABEL, field="server"):
        if cls.AUTH == "atproto":  # the account itself: its server is found from it
            return cls.normalize_handle(server, context=services.context)
        return cls.server_name(server, context=services.context)


async def _registered_client(
    session: AsyncSession,
    services: LinkServices,
    cls: type[base.Connector],
    server: str,
    http: httpx.AsyncClient,
    scopes: tuple[str, ...],
    *,
    renew: bool,
) -> base.OAuthClient:
    """This portal's client registration on ``server``, registered the first time it is needed.

    A server authorizes only the scopes an app was registered with, so with ``renew`` an app
    registered for other ``scopes`` (the server was upgraded, say from a Mastodon without the
    ``profile`` scope) is registered again. Without it, the app is taken as it is: finishing
    needs the client the authorization was asked for. Refreshing and revoking use the client
    kept with the account's tokens (:func:`_party_of`), which may be an app registered before.
    """
    redirect_uri = services.redirect_uri(cls.NAME)
    stmt = select(OAuthApp).where(
        OAuthApp.network == cls.NAME,
        OAuthApp.server == server,
        OAuthApp.redirect_uri == redirect_uri,
    )
    app = (await session.scalars(stmt)).one_or_none()
    kept = services.vault.decrypt_json(app.secrets) if app is not None and app.secrets else {}
    # An app kept before its scopes were recorded was registered with the connector's SCOPES.
    registered = set(kept.get("scopes") or cls.SCOPES)
    if app is None or (renew and registered != set(scopes)):
        with connector_errors(cls.LABEL, field="server"):
            client = await cls.register_client(
                server, redirect_uri, http, scopes=scopes, context=services.context
            )
        kept = {"client_secret": client.client_secret or "", "scopes": list(scopes)}
        if app is not None:
            app.client_id, app.secrets = client.client_id, services.vault.encrypt_json(kept)
            await session.flush()
        else:
            app = OAuthApp(
                network=cls.NAME,
                server=server,
                redirect_uri=redirect_uri,
                client_id=client.client_id,
                secrets=services.vault.encrypt_json(kept),
            )
            try:
                async with session.begin_nested():
                    session.add(app)
            except IntegrityError:  # registered at the same moment by another request
                app = (await session.scalars(stmt)).one()
                kept = services.vault.decrypt_json(app.secrets) if app.secrets else {}
    return base.OAuthClient(app.client_id, kept.get("client_secret") or None, redirect_uri)


async def _party(
    session: AsyncSession,
    services: LinkServices,
    cls: type[base.Connector],
    server: str,
    http: httpx.AsyncClient,
    *,
    metadata: base.OAuthServer | None = None,
) -> tokens.Party:
    """The server (discovered, unless ``metadata`` was kept from before) and our client."""
    if cls.AUTH == "oidc":
        provider = services.providers[server]
        if metadata is None:
            with connector_errors(provider.label):
                metadata = await cls.oauth_server(provider.issuer, http, context=services.context)
        client = base.OAuthClient(
            provider.client_id, provider.client_secret or None, services.redirect_uri(cls.NAME)
        )
        scopes = tuple(provider.scopes)
        if "offline_access" in metadata.scopes_supported and "offline_access" not in scopes:
            scopes += ("offline_access",)
        return tokens.Party(metadata, client, scopes)
    if cls.AUTH == "atproto":  # found from the account when the link started, then kept
        if metadata is None:
            raise InvalidInput("Start linking this Bluesky account again.")
        return tokens.Party(metadata, atproto.client(services), (atproto_oauth.SCOPE,))
    discovered = metadata is None
    if metadata is None:
        with connector_errors(cls.LABEL, field="server"):
            metadata = await cls.oauth_server(server, http, context=services.context)
    scopes = cls.oauth_scopes(metadata)
    client = await _registered_client(
        session, services, cls, server, http, scopes, renew=discovered
    )
    return tokens.Party(metadata, client, scopes, registered=True)


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
    cls = _oauth_connector(network)
    if account_id is not None:
        account = await linking.get_account(session, user, account_id)
        if account.network != network:
            raise InvalidInput("This account is on another network.")
        server = server or account.server or (account.handle if cls.AUTH == "atproto" else "")
    server = normalize_server(cls, server, services)
    await session.execute(delete(LinkAttempt).where(LinkAttempt.expires_at < utcnow()))
    by_oauth = [name for name, c in connectors.registry().items() if c.AUTH in OAUTH_AUTH]
    pending = await session.scalar(
        select(func.count())
        .select_from(LinkAttempt)
        .where(LinkAttempt.user_id == user.id, LinkAttempt.network.in_(by_oauth))
    )
    if (pending or 0) >= MAX_PENDING:
        raise Conflict("Too many links are under way. Finish one, or wait ten minutes.")
    state = generate_token(43)
    verifier = generate_token(64)
    if cls.AUTH == "atproto":
        pushed, kept = await atproto.push(services, cls, server, state, verifier)
        await _keep_attempt(session, services, user, network, "", account_id, state, kept)
        return pushed
    async with services.http() as http:
        party = await _party(session, services, cls, server, http)
    nonce = generate_token(32) if cls.AUTH == "oidc" else ""
    kept = {"verifier": verifier, "nonce": nonce, "metadata": asdict(party.server)}
    await _keep_attempt(session, services, user, network, server, account_id, state, kept)
    extra: dict[str, str] = {"code_challenge_method": "S256"}
    if nonce:
        extra["nonce"] = nonce
    if "offline_access" in party.scopes:
        extra["prompt"] = "consent"  # OpenID Connect Core §11: offline access needs consent
    url: str = prepare_grant_uri(
        party.server.authorization_endpoint,
        party.client.client_id,
        "code",
        redirect_uri=party.client.redirect_uri,
        scope=" ".join(party.scopes),
        state=state,
        code_challenge=create_s256_code_challenge(verifier),
        **extra,
    )
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
) -> LinkedAccount:
    """Complete a link from the provider's answer; the account shows as verified.

    ``iss`` names the server that answered (RFC 9207): AT Protocol servers always send it, and
    where any server sends it, it must be the one the link started at."""
    cls = _oauth_connector(network)
    attempt = await _consume(session, user, network, state)
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
    label = services.providers[attempt.server].label if cls.AUTH == "oidc" else cls.LABEL
    metadata = tokens.server_from(kept["metadata"])
    if (iss or cls.AUTH == "atproto") and iss != metadata.issuer:
        raise InvalidInput(
            "This answer did not come from the %(network)s server the link started at. "
            "Start linking again.",
            network=label,
        )
    dpop = DPoP(kept["dpop"]) if cls.AUTH == "atproto" else None
    async with services.http() as http:
        party = await _party(session, services, cls, attempt.server, http, metadata=metadata)
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
                },
                dpop,
            )
        try:
            with connector_errors(label):
                subject = None
                if dpop is not None:
                    subject = atproto.subject(payload, kept["did"], label)
                    account = {"did": subject, "pds": kept["pds"], "dpop": dpop.state()}
                    credentials = tokens.credentials_from(payload, party, attempt.server, account)
                else:
                    credentials = tokens.credentials_from(payload, party, attempt.server)
                if cls.AUTH == "oidc":
                    subject = await _validate_id_token(payload, party, kept["nonce"], http)
                actor = await cls("", credentials, http, context=services.context).get_actor()
            if subject is not None and actor.id != subject:
                raise InvalidInput(
                    "%(network)s described another account than the one that signed in.",
                    network=label,
                )
            linked, replaced = await linking.save_proven_replacing(
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
                if cls.AUTH in TOKENS_PER_LINK:
                    await tokens.revoke_quietly(http, party, received, dpop, network)
            except Exception as error:  # the link's own error is the one to tell
                log.warning("revoking the tokens of a failed %s link failed: %s", network, error)
            raise
        if replaced is not None and cls.AUTH in TOKENS_PER_LINK:  # old tokens serve no more
            await _revoke_replaced(session, services, linked, replaced, credentials, http)
    return linked


async def _revoke_replaced(
    session: AsyncSession,
    services: LinkServices,
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
        party = await _party_of(session, services, account, replaced, http)
        await tokens.revoke_quietly(http, party, old, atproto.dpop_of(replaced), account.network)
    except (base.ConnectorError, PortalError, httpx.HTTPError, ValueError) as error:
        # The account is linked with its new tokens whatever the server says to this.
        log.warning("revoking the replaced %s tokens failed: %s", account.network, error)


async def _validate_id_token(
    payload: dict[str, Any], party: tokens.Party, nonce: str, http: httpx.AsyncClient
) -> str:
    """The account the ID token proves, as the OpenID Connect connector names it."""
    id_token = payload.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise base.PermanentError("The provider sent no ID token, so the sign-in is not proven.")
    claims = await openid.validate_id_token(
        id_token, server=party.server, client_id=party.client.client_id, nonce=nonce, http=http
    )
    return openid.handle_for(str(claims["sub"]), party.server.issuer)


async def _party_of(
    session: AsyncSession,
    services: LinkServices,
    account: LinkedAccount,
    credentials: base.Credentials,
    http: httpx.AsyncClient,
) -> tokens.Party:
    """The server and the client the account's tokens were issued to."""
    cls = _oauth_connector(account.network)
    if cls.AUTH == "oidc" and account.server not in services.providers:
        raise NotFound("The sign-in provider of this account is no longer offered here.")
    metadata = tokens.server_from(credentials.extra)
    client_id = credentials.extra.get("client_id")
    if isinstance(client_id, str) and client_id:  # kept by credentials for registered ones
        secret = str(credentials.extra.get("client_secret") or "") or None
        client = base.OAuthClient(client_id, secret, services.redirect_uri(cls.NAME))
        scopes = tuple(credentials.scope.split()) or cls.oauth_scopes(metadata)
        return tokens.Party(metadata, client, scopes, registered=True)
    # Linked before the client was kept with the tokens: the app registered now.
    return await _party(session, services, cls, account.server, http, metadata=metadata)


async def refresh(
    session: AsyncSession, services: LinkServices, account: LinkedAccount, *, force: bool = False
) -> bool:
    """Refresh the account's token if it expires soon; ``False`` when it could not be."""
    credentials = linking.load_credentials(services, account)
    if credentials is None or not credentials.refresh_token:
        return False
    expires = account.token_expires_at
    if not force and (expires is None or expires - linking.REFRESH_MARGIN > utcnow()):
        return True
    dpop = atproto.dpop_of(credentials)
    async with services.http() as http:
        party = await _party_of(session, services, account, credentials, http)
        try:
            payload = await tokens.token_request(
                http,
                party,
                party.server.issuer,
                {"grant_type": "refresh_token", "refresh_token": credentials.refresh_token},
                dpop,
            )
            kept = None
            if dpop is not None:
                did = str(credentials.extra.get("did", ""))
                atproto.subject(payload, did, party.server.issuer)
                kept = {"did": did, "pds": credentials.extra.get("pds"), "dpop": dpop.state()}
        except base.PermanentError:
            before = account.status
            linking.mark_needs_reconnect(
                account, "The network no longer accepts this connection. Connect it again."
            )
            await session.flush()
            if before != linking.NEEDS_RECONNECT:
                await notifications.account_needs_reconnect(
                    session, account, mailer=notifications.Mailer.of(services)
                )
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
    """Ask the server to forget the account's tokens (RFC 7009); ``False`` if it cannot."""
    dpop = atproto.dpop_of(credentials)
    async with services.http() as http:
        party = await _party_of(session, services, account, credentials, http)
        return await tokens.revoke_quietly(
            http, party, tokens.tokens_of(credentials), dpop, account.network
        )
