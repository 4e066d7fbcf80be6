"""Outgoing HTTP steered by people never reaches private addresses."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest

from portal.net import BlockedAddress, guarded_client, read_limited
from tests.fixtures.peers import free_port


@pytest.fixture
async def local_server() -> AsyncIterator[int]:
    """A plain HTTP server on 127.0.0.1: ``/redirect`` points into a private network,
    ``/script`` to a ``javascript:`` address, any other path answers with 2 MiB."""
    port = free_port()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if head.startswith((b"GET /redirect ", b"GET /script ")):
            where = b"http://10.0.0.1/" if head.startswith(b"GET /redirect") else b"javascript:x()"
            writer.write(b"HTTP/1.1 302 Found\r\nlocation: " + where + b"\r\n")
            writer.write(b"content-length: 0\r\nconnection: close\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        body = b"x" * (2 * 1024 * 1024)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\n")
        writer.write(f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode())
        writer.write(body)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", port)
    yield port
    server.close()
    await server.wait_closed()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/",
        "http://localhost:{port}/",
        "http://[::1]:{port}/",
        "http://[::ffff:127.0.0.1]:{port}/",
        "http://0.0.0.0:{port}/",
        "http://10.0.0.1:{port}/",
        "http://192.168.1.1:{port}/",
        "http://169.254.169.254:{port}/latest/meta-data/",
        "http://100.64.0.1:{port}/",
        "http://2130706433:{port}/",
    ],
)
async def test_private_addresses_are_refused(local_server, url):
    async with guarded_client() as http:
        with pytest.raises((BlockedAddress, httpx.ConnectError)):
            await http.get(url.format(port=local_server))


async def test_loopback_is_reached_only_when_allowed(local_server):
    async with guarded_client(allow_loopback=True) as http:
        async with http.stream("GET", f"http://127.0.0.1:{local_server}/") as response:
            assert response.status_code == 200
            with pytest.raises(httpx.DecodingError, match="larger than"):
                await read_limited(response, limit=1024 * 1024)
        with pytest.raises(BlockedAddress):
            await http.get(f"http://10.0.0.1:{local_server}/")


async def test_redirects_are_not_followed(local_server):
    async with guarded_client(allow_loopback=True) as http:
        response = await http.get(f"http://127.0.0.1:{local_server}/redirect")
    assert response.status_code == 302
    assert response.headers["location"] == "http://10.0.0.1/"


async def test_a_redirect_to_a_non_web_address_is_a_transport_error(local_server):
    """httpx reads the Location of every redirect, and raises InvalidURL (no HTTPError) for a
    ``javascript:`` one: callers that handle HTTPError would answer with a 500."""
    async with guarded_client(allow_loopback=True) as http:
        with pytest.raises(httpx.RemoteProtocolError, match="not a web address"):
            await http.get(f"http://127.0.0.1:{local_server}/script")
