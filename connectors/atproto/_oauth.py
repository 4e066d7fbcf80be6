"""AT Protocol OAuth: discovery from the account's PDS, DPoP proofs, pushed requests.

What the network asks of a client (https://atproto.com/specs/oauth, "Clients" and
"Authorization Servers"), and where each piece lives:

- The account decides the server: handle → DID → PDS (``_identity``); the PDS's
  ``/.well-known/oauth-protected-resource`` names one authorization server, whose
  ``/.well-known/oauth-authorization-server`` (RFC 8414) must state the same ``issuer`` and
  offer what the profile requires: the code flow, PKCE S256, pushed authorization requests
  (required, RFC 9126), DPoP with ES256 (RFC 9449), the ``iss`` callback parameter
  (RFC 9207), client metadata documents and the ``atproto`` scope
  (:func:`authorization_server`).
- The client is named by a URL to its metadata document; in development a *loopback* client,
  ``http://localhost?redirect_uri=…&scope=…``, needs no document and must come back to
  ``http://127.0.0.1`` or ``http://[::1]`` (:func:`client_id_for`, :func:`client_metadata`).
- Every request to the authorization server and to the PDS carries a DPoP proof: a JWT signed
  by a key kept for the session (ES256), naming the method and URL, a fresh ``jti``, the
  time, the server's latest nonce and, towards the PDS, the access token's hash (``ath``).
  A server that wants a (new) nonce answers ``use_dpop_nonce`` with a ``DPoP-Nonce`` header;
  the request is made once more with it (:class:`DPoP`).
- The authorization request itself is pushed first (PAR) with ``login_hint``; the browser
  only carries ``client_id`` and the ``request_uri`` (:func:`push_authorization_request`).
- The token answer must be ``token_type: DPoP`` and name the account in ``sub`` (a DID),
  which must be the account the link started from; the caller checks it.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from base64 import urlsafe_b64encode
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from connectors._http import Failures, parse_json, send
from connectors.base import OAuthServer, PermanentError, Retriable

__all__ = [
    "SCOPE",
    "DPoP",
    "authorization_server",
    "client_id_for",
    "client_metadata",
    "push_authorization_request",
]

CHAT_SCOPE = "transition:chat.bsky"
"""What a session needs for direct messages (https://atproto.com/specs/oauth, its scopes)."""
SCOPE = f"atproto transition:generic {CHAT_SCOPE}"
"""Identity, the account's repository and blobs as the Bluesky app uses them, and its direct
messages (to write to a person there, and read their answers)."""

MAX_DOCUMENT = 64 * 1024
"""The largest metadata document read from a server."""
MAX_ANSWER = 1024 * 1024
"""The largest answer read from a PDS or an authorization server."""

_REQUIRED_FLAGS = (
    "require_pushed_authorization_requests",
    "authorization_response_iss_parameter_supported",
    "client_id_metadata_document_supported",
)
_REQUIRED_VALUES = {
    "response_types_supported": "code",
    "grant_types_supported": "authorization_code",
    "code_challenge_methods_supported": "S256",
    "dpop_signing_alg_values_supported": "ES256",
    "scopes_supported": "atproto",
    "token_endpoint_auth_methods_supported": "none",
}


def _b64(data: bytes) -> str:
    return urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _without_query(url: str) -> str:
    """The ``htu`` of a proof: the URL without query and fragment (RFC 9449 §4.2)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


SERVER = Failures.about("The Bluesky server")


class DPoP:
    """A session's DPoP key and the latest nonce each server gave (by origin).

    ``state()`` is what is kept (encrypted) with the session; ``DPoP(state)`` takes it back.
    """

    def __init__(self, state: Mapping[str, Any] | None = None) -> None:
        if state is None:
            self._key = ECKey.generate_key("P-256", auto_kid=False)
            self.nonces: dict[str, str] = {}
            return
        try:
            self._key = ECKey.import_key(dict(state["jwk"]))
        except (KeyError, TypeError, ValueError, JoseError) as error:
            raise PermanentError("The kept Bluesky session key cannot be read.") from error
        nonces = state.get("nonces")
        self.nonces = (
            {str(k): str(v) for k, v in nonces.items()} if isinstance(nonces, Mapping) else {}
        )

    def state(self) -> dict[str, Any]:
        return {"jwk": self._key.as_dict(private=True), "nonces": dict(self.nonces)}

    @property
    def public_jwk(self) -> dict[str, Any]:
        return {k: v for k, v in self._key.as_dict(private=False).items() if k != "kid"}

    def proof(self, method: str, url: str, *, access_token: str | None = None) -> str:
        """A DPoP proof for one request (RFC 9449 §4.2)."""
        claims: dict[str, Any] = {
            "jti": secrets.token_urlsafe(16),
            "htm": method.upper(),
            "htu": _without_query(url),
            "iat": int(time.time()),
        }
        nonce = self.nonces.get(_origin(url))
        if nonce:
            claims["nonce"] = nonce
        if access_token:
            claims["ath"] = _b64(hashlib.sha256(access_token.encode("ascii")).digest())
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": self.public_jwk}
        return jwt.encode(header, claims, self._key)

    async def request(
        self,
        http: httpx.AsyncClient,
        method: str,
        url: str,
        *,
        access_token: str | None = None,
        data: Mapping[str, str] | None = None,
        json: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        limit: int = MAX_ANSWER,
        failures: Failures = SERVER,
    ) -> httpx.Response:
        """Send a request with a proof; once more with the server's nonce if it asks for one.
        At most ``limit`` bytes of the answer are read; a failure before an answer is told in
        the words of ``failures``."""

        async def prove_and_send() -> httpx.Response:
            sent = {"accept": "application/json", **(headers or {})}
            sent["DPoP"] = self.proof(method, url, access_token=access_token)
            if access_token:
                sent["Authorization"] = f"DPoP {access_token}"
            response = await send(
                http,
                method,
                url,
                failures,
                limit=limit,
                data=data,
                json=json,
                content=content,
                params=params,
                headers=sent,
            )
            nonce = response.headers.get("dpop-nonce", "")
            if nonce and len(nonce) <= 200 and nonce.isascii() and nonce.isprintable():
                self.nonces[_origin(url)] = nonce
            return response

        response = await prove_and_send()
        if response.headers.get("dpop-nonce") and _asks_for_nonce(response):
            response = await prove_and_send()
        return response


def _asks_for_nonce(response: httpx.Response) -> bool:
    """The authorization server's 400 or the PDS's 401 asking for a DPoP nonce."""
    if response.status_code == 401:
        challenge = response.headers.get("www-authenticate", "")
        return 'error="use_dpop_nonce"' in challenge
    if response.status_code == 400:
        try:
            body = parse_json(response.content)
        except ValueError:
            return False
        return isinstance(body, Mapping) and body.get("error") == "use_dpop_nonce"
    return False


async def _document(http: httpx.AsyncClient, url: str, what: str) -> Mapping[str, Any]:
    failures = Failures.about(what, too_large=f"{what} sent a document too large to read.")
    response = await send(
        http, "GET", url, failures, limit=MAX_DOCUMENT, headers={"accept": "application/json"}
    )
    if response.status_code >= 500:
        raise Retriable(f"{what} answered with an error (HTTP {response.status_code}).")
    if response.status_code != 200:
        raise PermanentError(f"{what} does not offer AT Protocol OAuth.")
    try:
        document = parse_json(response.content)
    except ValueError as error:
        raise PermanentError(f"{what} answered with something other than JSON.") from error
    if not isinstance(document, Mapping):
        raise PermanentError(f"{what} answered with something other than a JSON object.")
    return document


def _endpoint(metadata: Mapping[str, Any], key: str, issuer: str) -> str:
    """An endpoint of the server: an absolute URL on the issuer's own origin."""
    value = metadata.get(key)
    if not isinstance(value, str) or _origin(value) != _origin(issuer) or len(value) > 500:
        raise PermanentError(f"The Bluesky sign-in server names no usable {key}.")
    return value


async def authorization_server(pds: str, http: httpx.AsyncClient) -> OAuthServer:
    """The authorization server of the accounts on ``pds``, checked against the profile."""
    resource = await _document(
        http, f"{pds}/.well-known/oauth-protected-resource", "The account's Bluesky server"
    )
    servers = resource.get("authorization_servers")
    if not isinstance(servers, list) or not servers or not isinstance(servers[0], str):
        raise PermanentError("The account's Bluesky server names no sign-in server.")
    issuer = servers[0]
    parts = urlsplit(issuer)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.path not in ("", "/"):
        raise PermanentError("The account's Bluesky server names an invalid sign-in server.")
    issuer = _origin(issuer)
    metadata = await _document(
        http, f"{issuer}/.well-known/oauth-authorization-server", "The Bluesky sign-in server"
    )
    if metadata.get("issuer") != issuer:
        raise PermanentError("The Bluesky sign-in server describes another server than itself.")
    missing = [key for key in _REQUIRED_FLAGS if metadata.get(key) is not True]
    for key, value in _REQUIRED_VALUES.items():
        offered = metadata.get(key)
        if not isinstance(offered, list) or value not in offered:
            missing.append(f"{key}: {value}")
    if missing:
        raise PermanentError(
            "The Bluesky sign-in server does not follow AT Protocol OAuth "
            f"({', '.join(missing)}). Link the account with an app password instead."
        )
    scopes = metadata["scopes_supported"]
    revocation = metadata.get("revocation_endpoint")
    return OAuthServer(
        issuer=issuer,
        authorization_endpoint=_endpoint(metadata, "authorization_endpoint", issuer),
        token_endpoint=_endpoint(metadata, "token_endpoint", issuer),
        revocation_endpoint=(
            _endpoint(metadata, "revocation_endpoint", issuer) if revocation else None
        ),
        pushed_authorization_request_endpoint=_endpoint(
            metadata, "pushed_authorization_request_endpoint", issuer
        ),
        scopes_supported=tuple(s for s in scopes if isinstance(s, str)),
    )


def client_id_for(base_url: str, redirect_uri: str) -> str | None:
    """This portal's client id: its metadata document on https, a loopback client on
    ``http://127.0.0.1`` or ``http://[::1]``; ``None`` where the network allows neither."""
    parts = urlsplit(base_url)
    if parts.scheme == "https":
        return f"{base_url.rstrip('/')}/oauth/bluesky/client-metadata.json"
    if parts.scheme == "http" and (parts.hostname or "") in ("127.0.0.1", "::1"):
        return "http://localhost?" + urlencode({"redirect_uri": redirect_uri, "scope": SCOPE})
    return None


def client_metadata(client_id: str, redirect_uri: str, client_uri: str) -> dict[str, Any]:
    """The document served at ``client_id`` (a public web client, tokens bound by DPoP)."""
    return {
        "client_id": client_id,
        "client_name": "Portal",
        "client_uri": client_uri,
        "application_type": "web",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "redirect_uris": [redirect_uri],
        "scope": SCOPE,
        "token_endpoint_auth_method": "none",
        "dpop_bound_access_tokens": True,
    }


async def push_authorization_request(
    http: httpx.AsyncClient, dpop: DPoP, server: OAuthServer, form: Mapping[str, str]
) -> str:
    """Push the authorization request (RFC 9126); the ``request_uri`` the browser carries."""
    endpoint = server.pushed_authorization_request_endpoint
    if not endpoint:
        raise PermanentError("The Bluesky sign-in server takes no pushed requests.")
    failures = Failures.about("The Bluesky sign-in server")
    response = await dpop.request(http, "POST", endpoint, data=form, failures=failures)
    if response.status_code >= 500:
        raise Retriable(f"The Bluesky sign-in server answered {response.status_code}.")
    try:
        answer = parse_json(response.content) if len(response.content) <= MAX_DOCUMENT else None
    except ValueError:
        answer = None
    if not isinstance(answer, Mapping):
        answer = {}
    request_uri = answer.get("request_uri")
    if response.status_code not in (200, 201) or not isinstance(request_uri, str):
        detail = answer.get("error_description") or answer.get("error") or response.status_code
        raise PermanentError(
            f"The Bluesky sign-in server refused the request ({str(detail)[:200]})."
        )
    if not request_uri.startswith("urn:") or len(request_uri) > 500:
        raise PermanentError("The Bluesky sign-in server answered with an invalid request URI.")
    return request_uri
