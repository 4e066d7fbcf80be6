"""Outgoing connections steered by people never reach private addresses: HTTP, and the
connectors that speak other protocols (XMPP), each proved with listeners that must see no
connection."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import re
import ssl
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from connectors import xmpp
from connectors._addresses import AddressPolicy
from connectors._http import read_capped
from connectors.matrix import Matrix
from connectors.xmpp import XMPP
from portal.deps import link_services
from portal.net import BlockedAddress, guarded_client
from tests.fixtures.app import api_sign_up, api_token, make_settings
from tests.fixtures.network import FakeDNS, connection_attempts, listening
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
    async with guarded_client(policy=AddressPolicy(allow_loopback=True)) as http:
        async with http.stream("GET", f"http://127.0.0.1:{local_server}/") as response:
            assert response.status_code == 200
            assert await read_capped(response, limit=1024 * 1024) is None
        with pytest.raises(BlockedAddress):
            await http.get(f"http://10.0.0.1:{local_server}/")


async def test_redirects_are_not_followed(local_server):
    async with guarded_client(policy=AddressPolicy(allow_loopback=True)) as http:
        response = await http.get(f"http://127.0.0.1:{local_server}/redirect")
    assert response.status_code == 302
    assert response.headers["location"] == "http://10.0.0.1/"


async def test_a_redirect_to_a_non_web_address_is_a_transport_error(local_server):
    """httpx reads the Location of every redirect, and raises InvalidURL (no HTTPError) for a
    ``javascript:`` one: callers that handle HTTPError would answer with a 500."""
    async with guarded_client(policy=AddressPolicy(allow_loopback=True)) as http:
        with pytest.raises(httpx.RemoteProtocolError, match="not a web address"):
            await http.get(f"http://127.0.0.1:{local_server}/script")


async def test_a_client_reuses_the_tls_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading the certificate authorities takes tens of milliseconds of CPU on the event
    loop: it happens once per process, not for every client a link or check makes."""
    async with guarded_client():
        pass
    made: list[object] = []
    real = ssl.create_default_context

    def create_default_context(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        made.append(args or kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", create_default_context)
    for _ in range(3):
        async with guarded_client():
            pass
    assert made == []


async def test_http_and_xmpp_follow_one_rule_set(local_server: int) -> None:
    services = link_services(make_settings(connectors_allow_loopback=True))
    assert services.addresses is services.context.addresses
    assert services.addresses.allow_loopback
    async with services.http() as http:
        response = await http.get(f"http://127.0.0.1:{local_server}/redirect")
    assert response.status_code == 302


async def test_the_listeners_listen_on_127_0_0_1_alone_without_ipv6(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = asyncio.start_server

    async def start_server(accept: Any, host: str, port: int) -> asyncio.Server:
        if host == "::1":
            raise OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address")
        return await real(accept, host, port)

    monkeypatch.setattr(asyncio, "start_server", start_server)
    async with listening() as listeners:
        _, writer = await asyncio.open_connection("127.0.0.1", listeners.port)
        writer.close()
        await writer.wait_closed()
        for _ in range(100):
            if listeners.accepted:
                break
            await asyncio.sleep(0.01)
    assert listeners.accepted == ["127.0.0.1"]


# -- every connection a person steers, through the API ---------------------------------------


@pytest.mark.parametrize(
    "address",
    ["::7f00:1", "64:ff9b::7f00:1", "2002:7f00:1::1", "64:ff9b::a9fe:a9fe", "::ffff:10.0.0.1"],
)
async def test_ipv6_spellings_of_private_addresses_are_refused(
    address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Addresses that carry a private IPv4 one, which Python alone calls global."""
    with connection_attempts(monkeypatch) as attempts:
        async with guarded_client() as http:
            with pytest.raises(BlockedAddress):
                await http.get(f"http://[{address}]/")
    assert attempts == []


async def _link(client: httpx.AsyncClient, network: str, handle: str) -> httpx.Response:
    auth = {"authorization": f"Bearer {await api_token(client)}"}
    return await client.post(
        "/api/v1/me/accounts",
        json={"network": network, "handle": handle, "password": "x"},
        headers=auth,
    )


_PRIVATE_SERVERS = [
    "127.0.0.1",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "localhost",
    "0.0.0.0",  # noqa: S104 - an address to refuse, not to listen on
    "169.254.169.254",
    "10.1.2.3",
]


@pytest.mark.parametrize("server", _PRIVATE_SERVERS)
async def test_linking_xmpp_connects_to_no_private_address(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, server: str
) -> None:
    await api_sign_up(client)
    async with listening() as listeners:
        monkeypatch.setattr(xmpp, "_PORT", listeners.port)
        dns = FakeDNS(hosts={"localhost": ["127.0.0.1", "::1"]})
        services = app.state.links
        policy = replace(services.addresses, resolver=dns)
        app.state.links = replace(services, context=replace(services.context, addresses=policy))
        with connection_attempts(monkeypatch) as attempts:
            refused = await _link(client, "xmpp", f"ada@{server}")
            unknown = await _link(client, "xmpp", "ada@nowhere.example.org")
    assert listeners.accepted == []
    assert attempts == []
    assert refused.status_code == unknown.status_code == 502
    domain = XMPP.normalize_handle(f"ada@{server}").partition("@")[2]
    detail = refused.json()["detail"]
    assert detail == unknown.json()["detail"].replace("nowhere.example.org", domain)
    assert "cannot be reached" in detail


@pytest.mark.parametrize("server", _PRIVATE_SERVERS)
async def test_linking_matrix_connects_to_no_private_address(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, server: str
) -> None:
    await api_sign_up(client)
    async with listening() as listeners:
        with connection_attempts(monkeypatch) as attempts:
            refused = await _link(client, "matrix", f"@ada:{server}:{listeners.port}")
    assert listeners.accepted == []
    assert attempts == []
    assert refused.status_code == 502
    host = Matrix.normalize_handle(f"@ada:{server}").partition(":")[2]
    assert refused.json()["detail"] == (
        f"Matrix did not answer as expected (Portal could not reach {host} to find its Matrix"
        " server.). Try again in a moment."
    )


_OPENS_A_CONNECTION = re.compile(
    r"httpx\.(?:Async)?(?:Client|HTTPTransport)\("
    r"|class \w+\([^)]*\b(?:httpx|httpcore)\.\w+"
    r"|httpx\.(?:get|post|put|patch|delete|head|options|request|stream)\("
    r"|httpcore\.\w*(?:ConnectionPool|Connection|Backend)\("
    r"|anyio\.connect_\w+\(|open_(?:unix_)?connection\(|create_connection\("
    r"|socket\.socket\(|\.sock_connect\(|urlopen\(|HTTPS?Connection\("
    r"|aiosmtplib\.send\(|smtplib\.SMTP|slixmpp\.ClientXMPP\)"
)
_MAY_OPEN_CONNECTIONS = {
    "portal/net.py": "the guard of every HTTP request people steer",
    "connectors/xmpp.py": "connects only to addresses its AddressPolicy checked",
    "connectors/_mailbox.py": "IMAP and SMTP, only to addresses its AddressPolicy checked",
    "portal/mail.py": "the operator's SMTP server",
    "portal/sms.py": "the operator's SMS gateway",
}


def test_connections_are_opened_only_where_the_address_rules_apply() -> None:
    """A connector or domain module that opened its own connection would bypass the rules:
    every other module gets its HTTP client from the guard (LinkServices.http)."""
    root = Path(__file__).resolve().parents[2]
    found = {
        path.relative_to(root).as_posix()
        for folder in ("portal", "connectors")
        for path in (root / folder).rglob("*.py")
        if _OPENS_A_CONNECTION.search(path.read_text(encoding="utf-8"))
    }
    assert found <= set(_MAY_OPEN_CONNECTIONS), found - set(_MAY_OPEN_CONNECTIONS)
    # The pattern still finds what it looks for: every module allowed opens connections.
    assert set(_MAY_OPEN_CONNECTIONS) <= found, set(_MAY_OPEN_CONNECTIONS) - found


@pytest.mark.parametrize(
    "line",
    [
        "async with httpx.AsyncClient(timeout=5) as http:",
        "client = httpx.Client()",
        "transport = httpx.AsyncHTTPTransport(retries=1)",
        "class Mine(httpx.AsyncClient):",
        "class Mine(httpcore.AsyncNetworkBackend):",
        "response = httpx.get(url)",
        "response = await httpx.AsyncClient().post(url)",
        "async with httpx.stream('GET', url) as response:",
        "pool = httpcore.AsyncConnectionPool(max_connections=1)",
        "backend = httpcore.AnyIOBackend()",
        "stream = await anyio.connect_tcp(host, 443)",
        "sock = socket.create_connection((host, 443))",
        "sock = socket.socket(socket.AF_INET)",
        "reader, writer = await asyncio.open_connection(host, 443)",
        "transport, protocol = await loop.create_connection(factory, host, 443)",
        "await loop.sock_connect(sock, (host, 443))",
        "page = urllib.request.urlopen(url)",
        "connection = http.client.HTTPSConnection(host)",
        "await aiosmtplib.send(message, hostname=host)",
        "with smtplib.SMTP(host) as smtp:",
        "class Session(slixmpp.ClientXMPP):",
    ],
)
def test_the_pattern_finds_every_way_to_open_a_connection(line: str) -> None:
    assert _OPENS_A_CONNECTION.search(line)


@pytest.mark.parametrize(
    "line",
    [
        "async def get_actor(self, http: httpx.AsyncClient) -> Actor:",
        "except httpx.HTTPError as error:",
        "class Refused(Unreachable):",
    ],
)
def test_the_pattern_passes_over_clients_that_are_only_used(line: str) -> None:
    assert not _OPENS_A_CONNECTION.search(line)
