"""The one way connectors (and the portal's OAuth flow) send an HTTP request and read what it
means: a body of bounded size, JSON that fails as :class:`ValueError` and nothing else, how
long a server asks to wait, and the error each kind of failure is.

Each network keeps its own words (:class:`Failures`) and the cases only it has (Mastodon's
revoked tokens, Matrix's error codes, XRPC's error names), which it checks before
:func:`check`; what is the same everywhere is here once.

- A request follows no redirect unless asked, and reads at most ``limit`` bytes: a body that
  says or proves it is larger is refused before it is all read.
- ``Retry-After`` is a number of seconds or an HTTP-date (RFC 9110 §10.2.3,
  https://www.rfc-editor.org/rfc/rfc9110#field.retry-after; an HTTP-date is the format of
  §5.6.7). Without it, ``RateLimit-Reset`` is a delay (the IETF draft,
  https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/) or, as Bluesky
  sends it, a Unix time; ``X-RateLimit-Reset`` is Mastodon's ISO 8601 moment
  (https://docs.joinmastodon.org/api/rate-limits/). Moments are measured from the answer's
  ``Date`` where it has one, so a clock that differs from the server's does not matter.
- ``json.loads`` raises :class:`RecursionError` on deeply nested arrays, which a hostile
  server can send well within any size limit.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from connectors.base import AuthRevoked, PermanentError, RateLimited, Retriable

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
MAX_ANSWER = 2 * 1024 * 1024
"""The most bytes of an answer read where the caller names no other limit."""


@dataclass(frozen=True, slots=True)
class Failures:
    """What the failures of a request say, in the words of the network it goes to.

    ``{status}`` in ``failing`` and ``refused`` stands for the answer's status code.
    """

    unreachable: str
    timeout: str
    too_large: str
    address: str = "Portal cannot use this address."
    limited: str = "The server asks Portal to slow down."
    failing: str = "The server is not working right now (HTTP {status}); try again later."
    refused: str = "The server refused the request (HTTP {status})."
    revoked: str | None = None
    """What a 401 means where the request carried the account's token; ``None``: a refusal."""

    @classmethod
    def about(cls, what: str, **words: Any) -> Failures:
        """The usual words for a server people call ``what``; ``words`` replace any of them."""
        usual = cls(
            unreachable=f"{what} could not be reached.",
            timeout=f"{what} took too long to answer.",
            too_large=f"{what} sent an answer too large to read.",
            address=f"{what} has an address that cannot be used.",
            limited=f"{what} asks us to slow down.",
            failing=f"{what} is not working right now (HTTP {{status}}); try again later.",
            refused=f"{what} refused the request (HTTP {{status}}).",
        )
        return replace(usual, **words)


def parse_json(body: bytes) -> Any:
    """The JSON value of ``body``; :class:`ValueError` when it is not JSON or nests too deep."""
    try:
        return json.loads(body)
    except RecursionError as error:
        raise ValueError("The JSON is nested too deeply to read.") from error


async def read_capped(response: httpx.Response, limit: int) -> bytes | None:
    """The body of a streamed response, or ``None`` once it says or proves it is over ``limit``
    bytes (reading stops there)."""
    declared = response.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


async def request_capped(
    http: httpx.AsyncClient, method: str, url: str, limit: int, **kwargs: Any
) -> httpx.Response | None:
    """Send a request and read at most ``limit`` bytes of its answer: the answer with its body
    read (already decoded), or ``None`` when it was larger. Failures are httpx's."""
    async with http.stream(method, url, **kwargs) as response:
        body = await read_capped(response, limit)
    if body is None:
        return None
    headers = [
        (name, value)
        for name, value in response.headers.multi_items()
        if name.lower() not in ("content-encoding", "content-length", "transfer-encoding")
    ]
    return httpx.Response(
        response.status_code, headers=headers, content=body, request=response.request
    )


async def send(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    failures: Failures,
    *,
    limit: int = MAX_ANSWER,
    **kwargs: Any,
) -> httpx.Response:
    """One request: a timeout, no redirect followed unless asked, at most ``limit`` bytes
    read. What happened before an answer came is raised in the words of ``failures``: an
    address that cannot be used and a body too large are final, the rest may pass."""
    kwargs.setdefault("timeout", TIMEOUT)
    kwargs.setdefault("follow_redirects", False)
    try:
        response = await request_capped(http, method, url, limit, **kwargs)
    except httpx.InvalidURL as error:  # also a redirect to ``javascript:`` and the like
        raise PermanentError(failures.address) from error
    except httpx.TimeoutException as error:
        raise Retriable(failures.timeout) from error
    except httpx.HTTPError as error:
        raise Retriable(failures.unreachable) from error
    if response is None:
        raise PermanentError(failures.too_large)
    return response


def check(response: httpx.Response, failures: Failures) -> httpx.Response:
    """The answer when it is a success, else the error its status means: 401 a revoked token
    (where ``failures`` says so), 429 a wait, 5xx a failure that may pass, the rest a refusal."""
    status = response.status_code
    if 200 <= status < 300:
        return response
    if status == 401 and failures.revoked is not None:
        raise AuthRevoked(failures.revoked)
    if status == 429:
        raise RateLimited(failures.limited, retry_after(response.headers))
    if status >= 500:
        raise Retriable(failures.failing.replace("{status}", str(status)))
    raise PermanentError(failures.refused.replace("{status}", str(status)))


def http_date(value: str) -> datetime | None:
    """An HTTP-date as an aware datetime (UTC when it names no zone), or ``None``."""
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The seconds an answer asks to wait (0 for a moment already past), or ``None`` when it
    says nothing that can be read; ``now`` is a Unix time (the clock's)."""
    lowered = {key.lower(): value.strip() for key, value in headers.items()}
    served = http_date(lowered.get("date", ""))
    reference = served.timestamp() if served else (time.time() if now is None else now)

    def until(moment: float) -> float:
        return max(0.0, moment - reference)

    given = lowered.get("retry-after", "")
    if given.isascii() and given.isdigit():
        return float(given)
    moment = http_date(given) if given else None
    if moment is not None:
        return until(moment.timestamp())
    reset = lowered.get("ratelimit-reset", "")
    if reset.isascii() and reset.isdigit():
        number = float(reset)
        return until(number) if number > 1_000_000_000 else number
    try:
        moment = datetime.fromisoformat(lowered.get("x-ratelimit-reset", ""))
    except ValueError:
        return None
    return until((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())


def json_text(value: Any) -> str:
    """A JSON value that should be a string, or "" when it is anything else."""
    return value if isinstance(value, str) else ""


def json_object(value: Any) -> Mapping[str, Any]:
    """A JSON value that should be an object, or an empty one when it is anything else."""
    return value if isinstance(value, Mapping) else {}
