"""Talking to Meta's Graph API, for the Facebook Page and Instagram connectors: one request,
and what its answer means.

Why it looks like this:

- Every request goes to ``https://graph.facebook.com/<version>/…`` (Instagram accounts
  linked through Facebook Login are reached there too) with the token in the
  ``Authorization`` header, never in the address, so no log of addresses holds a token.
  https://developers.facebook.com/docs/graph-api/overview
- Errors are ``{"error": {"message", "type", "code", "error_subcode", "error_user_msg",
  "fbtrace_id"}}`` (https://developers.facebook.com/docs/graph-api/guides/error-handling):
  ``OAuthException`` without a subcode, 102 and 190 mean the token no longer works; 4, 17, 32,
  341 and 613 are throttling; 1 and 2 are temporary trouble on Meta's side; 10 and 200–299 are
  permissions the person did not grant (or took back); 100 is a request Meta will not take;
  368 is a block for a policy breach; 506 is the same post twice in a row. Whatever the code,
  the person reads Meta's own ``error_user_msg`` where it gives one.
- Throttling (https://developers.facebook.com/docs/graph-api/overview/rate-limiting/): the
  ``X-App-Usage`` and ``X-Page-Usage`` headers give percentages of the allowance used, and
  ``X-Business-Use-Case-Usage`` (Page tokens and Instagram are counted there) gives
  ``estimated_time_to_regain_access`` in minutes; ``Retry-After`` is read first where an
  answer has one. With none of them, Portal waits :data:`DEFAULT_WAIT`: Meta counts calls over
  a rolling hour.
- Nothing a person reads holds a token: Meta's words are passed through :func:`scrub`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from connectors import _http
from connectors._http import Failures, parse_json
from connectors.base import (
    AuthRevoked,
    ConnectorError,
    Credentials,
    OAuthClient,
    OAuthServer,
    PermanentError,
    RateLimited,
    Retriable,
)

VERSION = "v23.0"
"""The Graph API version every request names (https://developers.facebook.com/docs/graph-api/
changelog): a version lives at least two years, so it is moved on deliberately."""
GRAPH = "https://graph.facebook.com"
DIALOG = "https://www.facebook.com"
DEFAULT_WAIT = 300.0
"""Seconds to wait after throttling when Meta does not say how long."""
MAX_ANSWER = 1024 * 1024

AUTH_CODES = frozenset({102, 190})
THROTTLE_CODES = frozenset({4, 17, 32, 341, 613})
TEMPORARY_CODES = frozenset({1, 2})
PERMISSION_CODES = frozenset({10, *range(200, 300)})
DUPLICATE_POST = 506
USAGE_HEADERS = ("x-business-use-case-usage", "x-page-usage", "x-app-usage", "x-ad-account-usage")


class Missing(PermanentError):
    """The object is not there, or Portal may not see it (error 100, subcode 33)."""


def url(path: str) -> str:
    """The address of a Graph API path (``me/accounts``) in the version Portal speaks."""
    return f"{GRAPH}/{VERSION}/{path.lstrip('/')}"


def oauth_server() -> OAuthServer:
    """Facebook Login's endpoints (https://developers.facebook.com/docs/facebook-login/guides/
    advanced/manual-flow): the login dialog, with PKCE (https://developers.facebook.com/docs/
    facebook-login/guides/advanced/oidc-token), and the code exchange, which takes the app's
    ``client_id`` and ``client_secret`` as parameters (not in an ``Authorization`` header)
    and answers ``{"access_token", "token_type", "expires_in"}``, or a Graph API error; a
    token is given up with ``DELETE /me/permissions``, not at an RFC 7009 endpoint."""
    return OAuthServer(
        issuer="https://www.facebook.com",
        authorization_endpoint=f"{DIALOG}/{VERSION}/dialog/oauth",
        token_endpoint=url("oauth/access_token"),
        token_endpoint_auth_methods_supported=("client_secret_post",),
    )


async def long_lived(
    short_lived: Credentials, client: OAuthClient, http: httpx.AsyncClient, where: str
) -> Credentials:
    """The long-lived user token (about 60 days) for the short-lived one (an hour or two) a
    login gave: ``grant_type=fb_exchange_token`` with the app's id and secret
    (https://developers.facebook.com/docs/facebook-login/guides/access-tokens/get-long-lived).
    Meta gives no refresh token: once it runs out, the person logs in again."""
    if not client.client_secret:
        raise PermanentError(f"{where} needs the app secret to give a long-lived token.")
    answer = await call(
        http,
        "POST",
        "oauth/access_token",
        token=short_lived.access_token,
        where=where,
        data={
            "grant_type": "fb_exchange_token",
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "fb_exchange_token": short_lived.access_token,
        },
    )
    token = text_of(answer.get("access_token")) if isinstance(answer, Mapping) else ""
    if not token:
        raise PermanentError(f"{where} gave no long-lived token.")
    seconds = _number(answer.get("expires_in"))
    expires = datetime.now(UTC) + timedelta(seconds=seconds) if seconds else None
    return Credentials(
        access_token=token,
        expires_at=expires,
        scope=short_lived.scope,
        extra=short_lived.extra,
    )


def scrub(text: str, *secrets: str) -> str:
    """``text`` without any of ``secrets`` in it, and without control characters."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "…")
    return "".join(char for char in text if char.isprintable()).strip()[:400]


def _number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def wait_of(headers: Mapping[str, str]) -> float:
    """How long an answer asks to wait: ``Retry-After``, else the longest
    ``estimated_time_to_regain_access`` (minutes) of the usage headers, else
    :data:`DEFAULT_WAIT`; between 1 second and 1 day."""
    wait = _http.retry_after(headers)
    if wait is None:
        minutes = [minutes for name in USAGE_HEADERS for minutes in _regain(headers.get(name))]
        wait = max(minutes) * 60.0 if minutes and max(minutes) > 0 else None
    return min(max(wait if wait is not None else DEFAULT_WAIT, 1.0), 86400.0)


def _regain(header: str | None) -> list[int]:
    """Every ``estimated_time_to_regain_access`` in a usage header (an object, or an object of
    lists of objects keyed by business id)."""
    if not header:
        return []
    try:
        value = json.loads(header)
    except ValueError:
        return []
    found: list[int] = []
    stack = [value]
    while stack and len(found) < 100:
        item = stack.pop()
        if isinstance(item, Mapping):
            minutes = _number(item.get("estimated_time_to_regain_access"))
            if minutes is not None:
                found.append(minutes)
            stack.extend(v for v in item.values() if isinstance(v, Mapping | list))
        elif isinstance(item, list):
            stack.extend(item)
    return found


def error_for(
    payload: Any, headers: Mapping[str, str], status: int, where: str, *secrets: str
) -> ConnectorError:
    """The error a Graph API failure means, in words for a person."""
    error = payload.get("error") if isinstance(payload, Mapping) else None
    if not isinstance(error, Mapping):
        if status == 401:
            return AuthRevoked(f"{where} no longer accepts Portal's access: connect it again.")
        if status == 429:
            return RateLimited(f"{where} asks Portal to slow down.", wait_of(headers))
        if status >= 500:
            return Retriable(f"{where} is not working right now (HTTP {status}); try again later.")
        return PermanentError(f"{where} refused the request (HTTP {status}).")
    code = _number(error.get("code"))
    subcode = _number(error.get("error_subcode"))
    said = scrub(str(error.get("error_user_msg") or error.get("message") or ""), *secrets)
    detail = f": {said}" if said else "."
    if code in AUTH_CODES or (error.get("type") == "OAuthException" and code is None):
        return AuthRevoked(f"{where} no longer accepts Portal's access; connect it again{detail}")
    if code in THROTTLE_CODES:
        return RateLimited(
            f"{where} has had too many requests from Portal for now{detail}", wait_of(headers)
        )
    if code in TEMPORARY_CODES or status >= 500 or error.get("is_transient") is True:
        return Retriable(f"{where} had a temporary problem; Portal will try again{detail}")
    if code in PERMISSION_CODES:
        return PermanentError(
            f"{where} did not give Portal the permission this needs; connect it again and "
            f"allow it{detail}"
        )
    if code == DUPLICATE_POST:
        return PermanentError(f"{where} refused this post: it is the same as the last one.")
    if code == 368:
        return PermanentError(f"{where} has blocked posting for now{detail}")
    if code == 100 and subcode == 33:
        return Missing(f"{where} does not have this, or Portal may not see it{detail}")
    return PermanentError(f"{where} refused the request{detail}")


def failures(where: str) -> Failures:
    return Failures.about(
        where,
        unreachable=f"{where} could not be reached.",
        timeout=f"{where} did not answer in time.",
        too_large=f"{where} sent an answer larger than Portal accepts.",
    )


async def call(
    http: httpx.AsyncClient,
    method: str,
    path: str,
    *,
    token: str,
    where: str,
    params: Mapping[str, str] | None = None,
    data: Mapping[str, Any] | None = None,
    files: Mapping[str, Any] | None = None,
) -> Any:
    """One Graph API request; its JSON answer, or the error the answer means."""
    if not token:
        raise AuthRevoked(f"Portal holds no access to {where}: connect it again.")
    response = await _http.send(
        http,
        method,
        url(path),
        failures(where),
        limit=MAX_ANSWER,
        headers={"authorization": f"Bearer {token}", "accept": "application/json"},
        params=params,
        data=data,
        files=files,
    )
    try:
        payload = parse_json(response.content)
    except ValueError:
        payload = None
    if 200 <= response.status_code < 300 and isinstance(payload, Mapping | list):
        if isinstance(payload, Mapping) and isinstance(payload.get("error"), Mapping):
            raise error_for(payload, response.headers, response.status_code, where, token)
        return payload
    if 200 <= response.status_code < 300:
        raise PermanentError(f"{where} answered with something that is not the Graph API's.")
    raise error_for(payload, response.headers, response.status_code, where, token)


def text_of(value: Any) -> str:
    """A JSON string, or an id given as a number, as text; anything else is empty."""
    if isinstance(value, str):
        return value
    number = _number(value)
    return "" if number is None else str(number)


def graph_time(value: Any) -> datetime | None:
    """A Graph API time (``2025-01-31T12:00:00+0000``), or ``None``."""
    try:
        moment = datetime.strptime(text_of(value), "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None
    return moment.astimezone(UTC)
