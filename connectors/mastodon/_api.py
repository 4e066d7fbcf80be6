"""Talking to a Mastodon server: one request, and what its answer means.

Why it looks like this (https://docs.joinmastodon.org/api/guidelines/):

- Every request has a timeout and a User-Agent, follows no redirect (a server that sends
  Portal elsewhere is named, not followed) and reads at most a bounded body.
- Errors (https://docs.joinmastodon.org/entities/Error/): 401 is a revoked token; 403, 404 and
  422 are refusals, told with the server's own ``error`` or ``error_description``. Other
  servers of the Mastodon API say "revoked" otherwise: a 400 ``text/html`` "Invalid Bearer
  token", a 403 ``{"error": "Invalid credentials."}`` (Pleroma, Akkoma), or RFC 6750's
  ``WWW-Authenticate: Bearer error="invalid_token"``; such a 400 or 403 is a revoked token too
  (:func:`says_token_invalid`). 429 carries
  ``X-RateLimit-Reset`` (https://docs.joinmastodon.org/api/rate-limits/); 5xx, timeouts and
  unreachable servers may pass.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from connectors import _http
from connectors._http import Failures, parse_json
from connectors.base import AuthRevoked, PermanentError, RateLimited
from connectors.mastodon._text import CONTROL

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
USER_AGENT = "Portal (self-hosted identity portal)"
MAX_ANSWER_BYTES = 4 * 1024 * 1024
UNEXPECTED = "did not answer like a Mastodon server"


def text_of(value: Any) -> str:
    """A JSON string, or an id given as a number, as text; anything else is empty."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


@dataclass(frozen=True, slots=True)
class Answer:
    """A Mastodon server's answer, its body read."""

    response: httpx.Response

    @property
    def status(self) -> int:
        return self.response.status_code

    @property
    def headers(self) -> httpx.Headers:
        return self.response.headers

    @property
    def body(self) -> bytes:
        return self.response.content

    @property
    def links(self) -> dict[str | None, dict[str, str]]:
        return self.response.links

    def json(self, where: str) -> Any:
        try:
            return parse_json(self.body)
        except ValueError as error:
            raise PermanentError(f"{where} {UNEXPECTED}.") from error


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float:
    """Seconds to wait after a 429 (:func:`connectors._http.retry_after`: ``Retry-After``,
    else ``X-RateLimit-Reset``), between 1 second and 1 day; a minute when it says nothing."""
    wait = _http.retry_after(headers, now)
    return min(max(wait if wait is not None else 60.0, 1.0), 86400.0)


def server_error(answer: Answer) -> str:
    """The server's own words for a refusal (``error``, ``error_description``), made safe."""
    try:
        payload = parse_json(answer.body)
    except ValueError:
        payload = None
    words = ""
    if isinstance(payload, Mapping):
        words = text_of(payload.get("error_description")) or text_of(payload.get("error"))
    return CONTROL.sub("", words).strip()[:300]


_TOKEN_INVALID = re.compile(
    r"invalid[ _](?:bearer[ _])?(?:access[ _])?token|invalid[ _]credentials"
    r"|token (?:is|was|has been) (?:invalid|revoked|expired)",
    re.IGNORECASE,
)
"""How servers of the Mastodon API word a token they no longer accept (Mastodon's Doorkeeper
"The access token is invalid", "Invalid Bearer token", Pleroma's "Invalid credentials.")."""


def says_token_invalid(answer: Answer) -> bool:
    """Whether a refusal says the token itself is not accepted, whatever its status."""
    challenge = answer.headers.get("www-authenticate", "")
    if re.search(r"error=\"?invalid_token", challenge, re.IGNORECASE):
        return True
    words = server_error(answer) or answer.body[:300].decode("utf-8", "replace")
    return _TOKEN_INVALID.search(words) is not None


def check(answer: Answer, where: str) -> Answer:
    status = answer.status
    if 200 <= status < 300:
        return answer
    said = server_error(answer)
    detail = f": {said}" if said else f" ({status})"
    if 300 <= status < 400:
        target = urlsplit(answer.headers.get("location", "")).netloc or "another address"
        raise PermanentError(
            f"{where} sends Portal on to {target[:100]}, which Portal does not follow: "
            "if that is the Mastodon server, give its name instead."
        )
    if status == 401 or (status in (400, 403) and says_token_invalid(answer)):
        raise AuthRevoked(f"{where} no longer accepts Portal's access{detail}")
    if status == 429:
        raise RateLimited(f"{where} asks Portal to slow down", retry_after(answer.headers))
    if status == 404:
        raise PermanentError(f"{where} does not have this{detail}")
    _http.check(answer.response, _failures(where, detail))
    return answer


def _failures(where: str, detail: str = "") -> Failures:
    return Failures.about(
        where,
        timeout=f"{where} did not answer in time",
        too_large=f"{where} sent an answer larger than Portal accepts.",
        refused=f"{where} refused it{detail}",
    )


def _user_agent(http: httpx.AsyncClient) -> dict[str, str]:
    current = http.headers.get("user-agent", "")
    return {} if current and not current.startswith("python-httpx") else {"user-agent": USER_AGENT}


async def call(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    where: str,
    token: str = "",
    headers: Mapping[str, str] | None = None,
    limit: int = MAX_ANSWER_BYTES,
    **kwargs: Any,
) -> Answer:
    """One request: a timeout, a User-Agent, no redirects, at most ``limit`` bytes read."""
    sent = {"accept": "application/json", **_user_agent(http), **(headers or {})}
    if token:
        sent["authorization"] = f"Bearer {token}"
    response = await _http.send(
        http, method, url, _failures(where), limit=limit, headers=sent, timeout=TIMEOUT, **kwargs
    )
    return Answer(response)
