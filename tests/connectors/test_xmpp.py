"""XMPP: addresses by RFC 7622, and signing in and messaging against a real Prosody."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

import connectors
from connectors import xmpp
from connectors._addresses import AddressPolicy, Refused
from connectors._addresses import NotFound as AddressNotFound
from connectors.base import (
    AuthRevoked,
    Context,
    Credentials,
    InvalidHandle,
    PermanentError,
    Retriable,
)
from connectors.xmpp import XMPP, Server, _session
from connectors.xmpp import _records as xmpp_records
from tests.fixtures.network import FakeDNS, connection_attempts, listening
from tests.fixtures.peers import free_port
from tests.fixtures.xmpp import XMPPServer, online_client

_numbers = itertools.count(1)


# -- addresses (no server) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ada@example.org", "ada@example.org"),
        ("  Ada@Example.ORG  ", "ada@example.org"),
        ("ada@example.org.", "ada@example.org"),
        ("ada@example.org/phone", "ada@example.org"),
        ("ada@example.org/at@home/and/more", "ada@example.org"),
        ("ada+news@example.org", "ada+news@example.org"),
        ("a\\20b@example.org", "a\\20b@example.org"),
        ("ÉLOÏSE@example.org", "éloïse@example.org"),
        ("Straße@example.org", "strasse@example.org"),
        ("ａｄａ@ｅｘａｍｐｌｅ.ｏｒｇ", "ada@example.org"),
        ("ada@Bücher.example", "ada@bücher.example"),
        ("ada@xn--bcher-kva.example", "ada@bücher.example"),
        ("ada@localhost", "ada@localhost"),
        ("ada@127.0.0.1", "ada@127.0.0.1"),
        ("ada@[2001:DB8:0::1]", "ada@[2001:db8::1]"),
        ("xmpp:ada@example.org", "ada@example.org"),
        ("XMPP:ada@example.org?message;subject=Hello", "ada@example.org"),
        ("xmpp:ada@example.org#top", "ada@example.org"),
        ("xmpp://me@my.example/ada@example.org?message", "ada@example.org"),
        ("xmpp:%C3%A9lo%C3%AFse@example.org", "éloïse@example.org"),
    ],
)
def test_valid_addresses_are_normalised(raw: str, expected: str) -> None:
    assert XMPP.normalize_handle(raw) == expected
    assert XMPP.normalize_handle(expected) == expected


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("", "Enter a handle"),
        ("ada", "name@server"),
        ("example.org", "name@server"),
        ("https://example.org/ada", "name@server"),
        ("@example.org", "before @ is missing"),
        ("ada@", "after @ is missing"),
        ("ada@/phone", "after @ is missing"),
        ("a da@example.org", "spaces"),
        ("ada\u3000lovelace@example.org", "spaces"),
        ('a"b@example.org', "cannot contain '\"'"),
        ("a&b@example.org", "cannot contain '&'"),
        ("a'b@example.org", 'cannot contain "\'"'),
        ("a:b@example.org", "cannot contain ':'"),
        ("<script>@example.org", "cannot contain '<'"),
        ("a>b@example.org", "cannot contain '>'"),
        ("ada😀@example.org", "cannot contain '😀'"),
        ("ada«x»@example.org", "cannot contain '«'"),
        ("ada\ue000@example.org", "control characters"),
        ("x" * 1024 + "@example.org", "at most 1023 bytes"),
        ("é" * 512 + "@example.org", "at most 1023 bytes"),
        ("ada@@example.org", "not a valid domain"),
        ("ada@exa mple.org", "not a valid domain"),
        ("ada@exam_ple.org", "not a valid domain"),
        ("ada@-example.org", "not a valid domain"),
        ("ada@example..org", "not a valid domain"),
        ("ada@example.org:5222", "not a valid domain"),
        ("ada@" + "a" * 64 + ".org", "not a valid domain"),
        ("ada@" + "a." * 130 + "org", "not a valid domain"),
        ("ada@1.2.3.999", "IP address"),
        ("ada@[::zz]", "IPv6"),
        ("ada@[127.0.0.1]", "IPv6"),
        ("ada@example.org<script>", "not a valid domain"),
        ("xmpp:", "name@server"),
        ("xmpp:%FF@example.org", "not valid UTF-8"),
        ("xmpp:ada%2Fx@example.org", "name@server"),
        ("xmpp://me@my.example", "name@server"),
        ("x" * 20000, "too long"),
    ],
)
def test_invalid_addresses_say_why(raw: str, says: str) -> None:
    with pytest.raises(InvalidHandle) as raised:
        XMPP.normalize_handle(raw)
    assert says in raised.value.message


def test_a_handle_that_is_not_text_is_refused() -> None:
    with pytest.raises(InvalidHandle, match="as text"):
        XMPP.normalize_handle(1234)  # type: ignore[arg-type]


@given(st.text(max_size=80))
def test_any_text_is_an_address_or_a_clear_refusal(raw: str) -> None:
    refusal = ""
    try:
        handle = XMPP.normalize_handle(raw)
    except InvalidHandle as error:
        handle, refusal = "", error.message
    if not handle:
        assert refusal
        return
    local, _, domain = handle.partition("@")
    assert local and domain and "/" not in handle
    assert XMPP.normalize_handle(handle) == handle
    assert XMPP.normalize_handle(XMPP.deep_link(handle)) == handle


@pytest.mark.parametrize(
    ("handle", "link"),
    [
        ("ada@example.org", "xmpp:ada@example.org?message"),
        ("éloïse@bücher.example", "xmpp:%C3%A9lo%C3%AFse@b%C3%BCcher.example?message"),
        ("ada@[2001:db8::1]", "xmpp:ada@[2001:db8::1]?message"),
        ("a?b#c@example.org", "xmpp:a%3Fb%23c@example.org?message"),
    ],
)
def test_links_open_a_chat_in_the_client(handle: str, link: str) -> None:
    assert XMPP.deep_link(handle) == link
    assert XMPP.normalize_handle(link) == handle
    assert XMPP.profile_url(handle) is None


def test_xmpp_is_registered_as_a_password_network() -> None:
    assert connectors.get("xmpp") is XMPP
    assert XMPP.AUTH == "password"
    assert XMPP.CAN_VERIFY and XMPP.CAN_MESSAGE


# -- against a real server -------------------------------------------------------------------


def context(
    server: Server | None = None, *, loopback: bool = True, dns: FakeDNS | None = None
) -> Context:
    """A portal's rules: the test servers listen on loopback, which connections reach only
    where allowed; ``server`` routes every connection there."""
    policy = AddressPolicy(allow_loopback=loopback, resolver=dns or FakeDNS())
    return Context(addresses=policy, xmpp_server=server)


@pytest.fixture
def route(xmpp_server: XMPPServer) -> XMPPServer:
    """The test server, which every connection of the test goes to (``routed``)."""
    return xmpp_server


def routed(server: XMPPServer) -> Context:
    return context(server.server)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def account(server: XMPPServer, name: str = "user") -> tuple[str, str]:
    number = next(_numbers)
    password = f"correct horse {number} battery"
    return server.register(f"{name}{number}", password), password


async def linked(server: XMPPServer, http: httpx.AsyncClient, name: str = "user") -> XMPP:
    """A new account, linked by signing in: the connector acting for it."""
    jid, password = account(server, name)
    linked = await XMPP.sign_in(jid, password, http, context=routed(server))
    return XMPP(jid, linked.credentials, http, context=routed(server))


async def test_sign_in_proves_the_address_and_keeps_the_password(
    route: XMPPServer, http: httpx.AsyncClient
) -> None:
    jid, password = account(route, "ada")
    before = asyncio.all_tasks()

    linked = await XMPP.sign_in(f"  {jid.upper()}/laptop ", password, http, context=routed(route))

    assert linked.actor.network == "xmpp"
    assert linked.actor.id == linked.actor.handle == jid
    assert linked.credentials.extra == {
        "password": password,
        "host": "127.0.0.1",
        "port": route.port,
    }
    assert asyncio.all_tasks() == before, "the connection left tasks running"


async def test_a_wrong_password_is_refused(route: XMPPServer, http: httpx.AsyncClient) -> None:
    jid, password = account(route)
    with pytest.raises(PermanentError) as raised:
        await XMPP.sign_in(jid, password + "!", http, context=routed(route))
    assert raised.value.message == "The XMPP server refused this address or password."


async def test_an_unknown_account_is_refused(route: XMPPServer, http: httpx.AsyncClient) -> None:
    nobody = f"nobody{next(_numbers)}@{route.domain}"
    with pytest.raises(PermanentError) as raised:
        await XMPP.sign_in(nobody, "whatever", http, context=routed(route))
    assert raised.value.message == "The XMPP server refused this address or password."


async def test_an_empty_password_is_refused_before_connecting(
    route: XMPPServer, http: httpx.AsyncClient
) -> None:
    with pytest.raises(PermanentError, match="Enter the password"):
        await XMPP.sign_in(f"ada@{route.domain}", "", http, context=routed(route))


async def test_a_domain_the_server_does_not_serve_is_refused(
    route: XMPPServer, http: httpx.AsyncClient
) -> None:
    with pytest.raises(PermanentError) as raised:
        await XMPP.sign_in("ada@example.org", "whatever", http, context=routed(route))
    assert raised.value.message == "This XMPP server does not serve example.org."


async def test_an_untrusted_certificate_stops_before_the_password_is_sent(
    xmpp_server: XMPPServer, http: httpx.AsyncClient
) -> None:
    jid, password = account(xmpp_server)
    untrusted = context(Server(xmpp_server.host, xmpp_server.port))
    before = asyncio.all_tasks()
    with pytest.raises(PermanentError, match="certificate of the XMPP server is not valid"):
        await XMPP.sign_in(jid, password, http, context=untrusted)
    assert asyncio.all_tasks() == before


async def test_a_server_that_is_down_may_be_tried_again(http: httpx.AsyncClient) -> None:
    down = context(Server("127.0.0.1", free_port()))
    before = asyncio.all_tasks()
    started = time.monotonic()
    with pytest.raises(Retriable, match="cannot be reached"):
        await XMPP.sign_in("ada@localhost", "whatever", http, context=down)
    assert time.monotonic() - started < 5
    assert asyncio.all_tasks() == before


async def test_get_actor_signs_in_with_the_stored_credentials(
    route: XMPPServer, http: httpx.AsyncClient
) -> None:
    grace = await linked(route, http, "grace")

    actor = await grace.get_actor()

    assert actor.handle == grace.handle
    assert actor.display_name == grace.handle.partition("@")[0]


async def test_get_actor_reports_a_password_that_no_longer_works(
    route: XMPPServer, http: httpx.AsyncClient
) -> None:
    user = await linked(route, http)
    changed = Credentials(extra={**user.credentials.extra, "password": "changed since"})

    with pytest.raises(AuthRevoked, match="no longer accepts"):
        await XMPP(user.handle, changed, http, context=routed(route)).get_actor()
    with pytest.raises(AuthRevoked, match="missing"):
        await XMPP(user.handle, Credentials(), http, context=routed(route)).get_actor()


async def test_stored_host_and_port_are_used_without_a_route(
    xmpp_server: XMPPServer, http: httpx.AsyncClient
) -> None:
    # Only the trust of the certificate comes from the route; host and port are the account's.
    elsewhere = context(Server("127.0.0.1", free_port(), str(xmpp_server.ca_file)))
    jid, password = account(xmpp_server)
    credentials = Credentials(
        extra={"password": password, "host": xmpp_server.host, "port": xmpp_server.port}
    )
    assert (await XMPP(jid, credentials, http, context=elsewhere).get_actor()).handle == jid


async def test_a_message_reaches_the_other_person(
    route: XMPPServer, http: httpx.AsyncClient
) -> None:
    alice = await linked(route, http, "alice")
    bob, bob_password = account(route, "bob")
    async with online_client(route, bob, bob_password, routed(route).addresses) as received:
        delivered = await alice.send_message(bob.upper(), "Hello Bob\x00, from Alice ✨")
        message = await asyncio.wait_for(received, timeout=5)

    assert message["body"] == "Hello Bob, from Alice ✨"
    assert message["type"] == "chat"
    assert message["from"].bare == alice.handle
    assert message["id"] == delivered.id


async def test_a_try_again_after_one_that_went_out_sends_nothing_twice(
    route: XMPPServer, http: httpx.AsyncClient
) -> None:
    """The first try went out and its answer was lost: the next, ``again`` with the same key,
    finds it in Alice's archive and sends nothing; a new key is a new message."""
    alice = await linked(route, http, "alice")
    bob, bob_password = account(route, "bob")
    first = await alice.send_message(bob, "Once only", "key-1")
    assert first.id == "key-1"
    again = await alice.send_message(bob, "Once only", "key-1", again=True)
    assert again.id == "key-1"
    other = await alice.send_message(bob, "Another", "key-2", again=True)
    assert other.id == "key-2"
    # Bob, online later, is given what waited for him: each message once.
    received: list[str] = []
    async with _session(bob, bob_password, route.server, routed(route).addresses) as client:
        client.add_event_handler("message", lambda m: received.append(str(m["body"])))
        client.send_presence()
        await asyncio.sleep(1)
    assert sorted(received) == ["Another", "Once only"]


