"""HTTP pieces several connectors read the same way: a body of bounded size, JSON that fails
as :class:`ValueError` and nothing else, and how long a server asks to wait.

Each connector keeps its own requests, timeouts and messages, because each network answers
and fails in its own way; only what is the same everywhere is here.

- ``Retry-After`` is a number of seconds or an HTTP-date (RFC 9110 §10.2.3,
  https://www.rfc-editor.org/rfc/rfc9110#field.retry-after); an HTTP-date is the format of
  RFC 9110 §5.6.7 (https://www.rfc-editor.org/rfc/rfc9110#http.date).
- ``json.loads`` raises :class:`RecursionError` on deeply nested arrays, which a hostile
  server can send well within any size limit.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx


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
    read (already decoded), or ``None`` when it was larger."""
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


def http_date(value: str) -> datetime | None:
    """An HTTP-date as an aware datetime (UTC when it names no zone), or ``None``."""
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """The seconds a ``Retry-After`` value asks to wait (0 for a date already past), or
    ``None`` when there is none that can be read; ``now`` is a Unix time (the clock's)."""
    text = (value or "").strip()
    if text.isascii() and text.isdigit():
        return float(text)
    moment = http_date(text) if text else None
    if moment is None:
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))
