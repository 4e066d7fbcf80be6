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
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import timedelta
from typing import Any
from urllib.parse import quote_plus

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from connectors import base
from connectors import oidc as openid
from portal.domain import linking
from portal.domain.linking import LinkServices, connector, connector_errors
from portal.errors import Conflict, InvalidInput, NotFound
from portal.storage.models import LinkAttempt, LinkedAccount, OAuthApp, User, utcnow

log = logging.getLogger(__name__)

ATTEMPT_TTL = timedelta(minutes=10)
MAX_PENDING = 20
OAUTH_AUTH = ("oauth2", "oidc")


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _server_from(data: Mapping[str, Any]) -> base.OAuthServer:
    """The server's endpoints as kept in an attempt or in an account's credentials."""
    names = {f.name for f in fields(base.OAuthServer)}
    values = {key: value for key, value in data.items() if key in names}
    values["scopes_supported"] = tuple(values.get("scopes_supported") or ())
    return base.OAuthServer(**values)


@dataclass(frozen=True)
class _Party:
    """The authorization server and this portal as its client, for one network and server."""

    server: base.OAuthServer
    client: base.OAuthClient
    scopes: tuple[str, ...]


def _oauth_connector(network: str) -> type[base.Connector]:
    cls = connector(network)
    if cls.AUTH not in OAUTH_AUTH:
        raise InvalidInput(f"{cls.LABEL} accounts are not linked by authorizing on its site.")
    return cls


def normalize_server(cls: type[base.Connector], server: str, services: LinkServices) -> str:
    """The provider name (OpenID Connect) or the instance's host name (Mastodon and the like)."""
    server = server.strip()
    if cls.AUTH == "oidc":
        if server not in services.providers:
            names = ", ".join(p.label for p in services.providers.values()) or "none"
            raise InvalidInput(
                f"Choose one of the sign-in providers this portal offers ({names}).",
                field="server",
            )
        return server
    with connector_errors(cls.LABEL, field="server"):
        return base.normalize_server(server, allow_loopback=services.allow_loopback)


async def _registered_client(
    session: AsyncSession,
    services: LinkServices,
    cls: type[base.Connector],
    server: str,
    http: httpx.AsyncClient,
) -> base.OAuthClient:
    """This portal's client registration on ``server``, registered the first time it is needed."""
    redirect_uri = services.redirect_uri(cls.NAME)
    stmt = select(OAuthApp).where(
        OAuthApp.network == cls.NAME,
        OAuthApp.server == server,
        OAuthApp.redirect_uri == redirect_uri,
    )
    app = (await session.scalars(stmt)).one_or_none()
    if app is None:
        with connector_errors(cls.LABEL, field="server"):
            client = await cls.register_client(server, redirect_uri, http)
        app = OAuthApp(
            network=cls.NAME,
            server=server,
            redirect_uri=redirect_uri,
            client_id=client.client_id,
            secrets=services.vault.encrypt_json({"client_secret": client.client_secret or ""}),
        )
        try:
            async with session.begin_nested():
                session.add(app)
        except IntegrityError:  # registered at the same moment by another request
            app = (await session.scalars(stmt)).one()
    secret = services.vault.decrypt_json(app.secrets)["client_secret"] if app.secrets else ""
    return base.OAuthClient(app.client_id, secret or None, redirect_uri)


async def _party(
    session: AsyncSession,
    services: LinkServices,
    cls: type[base.Connector],
    server: str,
    http: httpx.AsyncClient,
    *,
    metadata: base.OAuthServer | None = None,
) -> _Party:
    """The server (discovered, unless ``metadata`` was kept from before) and our client."""
    if cls.AUTH == "oidc":
        provider = services.providers[server]
        if metadata is None:
            with connector_errors(provider.label):
                metadata = await cls.oauth_server(provider.issuer, http)
        client = base.OAuthClient(
            provider.client_id, provider.client_secret or None, services.redirect_uri(cls.NAME)
        )
        scopes = tuple(provider.scopes)
        if "offline_access" in metadata.scopes_supported and "offline_access" not in scopes:
            scopes += ("offline_access",)
        return _Party(metadata, client, scopes)
    if metadata is None:
        with connector_errors(cls.LABEL, field="server"):
            metadata = await cls.oauth_server(server, http)
    client = await _registered_client(session, services, cls, server, http)
    return _Party(metadata, client, cls.SCOPES)


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
        server = server or account.server
    server = normalize_server(cls, server, services)
    await session.execute(delete(LinkAttempt).where(LinkAttempt.expires_at < utcnow()))
    pending = await session.scalar(
        select(func.count()).select_from(LinkAttempt).where(LinkAttempt.user_id == user.id)
    )
    if (pending or 0) >= MAX_PENDING:
        raise Conflict("Too many links are under way. Finish one, or wait ten minutes.")
    async with services.http() as http:
        party = await _party(session, services, cls, server, http)
    state = generate_token(43)
    verifier = generate_token(64)
    nonce = generate_token(32) if cls.AUTH == "oidc" else ""
    session.add(
        LinkAttempt(
            id_hash=_digest(state),
            user_id=user.id,
            network=network,
            server=server,
            linked_account_id=account_id,
            secrets=services.vault.encrypt_json(
                {"verifier": verifier, "nonce": nonce, "metadata": asdict(party.server)}
            ),
            expires_at=utcnow() + ATTEMPT_TTL,
        )
    )
    await session.flush()
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