async def test_a_message_to_an_unknown_account_is_not_delivered(
    route: XMPPServer, http: httpx.AsyncClient
) -> None:
    alice = await linked(route, http, "alice")
    nobody = f"nobody{next(_numbers)}@{route.domain}"
    with pytest.raises(PermanentError, match=f"did not deliver the message to {nobody}"):
        await alice.send_message(nobody, "Hello?")


async def test_a_message_needs_a_valid_recipient_and_some_text(
    route: XMPPServer, http: httpx.AsyncClient
) -> None:
    sender = await linked(route, http, "alice")
    with pytest.raises(InvalidHandle):
        await sender.send_message("not an address", "Hello")
    with pytest.raises(PermanentError, match="empty"):
        await sender.send_message(f"bob@{route.domain}", " \x01\x02 ")


async def test_a_route_whose_certificate_authorities_are_missing_says_so(
    xmpp_server: XMPPServer, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    missing = context(Server(xmpp_server.host, xmpp_server.port, str(tmp_path / "missing.pem")))
    with pytest.raises(PermanentError, match="certificate authorities"):
        await XMPP.sign_in(f"ada@{xmpp_server.domain}", "whatever", http, context=missing)


async def test_a_server_that_never_answers_is_given_up_in_time(
    monkeypatch: pytest.MonkeyPatch, http: httpx.AsyncClient
) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    listener = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    monkeypatch.setattr(xmpp, "TIMEOUT", 0.5)
    silent_server = context(Server("127.0.0.1", port))
    try:
        before = asyncio.all_tasks()
        # Silent from the start, it is no XMPP server: the answer of any unreachable one.
        with pytest.raises(Retriable, match="cannot be reached"):
            await XMPP.sign_in("ada@localhost", "whatever", http, context=silent_server)
        left = [task for task in asyncio.all_tasks() - before if "silent" not in repr(task)]
        assert not left, "the connection left tasks running"
    finally:
        listener.close()
        await listener.wait_closed()


# -- private networks ------------------------------------------------------------------------


def _dns(port: int) -> FakeDNS:
    """``localhost`` and ``loop.example.org`` are loopback; ``mixed.example.org`` has a public
    and a private address; the SRV records of ``srv.``, ``tls.`` and ``half.example.org``
    point at loopback (``half`` after a public server)."""
    return FakeDNS(
        hosts={
            "localhost": ["127.0.0.1", "::1"],
            "loop.example.org": ["127.0.0.1"],
            "mixed.example.org": ["93.184.215.14", "::1"],
            "public.example.org": ["93.184.215.14"],
        },
        services={
            "_xmpp-client._tcp.srv.example.org": [(0, 0, "loop.example.org.", port)],
            "_xmpps-client._tcp.tls.example.org": [(0, 0, "loop.example.org.", port)],
            "_xmpp-client._tcp.half.example.org": [
                (0, 0, "public.example.org.", 5222),
                (10, 0, "localhost.", port),
            ],
        },
    )


@pytest.mark.parametrize(
    "handle",
    [
        "ada@127.0.0.1",
        "ada@[::1]",
        "ada@[::ffff:127.0.0.1]",
        "ada@0.0.0.0",
        "ada@169.254.169.254",
        "ada@10.1.2.3",
        "ada@localhost",
        "ada@mixed.example.org",
        "ada@srv.example.org",
        "ada@tls.example.org",
        "ada@half.example.org",
    ],
)
async def test_no_connection_into_private_networks(
    handle: str, monkeypatch: pytest.MonkeyPatch, http: httpx.AsyncClient
) -> None:
    async with listening() as listeners:
        monkeypatch.setattr(xmpp, "_PORT", listeners.port)
        public = context(loopback=False, dns=_dns(listeners.port))
        with connection_attempts(monkeypatch) as attempts:
            with pytest.raises(Retriable) as raised:
                await XMPP.sign_in(handle, "x", http, context=public)
            await asyncio.sleep(0.2)  # time for anything slixmpp might still try
    assert listeners.accepted == []
    assert attempts == []
    domain = XMPP.normalize_handle(handle).partition("@")[2]
    assert raised.value.message == f"The XMPP server of {domain} cannot be reached."


async def test_a_linked_account_on_a_private_address_is_not_reached(
    http: httpx.AsyncClient,
) -> None:
    # Linked while the portal allowed loopback; the switch is off now.
    async with listening() as listeners:
        credentials = Credentials(
            extra={"password": "x", "host": "127.0.0.1", "port": listeners.port}
        )
        connector = XMPP("ada@localhost", credentials, http, context=context(loopback=False))
        with pytest.raises(Retriable, match="cannot be reached"):
            await connector.get_actor()
    assert listeners.accepted == []


async def test_whatever_stops_the_connection_the_answer_is_the_same(
    http: httpx.AsyncClient,
) -> None:
    """Refused by the rules, unknown to DNS, a closed port, a service that is not XMPP: one
    answer, so the portal cannot tell anyone which ports are open where."""
    messages = set()
    for handle in ("ada@127.0.0.1", "ada@nowhere.example.org"):
        with pytest.raises(Retriable) as raised:
            await XMPP.sign_in(handle, "x", http, context=context(loopback=False))
        messages.add(raised.value.message.replace(handle.partition("@")[2], "DOMAIN"))
    closed = context(Server("127.0.0.1", free_port()))
    with pytest.raises(Retriable) as raised:
        await XMPP.sign_in("ada@closed.example.org", "x", http, context=closed)
    messages.add(raised.value.message.replace("closed.example.org", "DOMAIN"))
    async with listening(answer=b"SSH-2.0-OpenSSH_9.2\r\n") as listeners:
        other = context(Server("127.0.0.1", listeners.port))
        with pytest.raises(Retriable) as raised:
            await XMPP.sign_in("ada@open.example.org", "x", http, context=other)
        messages.add(raised.value.message.replace("open.example.org", "DOMAIN"))
    assert listeners.accepted, "the open port was reached"
    assert messages == {"The XMPP server of DOMAIN cannot be reached."}


class _FailingSRV(FakeDNS):
    """A name server that fails to answer for one SRV name (SERVFAIL, a time-out)."""

    async def services(self, name: str) -> list[tuple[int, int, str, int]]:
        if name.startswith("_xmpps-client."):
            raise AddressNotFound(f"{name} cannot be looked up")
        return await super().services(name)


@pytest.mark.parametrize(
    ("case", "resolver"),
    [
        (
            "no direct TLS here (target '.')",
            FakeDNS(
                hosts={"xmpp.example.org": ["93.184.215.14"]},
                services={
                    "_xmpps-client._tcp.example.org": [(0, 0, ".", 0)],
                    "_xmpp-client._tcp.example.org": [(0, 0, "xmpp.example.org.", 5222)],
                },
            ),
        ),
        (
            "a first target that no longer resolves",
            FakeDNS(
                hosts={"xmpp.example.org": ["93.184.215.14"]},
                services={
                    "_xmpp-client._tcp.example.org": [
                        (0, 0, "gone.example.org.", 5222),
                        (10, 0, "xmpp.example.org.", 5222),
                    ],
                },
            ),
        ),
        (
            "a failed lookup of one service",
            _FailingSRV(
                hosts={"xmpp.example.org": ["93.184.215.14"]},
                services={"_xmpp-client._tcp.example.org": [(0, 0, "xmpp.example.org.", 5222)]},
            ),
        ),
    ],
)
async def test_a_record_that_leads_nowhere_is_passed_over(case, resolver):
    found = await xmpp_records("example.org", None, AddressPolicy(resolver=resolver))
    assert [(address, port) for _, _, address, port in found] == [("93.184.215.14", 5222)], case


async def test_a_domain_whose_every_record_leads_nowhere_is_unreachable():
    resolver = FakeDNS(
        hosts={"example.org": ["93.184.215.14"]},
        services={"_xmpp-client._tcp.example.org": [(0, 0, "gone.example.org.", 5222)]},
    )
    with pytest.raises(AddressNotFound):
        await xmpp_records("example.org", None, AddressPolicy(resolver=resolver))


async def test_a_private_address_behind_any_record_still_refuses_the_name():
    resolver = FakeDNS(
        hosts={"xmpp.example.org": ["93.184.215.14"], "inner.example.org": ["10.0.0.5"]},
        services={
            "_xmpp-client._tcp.example.org": [
                (0, 0, "gone.example.org.", 5222),
                (10, 0, "xmpp.example.org.", 5222),
                (20, 0, "inner.example.org.", 5222),
            ],
        },
    )
    with pytest.raises(Refused):
        await xmpp_records("example.org", None, AddressPolicy(resolver=resolver))
