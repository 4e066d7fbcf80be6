"""The protocol plumbing of :mod:`connectors.oidc`: bounded HTTP with errors mapped to the
connector errors, providers' key sets, and the checks of an ID token.

Private to the OpenID Connect connector; the public names are re-exported there.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import SplitResult

import httpx
from joserfc import jws, jwt
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import ECKey, RSAKey, import_key

from connectors._http import Failures, check, parse_json, send
from connectors.base import InvalidHandle, OAuthServer, PermanentError

ALGORITHMS = ("RS256", "ES256", "PS256")
"""The signature algorithms an ID token may use."""
TIMEOUT = httpx.Timeout(10.0)
MAX_RESPONSE_BYTES = 256 * 1024
"""Discovery documents, key sets and UserInfo answers are small; more is refused."""
MAX_ID_TOKEN_LENGTH = 16 * 1024
JWKS_TTL = 300.0
"""How long (seconds) a provider's key set is trusted before it is fetched again."""
MAX_SUB_LENGTH = 255
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
"""The only hosts where plain http is allowed: a provider on the same machine (development)."""


class InvalidIdToken(PermanentError):
    """The ID token of a sign-in failed a check: the sign-in must start again."""


PROVIDER = "The sign-in provider"


def is_loopback_http(parts: SplitResult) -> bool:
    return bool(parts.scheme == "http" and (parts.hostname or "") in LOOPBACK_HOSTS)


def check_sub(sub: object) -> str:
    if (
        not isinstance(sub, str)
        or not sub
        or len(sub) > MAX_SUB_LENGTH
        or not sub.isascii()
        or any(not char.isprintable() or char.isspace() for char in sub)
    ):
        raise InvalidHandle("An account at a sign-in provider is a short text without spaces.")
    return sub


# -- HTTP ------------------------------------------------------------------------------------


def _failures(what: str, *, bearer: bool) -> Failures:
    revoked = f"{what} no longer accepts this sign-in: connect the account again."
    return Failures.about(
        what,
        unreachable=f"{what} could not be reached; try again later.",
        timeout=f"{what} took too long to answer; try again later.",
        revoked=revoked if bearer else None,
    )


async def request(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    what: str,
    headers: Mapping[str, str] | None = None,
    data: Mapping[str, str] | None = None,
    bearer: bool = False,
) -> bytes:
    """The body of a successful answer, at most :data:`MAX_RESPONSE_BYTES`; errors mapped."""
    failures = _failures(what, bearer=bearer)
    response = await send(
        http,
        method,
        url,
        failures,
        limit=MAX_RESPONSE_BYTES,
        headers=headers,
        data=data,
        timeout=TIMEOUT,
    )
    return check(response, failures).content


def json_object(body: bytes, what: str) -> dict[str, Any]:
    try:
        value = parse_json(body)
    except ValueError as error:
        raise PermanentError(f"{what} did not answer with JSON.") from error
    if not isinstance(value, dict):
        raise PermanentError(f"{what} did not answer with a JSON object.")
    return value


async def get_json(
    http: httpx.AsyncClient, url: str, *, what: str, token: str = ""
) -> dict[str, Any]:
    """The JSON object at ``url``; with a bearer ``token``, a 401 means it was revoked."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = await request(http, "GET", url, what=what, headers=headers, bearer=bool(token))
    return json_object(body, what)


# -- ID tokens -------------------------------------------------------------------------------


class _KeyCache:
    """Providers' key sets by ``jwks_uri``, kept :data:`JWKS_TTL` seconds."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self.entries: dict[str, tuple[float, list[Any]]] = {}

    async def keys(self, http: httpx.AsyncClient, uri: str, *, fresh: bool = False) -> list[Any]:
        cached = self.entries.get(uri)
        if cached and not fresh and time.monotonic() - cached[0] < JWKS_TTL:
            return cached[1]
        document = await get_json(http, uri, what=f"{PROVIDER}'s key set")
        keys = document.get("keys")
        if not isinstance(keys, list):
            raise PermanentError(f"{PROVIDER}'s key set has no keys.")
        self.entries.pop(uri, None)
        self.entries[uri] = (time.monotonic(), keys)
        while len(self.entries) > self.size:
            del self.entries[next(iter(self.entries))]
        return keys


_key_cache = _KeyCache()


def forget_cached_keys() -> None:
    """Drop every cached key set (a provider rotated its keys, or between tests)."""
    _key_cache.entries.clear()


_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
"""JWK members of private or symmetric keys (RFC 7518 §6): a published key has none."""