async def _client_post(
    http: httpx.AsyncClient, client: base.OAuthClient, url: str, form: dict[str, str]
) -> httpx.Response:
    """POST a form as this client: ``client_secret_basic`` for a confidential client (id and
    secret form-encoded first, RFC 6749 §2.3.1), the id in the body for a public one."""
    headers = {"accept": "application/json"}
    if client.client_secret:
        pair = f"{quote_plus(client.client_id)}:{quote_plus(client.client_secret)}"
        headers["authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    else:
        form = {**form, "client_id": client.client_id}
    return await http.post(url, data=form, headers=headers)


async def _token_request(
    http: httpx.AsyncClient, party: _Party, label: str, form: dict[str, str]
) -> dict[str, Any]:
    try:
        response = await _client_post(http, party.client, party.server.token_endpoint, form)
    except httpx.HTTPError as error:
        raise base.Retriable(f"{label} could not be reached") from error
    try:
        payload = response.json()
    except ValueError:
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    if response.status_code == 429:
        raise base.RateLimited(f"{label} is busy", retry_after=None)
    if response.status_code >= 500:
        raise base.Retriable(f"{label} answered {response.status_code}")
    if response.status_code != 200 or "access_token" not in payload:
        code = str(payload.get("error", ""))
        if code == "invalid_grant":
            raise base.PermanentError(
                "This authorization was already used or has expired. Start linking again."
            )
        raise base.PermanentError(
            f"{label} refused to hand over the access ({code or response.status_code})."
        )
    return payload


def _credentials(payload: dict[str, Any], party: _Party, server: str) -> base.Credentials:
    expires_in = payload.get("expires_in")
    expires_at = None
    if isinstance(expires_in, int | float) and 0 < expires_in < 10 * 365 * 86400:
        expires_at = utcnow() + timedelta(seconds=float(expires_in))
    return base.Credentials(
        access_token=str(payload["access_token"]),
        refresh_token=str(payload.get("refresh_token") or ""),
        expires_at=expires_at,
        scope=str(payload.get("scope") or " ".join(party.scopes)),
        # The endpoints are kept, so refreshing and revoking need no discovery.
        extra={"server": server, **asdict(party.server)},
    )


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
) -> LinkedAccount:
    """Complete a link from the provider's answer; the account shows as verified."""
    cls = _oauth_connector(network)
    attempt = await _consume(session, user, network, state)
    if error:
        if error == "access_denied":
            raise InvalidInput(f"You did not allow the link on {cls.LABEL}. Nothing was linked.")
        detail = (error_description or error)[:200]
        raise InvalidInput(f"{cls.LABEL} did not authorize the link: {detail}")
    if not code or len(code) > 2000:
        raise InvalidInput(f"{cls.LABEL} sent no authorization code. Start linking again.")
    kept = services.vault.decrypt_json(attempt.secrets)
    label = services.providers[attempt.server].label if cls.AUTH == "oidc" else cls.LABEL
    async with services.http() as http:
        metadata = _server_from(kept["metadata"])
        party = await _party(session, services, cls, attempt.server, http, metadata=metadata)
        with connector_errors(label):
            payload = await _token_request(
                http,
                party,
                label,
                {
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": party.client.redirect_uri,
                    "code_verifier": kept["verifier"],
                },
            )
            credentials = _credentials(payload, party, attempt.server)
            subject = None
            if cls.AUTH == "oidc":
                subject = await _validate_id_token(payload, party, kept["nonce"], http)
            actor = await cls("", credentials, http).get_actor()
    if subject is not None and actor.id != subject:
        raise InvalidInput(f"{label} described another account than the one that signed in.")
    return await linking.save_proven(
        session,
        services,
        user,
        network,
        base.Linked(actor, credentials),
        proof="oauth",
        server=attempt.server,
        account_id=attempt.linked_account_id,
    )


async def _validate_id_token(
    payload: dict[str, Any], party: _Party, nonce: str, http: httpx.AsyncClient
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
) -> _Party:
    cls = _oauth_connector(account.network)
    if cls.AUTH == "oidc" and account.server not in services.providers:
        raise NotFound("The sign-in provider of this account is no longer offered here.")
    metadata = _server_from(credentials.extra)
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
    async with services.http() as http:
        party = await _party_of(session, services, account, credentials, http)
        try:
            payload = await _token_request(
                http,
                party,
                party.server.issuer,
                {"grant_type": "refresh_token", "refresh_token": credentials.refresh_token},
            )
        except base.PermanentError:
            linking.mark_needs_reconnect(
                account, "The network no longer accepts this connection. Connect it again."
            )
            await session.flush()
            return False
    renewed = _credentials(payload, party, account.server)
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
    async with services.http() as http:
        party = await _party_of(session, services, account, credentials, http)
        endpoint = party.server.revocation_endpoint
        if not endpoint:
            return False
        done = False
        for token, hint in (
            (credentials.refresh_token, "refresh_token"),
            (credentials.access_token, "access_token"),
        ):
            if not token:
                continue
            try:
                form = {"token": token, "token_type_hint": hint}
                response = await _client_post(http, party.client, endpoint, form)
            except httpx.HTTPError:
                log.warning("revoking a %s token failed: unreachable", account.network)
                continue
            done = done or response.status_code == 200
    return done
