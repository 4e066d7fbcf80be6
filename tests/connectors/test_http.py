"""The one request path of the connectors: bounded bodies, failures in the network's words,
status codes mapped to connector errors, and every way a server asks to wait."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from connectors._http import Failures, check, retry_after, send
from connectors.base import AuthRevoked, PermanentError, RateLimited, Retriable

WORDS = Failures(
    unreachable="Example could not be reached.",
    timeout="Example took too long.",
    too_large="Example sent too much.",
    address="Example has no usable address.",
    limited="Example asks us to wait.",
    failing="Example is failing (HTTP {status}).",
    refused="Example refused (HTTP {status}).",
    revoked="Example forgot us.",
)
NOW = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)


def _client(handler: httpx.MockTransport) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=handler)


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"Retry-After": "30"}, 30),
        ({"Retry-After": format_datetime(NOW + timedelta(seconds=90), usegmt=True)}, 90),
        ({"Retry-After": format_datetime(NOW - timedelta(seconds=90), usegmt=True)}, 0),
        ({"RateLimit-Reset": "7"}, 7),  # a delay (the IETF draft)
        ({"RateLimit-Reset": str(int(NOW.timestamp()) + 42)}, 42),  # a Unix time (Bluesky)
        ({"X-RateLimit-Reset": (NOW + timedelta(seconds=45)).isoformat()}, 45),  # Mastodon
        ({"Retry-After": "\u00b2", "RateLimit-Reset": "7"}, 7),  # unreadable: the next one says
        ({"X-RateLimit-Reset": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_reads_every_form(headers: dict[str, str], wait: float | None) -> None:
    assert retry_after(headers, NOW.timestamp()) == wait


def test_a_moment_is_measured_from_the_servers_clock() -> None:
    served = NOW - timedelta(hours=1)  # our clock is an hour ahead of the server's
    headers = {
        "Date": format_datetime(served, usegmt=True),
        "X-RateLimit-Reset": (served + timedelta(seconds=45)).isoformat(),
    }
    assert retry_after(headers, NOW.timestamp()) == 45


@pytest.mark.parametrize(
    ("failure", "error", "message"),
    [
        (httpx.ConnectTimeout("slow"), Retriable, "Example took too long."),
        (httpx.ConnectError("down"), Retriable, "Example could not be reached."),
        (httpx.InvalidURL("javascript:"), PermanentError, "Example has no usable address."),
    ],
)
async def test_failures_before_an_answer_are_told_in_the_networks_words(
    failure: Exception, error: type[Exception], message: str
) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise failure

    async with _client(httpx.MockTransport(fail)) as http:
        with pytest.raises(error) as raised:
            await send(http, "GET", "https://example.org/", WORDS)
    assert str(raised.value) == message


@pytest.mark.parametrize("declared", [True, False])
async def test_a_body_over_the_limit_is_refused(declared: bool) -> None:
    body = b"x" * 2000

    async def chunks() -> AsyncIterator[bytes]:
        yield body[:1000]
        yield body[1000:]

    def answer(request: httpx.Request) -> httpx.Response:
        if declared:
            return httpx.Response(200, content=body)
        return httpx.Response(200, content=chunks())  # no Content-Length: read until too much

    async with _client(httpx.MockTransport(answer)) as http:
        assert (await send(http, "GET", "https://example.org/", WORDS, limit=2000)).content == body
        with pytest.raises(PermanentError, match=r"Example sent too much\."):
            await send(http, "GET", "https://example.org/", WORDS, limit=1999)


async def test_redirects_are_not_followed() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"location": "https://elsewhere.example/"})

    async with _client(httpx.MockTransport(answer)) as http:
        response = await send(http, "GET", "https://example.org/", WORDS)
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (401, AuthRevoked, "Example forgot us."),
        (429, RateLimited, "Example asks us to wait."),
        (503, Retriable, "Example is failing (HTTP 503)."),
        (404, PermanentError, "Example refused (HTTP 404)."),
        (302, PermanentError, "Example refused (HTTP 302)."),
    ],
)
def test_status_codes_become_connector_errors(
    status: int, error: type[Exception], message: str
) -> None:
    response = httpx.Response(status, headers={"retry-after": "5"})
    with pytest.raises(error) as raised:
        check(response, WORDS)
    assert str(raised.value) == message
    if isinstance(raised.value, RateLimited):
        assert raised.value.retry_after == 5


def test_a_401_without_a_token_is_a_refusal() -> None:
    without_token = Failures(unreachable="", timeout="", too_large="", refused="No ({status}).")
    with pytest.raises(PermanentError, match=r"No \(401\)\."):
        check(httpx.Response(401), without_token)
    assert check(httpx.Response(204), WORDS).status_code == 204