def _pick_key(keys: list[Any], kid: str | None, alg: str) -> RSAKey | ECKey | None:
    kty = "EC" if alg.startswith("ES") else "RSA"
    found: list[RSAKey | ECKey] = []
    for data in keys:
        if not isinstance(data, dict) or data.get("kty") != kty:
            continue
        if kid is not None and data.get("kid") != kid:
            continue
        if data.get("use", "sig") != "sig" or data.get("alg", alg) != alg:
            continue
        if kty == "EC" and data.get("crv") != "P-256":
            continue
        if "key_ops" in data and "verify" not in (data["key_ops"] or ()):
            continue
        public = {name: value for name, value in data.items() if name not in _PRIVATE_MEMBERS}
        try:
            key = import_key(cast(dict[str, str | list[str]], public))
        except (JoseError, ValueError, TypeError):
            continue
        if isinstance(key, RSAKey | ECKey):
            found.append(key)
    # Without a kid, the key must be the only candidate: never guess between keys.
    if not found or (kid is None and len(found) > 1):
        return None
    return found[0]


def _number(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidIdToken(f"The sign-in answer has no valid “{name}” time.")
    return float(value)


async def validate_id_token(
    id_token: str,
    *,
    server: OAuthServer,
    client_id: str,
    nonce: str,
    http: httpx.AsyncClient,
    leeway: int = 60,
    now: float | None = None,
) -> dict[str, Any]:
    """The claims of ``id_token`` once every check of OpenID Connect Core §3.1.3.7 passes.

    ``nonce`` is the one sent with this sign-in's authorization request; ``leeway`` (seconds)
    allows for clocks that differ; ``now`` (seconds since the epoch) defaults to the clock.
    Each failure raises :class:`InvalidIdToken` saying what was wrong.
    """
    if not isinstance(id_token, str) or not id_token or len(id_token) > MAX_ID_TOKEN_LENGTH:
        raise InvalidIdToken("The sign-in answer has no usable ID token.")
    if id_token.count(".") != 2:
        raise InvalidIdToken("The sign-in answer's ID token is not a signed token.")
    if not server.jwks_uri:
        raise InvalidIdToken(f"{PROVIDER} publishes no keys to check its sign-in answers with.")
    try:
        header = jws.extract_compact(id_token.encode("ascii")).headers()
    except (JoseError, ValueError, TypeError, RecursionError) as error:
        raise InvalidIdToken("The sign-in answer's ID token cannot be read.") from error
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in ALGORITHMS:
        raise InvalidIdToken(
            f"The sign-in answer is signed with {alg!r}, which is not accepted "
            f"(only {', '.join(ALGORITHMS)})."
        )
    if kid is not None and not isinstance(kid, str):
        raise InvalidIdToken("The sign-in answer names its key in a way that cannot be read.")

    key = _pick_key(await _key_cache.keys(http, server.jwks_uri), kid, alg)
    if key is None:  # the provider may have rotated its keys since they were cached
        key = _pick_key(await _key_cache.keys(http, server.jwks_uri, fresh=True), kid, alg)
    if key is None:
        raise InvalidIdToken(
            "The sign-in answer is signed with a key the provider does not publish."
        )
    try:
        claims: dict[str, Any] = jwt.decode(id_token, key, algorithms=[alg]).claims
    except BadSignatureError as error:
        raise InvalidIdToken(
            "The sign-in answer's signature does not match the provider's keys."
        ) from error
    except (JoseError, ValueError, TypeError, RecursionError) as error:
        raise InvalidIdToken("The sign-in answer's ID token cannot be read.") from error

    if claims.get("iss") != server.issuer:
        raise InvalidIdToken("The sign-in answer came from another provider than the one asked.")
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        raise InvalidIdToken("The sign-in answer does not say which application it is for.")
    azp = claims.get("azp")
    if (
        client_id not in audiences
        or (len(set(audiences)) > 1 and azp != client_id)
        or (azp is not None and azp != client_id)
    ):
        raise InvalidIdToken("The sign-in answer was meant for another application.")
    try:
        check_sub(claims.get("sub"))
    except InvalidHandle as error:
        raise InvalidIdToken("The sign-in answer does not say who signed in.") from error

    current = time.time() if now is None else now
    expires, issued = _number(claims, "exp"), _number(claims, "iat")
    if expires + leeway < current:
        raise InvalidIdToken("The sign-in answer has expired: sign in again.")
    if issued > expires:
        raise InvalidIdToken("The sign-in answer expires before it was issued.")
    if issued - leeway > current:
        raise InvalidIdToken("The sign-in answer is dated in the future: check the server's clock.")
    if "nbf" in claims and _number(claims, "nbf") - leeway > current:
        raise InvalidIdToken("The sign-in answer is not valid yet: check the server's clock.")

    sent = claims.get("nonce")
    if (
        not nonce
        or not isinstance(sent, str)
        or not hmac.compare_digest(sent.encode(), nonce.encode())
    ):
        raise InvalidIdToken("The sign-in answer does not belong to this sign-in: start again.")
    return claims
