"""This portal as the client of an OAuth 2 server: its registration, and the token and
revocation endpoints.

authlib's OAuth 2 client is not used for the exchange, refresh and revocation: it is an HTTP
client of its own (bypassing the guarded transport and ``connectors._http``'s capped read and
status mapping) and knows no DPoP (RFC 9449); its URL and PKCE helpers are used instead.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import timedelta
from typing import Any
from urllib.parse import quote_plus

import httpx
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from connectors import _http, base
from connectors.atproto import DPoP
from portal.domain.linking.services import LinkServices, connector_errors
from portal.storage.models import OAuthApp, utcnow

log = logging.getLogger(__name__)


SERVER_KEYS = frozenset({"server", *(f.name for f in fields(base.OAuthServer))})
"""What :func:`credentials_from` keeps of the server beside the tokens."""


def server_from(data: Mapping[str, Any]) -> base.OAuthServer:
    """The server's endpoints as kept in an attempt or in an account's credentials."""
    names = {f.name for f in fields(base.OAuthServer)}
    values = {key: value for key, value in data.items() if key in names}
    for name in ("scopes_supported", "token_endpoint_auth_methods_supported"):
        values[name] = tuple(values.get(name) or ())
    return base.OAuthServer(**values)


@dataclass(frozen=True)
class Party:
    """The authorization server and this portal as its client, for one network and server."""

    server: base.OAuthServer
    client: base.OAuthClient
    scopes: tuple[str, ...]
    registered: bool = False
    """Whether the client is one this portal registered on the server: registered again when
    the server's scopes change, so the tokens keep the client they were issued to."""


def _secret_in_form(server: base.OAuthServer) -> bool:
    """Whether the server takes a client's secret in the form (``client_secret_post``) rather
    than in the ``Authorization`` header, the default of RFC 6749 §2.3.1."""
    methods = server.token_endpoint_auth_methods_supported
    return (
        bool(methods) and "client_secret_basic" not in methods and "client_secret_post" in methods
    )


async def client_post(
    http: httpx.AsyncClient,
    client: base.OAuthClient,
    url: str,
    form: dict[str, str],
    dpop: DPoP | None = None,
    *,
    failures: _http.Failures,
    secret_in_form: bool = False,
) -> httpx.Response:
    """POST a form as this client: ``client_secret_basic`` for a confidential client (id and
    secret form-encoded first, RFC 6749 §2.3.1) or, with ``secret_in_form``, both in the body
    (``client_secret_post``); the id in the body for a public one; with a DPoP proof when the
    tokens are bound to a key (RFC 9449). At most :data:`connectors._http.MAX_ANSWER` bytes of
    the answer are read."""
    headers = {"accept": "application/json"}
    if client.client_secret and secret_in_form:
        form = {**form, "client_id": client.client_id, "client_secret": client.client_secret}
    elif client.client_secret:
        pair = f"{quote_plus(client.client_id)}:{quote_plus(client.client_secret)}"
        headers["authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    else:
        form = {**form, "client_id": client.client_id}
    if dpop is not None:
        return await dpop.request(http, "POST", url, data=form, headers=headers, failures=failures)
    return await _http.send(http, "POST", url, failures, data=form, headers=headers)


def failures_of(label: str) -> _http.Failures:
    """What a failed request to the token or revocation endpoint of ``label`` says."""
    return _http.Failures.about(label, limited=f"{label} is busy.")


async def token_request(
    http: httpx.AsyncClient,
    party: Party,
    label: str,
    form: dict[str, str],
    dpop: DPoP | None = None,
) -> dict[str, Any]:
    failures = failures_of(label)
    endpoint = party.server.token_endpoint
    response = await client_post(
        http,
        party.client,
        endpoint,
        form,
        dpop,
        failures=failures,
        secret_in_form=_secret_in_form(party.server),
    )
    try:
        payload = _http.parse_json(response.content)
    except ValueError:
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    if response.status_code == 429 or response.status_code >= 500:
        _http.check(response, failures)
    if response.status_code != 200 or "access_token" not in payload:
        error = payload.get("error")
        secrets = [*form.values(), party.client.client_secret or ""]
        if isinstance(error, Mapping):  # Meta's Graph API: {"error": {"message", "code", …}}
            said = _said(error.get("message"), secrets)
            raise base.PermanentError(
                f"{label} refused to hand over the access"
                + (f": {said}" if said else f" ({response.status_code}).")
            )
        code = _said(error, secrets)[:60]
        if code == "invalid_grant":
            raise base.PermanentError(
                "This authorization was already used or has expired. Start linking again."
            )
        raise base.PermanentError(
            f"{label} refused to hand over the access ({code or response.status_code})."
        )
    return payload


def _said(value: Any, secrets: Iterable[str]) -> str:
    """What a server said, as one line for a person, without a secret that was sent to it."""
    text = value if isinstance(value, str) else ""
    for secret in secrets:
        if len(secret) >= 8:
            text = text.replace(secret, "…")
    return "".join(char for char in text if char.isprintable()).strip()[:300]


def credentials_from(
    payload: dict[str, Any], party: Party, server: str, kept: Mapping[str, Any] | None = None
) -> base.Credentials:
    """The tokens of a token answer; ``kept`` adds what else the account's calls need."""
    expires_in = payload.get("expires_in")
    expires_at = None
    if isinstance(expires_in, int | float) and 0 < expires_in < 10 * 365 * 86400:
        expires_at = utcnow() + timedelta(seconds=float(expires_in))
    # The endpoints are kept, so refreshing and revoking need no discovery; so is a registered
    # client, which refreshing and revoking must be after the app was registered again.
    client = {}
    if party.registered:
        client = {
            "client_id": party.client.client_id,
            "client_secret": party.client.client_secret or "",
        }
    return base.Credentials(
        access_token=str(payload["access_token"]),
        refresh_token=str(payload.get("refresh_token") or ""),
        expires_at=expires_at,
        scope=str(payload.get("scope") or " ".join(party.scopes)),
        extra={"server": server, **asdict(party.server), **client, **(kept or {})},
    )


def tokens_of(credentials: base.Credentials) -> list[tuple[str, str]]:
    """The tokens of ``credentials`` with their RFC 7009 hints, the longer-lived first."""
    return [
        (credentials.refresh_token, "refresh_token"),
        (credentials.access_token, "access_token"),
    ]


async def revoke_quietly(
    http: httpx.AsyncClient,
    party: Party,
    tokens: list[tuple[str, str]],
    dpop: DPoP | None,
    network: str,
) -> bool:
    """Ask the server to forget ``tokens`` (RFC 7009); ``True`` if it said it did. Nothing
    here stops the caller: a failure is logged."""
    endpoint = party.server.revocation_endpoint
    if not endpoint:
        return False
    done = False
    for token, hint in tokens:
        if not token:
            continue
        try:
            form = {"token": token, "token_type_hint": hint}
            response = await client_post(
                http,
                party.client,
                endpoint,
                form,
                dpop,
                failures=failures_of(network),
                secret_in_form=_secret_in_form(party.server),
            )
        except (httpx.HTTPError, base.ConnectorError) as error:
            log.warning("revoking a %s token failed: %s", network, error)
            continue
        if response.status_code != 200:
            log.warning("revoking a %s token: answered %s", network, response.status_code)
        done = done or response.status_code == 200
    return done


async def registered_client(
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
    kept with the account's tokens (:meth:`.strategies.OAuthFlow.kept_party`), which may be an app
    registered before.
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
