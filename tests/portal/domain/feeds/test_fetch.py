"""The feed fetcher against a real HTTP server on this machine, one that behaves well and badly:
validators, compression, redirects, huge, endless and dripping bodies, errors and waits, and
addresses that must never be reached."""

from __future__ import annotations

import asyncio
import gzip
import random
import time
from collections.abc import AsyncIterator

import brotli
import httpx
import pytest

from connectors._addresses import AddressPolicy
from portal.domain.feeds import schedule
from portal.domain.feeds.fetch import Fetched, FetchError, Validators, fetch
from portal.net import guarded_client
from tests.fixtures.feeds import FeedServer, Handler, drip, endless, head, send, serving
from tests.fixtures.network import connection_attempts, listening

FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><guid>1</guid><title>One</title></item></channel></rss>"""
ETAG = '"v1"'
MODIFIED = "Sun, 06 Dec 2026 08:00:00 GMT"


async def _feed(writer: asyncio.StreamWriter, asked: dict[str, str]) -> None:
    if asked.get("if-none-match") == ETAG or asked.get("if-modified-since") == MODIFIED:
        await send(writer, "304 Not Modified", headers={"etag": ETAG})
        return
    headers = {
        "content-type": "application/rss+xml",
        "etag": ETAG,
        "last-modified": MODIFIED,
        "cache-control": "public, max-age=7200",
    }
    await send(writer, "200 OK", FEED, headers)


def _redirect(status: str, to: str) -> Handler:
    async def answer(writer: asyncio.StreamWriter, asked: dict[str, str]) -> None:
        await send(writer, status, headers={"location": to})

    return answer


async def _gzip(writer: asyncio.StreamWriter, asked: dict[str, str]) -> None:
    assert "gzip" in asked.get("accept-encoding", "")
    await send(writer, "200 OK", gzip.compress(FEED), {"content-encoding": "gzip"})


async def _brotli(writer: asyncio.StreamWriter, asked: dict[str, str]) -> None:
    assert "br" in asked.get("accept-encoding", "")
    await send(writer, "200 OK", brotli.compress(FEED), {"content-encoding": "br"})


async def _bomb(writer: asyncio.StreamWriter, asked: dict[str, str]) -> None:
    """50 MB of zeros, gzipped to about 50 KB, with an honest compressed length."""
    await send(
        writer, "200 OK", gzip.compress(bytes(50 * 1024 * 1024)), {"content-encoding": "gzip"}
    )


async def _declared_huge(writer: asyncio.StreamWriter, asked: dict[str, str]) -> None:
    writer.write(head("200 OK", {"content-length": str(50 * 1024 * 1024)}))
    writer.write(b"<rss>" + b" " * 65536)
    await writer.drain()


def _status(status: str, **headers: str) -> Handler:
    async def answer(writer: asyncio.StreamWriter, asked: dict[str, str]) -> None:
        await send(writer, status, b"no", {k.replace("_", "-"): v for k, v in headers.items()})

    return answer


@pytest.fixture
async def feeds() -> AsyncIterator[FeedServer]:
    async with serving() as server:
        base = server.base
        server.routes.update(
            {
                "/feed": _feed,
                "/moved": _redirect("301 Moved Permanently", "/feed"),
                "/moved-twice": _redirect("308 Permanent Redirect", f"{base}/moved"),
                "/elsewhere": _redirect("302 Found", "/feed"),
                "/moved-then-elsewhere": _redirect("301 Moved Permanently", "/elsewhere"),
                "/loop": _redirect("302 Found", "/loop"),
                "/to-metadata": _redirect("302 Found", "http://169.254.169.254/latest/meta-data/"),
                "/to-private": _redirect("301 Moved Permanently", "http://10.0.0.1/feed"),
                "/to-file": _redirect("302 Found", "file:///etc/passwd"),
                "/to-gopher": _redirect("302 Found", "gopher://127.0.0.1:70/"),
                "/gzip": _gzip,
                "/brotli": _brotli,
                "/bomb": _bomb,
                "/declared-huge": _declared_huge,
                "/endless": endless,
                "/drip": drip,
                "/gone": _status("410 Gone"),
                "/limited": _status("429 Too Many Requests", retry_after="120"),
                "/down": _status("503 Service Unavailable", retry_after="30"),
                "/forbidden": _status("403 Forbidden"),
            }
        )
        yield server


def _client(*, loopback: bool = True) -> httpx.AsyncClient:
    return guarded_client(policy=AddressPolicy(allow_loopback=loopback))


async def _fetch(url: str, **kwargs: object) -> Fetched:
    async with _client() as http:
        return await fetch(http, url, **kwargs)  # type: ignore[arg-type]


async def test_a_second_fetch_sends_the_validators_and_gets_nothing_new(feeds: FeedServer) -> None:
    first = await _fetch(feeds.url("/feed"))
    assert first.body == FEED and not first.not_modified
    assert first.validators == Validators(ETAG, MODIFIED)
    assert first.content_type == "application/rss+xml" and first.max_age == 7200
    assert first.moved_to is None

    second = await _fetch(feeds.url("/feed"), validators=first.validators)
    assert second.not_modified and second.body == b""
    assert second.validators == first.validators
    _, asked = feeds.requests[-1]
    assert asked["if-none-match"] == ETAG and asked["if-modified-since"] == MODIFIED
    assert "application/atom+xml" in asked["accept"]
    assert asked["user-agent"].startswith("Portal/")


@pytest.mark.parametrize("path", ["/gzip", "/brotli"])
async def test_compressed_answers_are_decoded(feeds: FeedServer, path: str) -> None:
    assert (await _fetch(feeds.url(path))).body == FEED


async def test_only_permanent_redirects_move_the_source(feeds: FeedServer) -> None:
    moved = await _fetch(feeds.url("/moved-twice"))
    assert moved.body == FEED and moved.moved_to == feeds.url("/feed")
    assert moved.url == feeds.url("/feed")
    # A temporary step on the way keeps the address people gave.
    for path in ("/elsewhere", "/moved-then-elsewhere"):
        fetched = await _fetch(feeds.url(path))
        assert fetched.body == FEED and fetched.moved_to is None


async def test_a_redirect_loop_stops(feeds: FeedServer) -> None:
    with pytest.raises(FetchError, match="redirects more than 5 times"):
        await _fetch(feeds.url("/loop"))
    assert [path for path, _ in feeds.requests] == ["/loop"] * 6


@pytest.mark.parametrize("path", ["/to-metadata", "/to-private", "/to-file", "/to-gopher"])
async def test_a_redirect_out_of_the_public_web_is_refused(
    feeds: FeedServer, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with connection_attempts(monkeypatch) as attempts, pytest.raises(FetchError) as refused:
        await _fetch(feeds.url(path))
    assert refused.value.refused
    # Only the feed server on loopback was connected to; nothing in a private network.
    assert set(attempts) == {"127.0.0.1"}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/feed",
        "http://[::1]:{port}/feed",
        "http://[::ffff:127.0.0.1]:{port}/feed",
        "http://0.0.0.0:{port}/feed",
        "http://2130706433:{port}/feed",
        "http://0177.0.0.1:{port}/feed",
        "http://0x7f.0.0.1:{port}/feed",
        "http://0x7f000001:{port}/feed",
        "http://127.1:{port}/feed",
        "http://10.0.0.1:{port}/feed",
        "http://172.16.0.1:{port}/feed",
        "http://192.168.0.1:{port}/feed",
        "http://169.254.169.254:{port}/latest/meta-data/",
        "file:///etc/passwd",
        "gopher://127.0.0.1:{port}/",
        "ftp://127.0.0.1:{port}/feed",
        "http:///feed",
        "http://127.0.0.1:port/feed",
    ],
)
async def test_private_and_non_web_addresses_are_refused_without_a_connection(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with listening(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n") as listeners:
        with connection_attempts(monkeypatch) as attempts:
            async with _client(loopback=False) as http:
                with pytest.raises(FetchError) as refused:
                    await fetch(http, url.format(port=listeners.port))
        await asyncio.sleep(0.05)
    assert refused.value.refused, str(refused.value)
    assert attempts == [] and listeners.accepted == []


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/bomb", "larger than 8 MB"),
        ("/declared-huge", "larger than 8 MB"),
        ("/endless", "larger than 8 MB"),
        ("/drip", "more than 2 seconds"),
    ],
)
async def test_huge_endless_and_dripping_answers_are_cut_off(
    feeds: FeedServer, path: str, words: str
) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match=words) as stopped:
        await _fetch(feeds.url(path), deadline=2.0)
    assert not stopped.value.refused
    assert time.monotonic() - started < 10


async def test_a_slow_source_does_not_hold_up_another(feeds: FeedServer) -> None:
    async def quick() -> bytes:
        return (await _fetch(feeds.url("/feed"))).body

    slow = asyncio.create_task(_fetch(feeds.url("/drip"), deadline=3.0))
    await asyncio.sleep(0.2)
    assert await asyncio.wait_for(quick(), timeout=2) == FEED
    assert not slow.done()
    with pytest.raises(FetchError):
        await slow


@pytest.mark.parametrize(
    ("path", "gone", "waited", "words"),
    [
        ("/gone", True, None, "gone"),
        ("/limited", False, 120.0, "less often"),
        ("/down", False, 30.0, "HTTP 503"),
        ("/forbidden", False, None, "HTTP 403"),
        ("/nothing-here", False, None, "HTTP 404"),
    ],
)
async def test_errors_say_what_happened_and_how_long_to_wait(
    feeds: FeedServer, path: str, gone: bool, waited: float | None, words: str
) -> None:
    with pytest.raises(FetchError, match=words) as failed:
        await _fetch(feeds.url(path))
    assert failed.value.gone is gone
    assert failed.value.retry_after == waited


async def test_a_server_that_is_not_there_is_an_error_in_words() -> None:
    async with listening() as listeners:
        port = listeners.port
    with pytest.raises(FetchError, match="could not be reached"):
        await _fetch(f"http://127.0.0.1:{port}/feed")


def test_the_feeds_hints_decide_within_bounds() -> None:
    assert schedule.interval() == schedule.USUAL
    assert schedule.interval(None, schedule.ttl("5")) == schedule.SHORTEST  # too often
    assert schedule.interval(7200.0, schedule.ttl("60")) == 7200.0  # the longest hint
    assert schedule.interval(schedule.update_period("daily", "2")) == 43200.0
    assert schedule.interval(schedule.update_period("yearly", None)) == schedule.LONGEST
    assert schedule.update_period("fortnightly", 1) is None
    assert schedule.update_period("hourly", "zero") == 3600.0
    assert schedule.ttl("soon") is None and schedule.ttl("-5") is None


def test_failures_back_off_with_jitter_and_honour_retry_after() -> None:
    rng = random.Random(7)
    waits = [schedule.backoff(n, rng=rng) for n in range(1, 12)]
    for failures, wait in enumerate(waits, start=1):
        ceiling = min(schedule.SHORTEST * 2 ** (failures - 1), schedule.LONGEST_BACKOFF)
        assert ceiling / 2 <= wait <= ceiling
    assert waits[-1] <= schedule.LONGEST_BACKOFF
    spread = {round(schedule.backoff(3, rng=rng)) for _ in range(20)}
    assert len(spread) > 10, "sources that failed together must not come back together"
    assert schedule.backoff(1, retry_after=5000.0, rng=rng) == 5000.0
    assert schedule.backoff(1, retry_after=10**9, rng=rng) == schedule.LONGEST_BACKOFF
