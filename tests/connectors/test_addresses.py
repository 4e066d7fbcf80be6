"""The one set of address rules every connection steered by a person goes through."""

from __future__ import annotations

import ipaddress

import pytest

from connectors._addresses import AddressPolicy, NotFound, Refused, is_public
from tests.fixtures.network import FakeDNS


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.1.2.3",
        "::1",
        "0.0.0.0",  # noqa: S104 - an address to refuse, not to listen on
        "::",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",
        "169.254.169.254",
        "fe80::1",
        "fc00::1",
        "224.0.0.1",
        "ff02::1",
        "240.0.0.1",
        "255.255.255.255",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::7f00:1",  # IPv4-compatible, deprecated: Python calls it global
        "64:ff9b::7f00:1",  # NAT64 to loopback
        "64:ff9b::a9fe:a9fe",  # NAT64 to the metadata service
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1: Python calls it global
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "2001:db8::1",
    ],
)
def test_special_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))
    assert not AddressPolicy().allows(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_public_addresses_are_public(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]", "::ffff:127.0.0.1", "localhost"])
async def test_loopback_only_with_the_switch(host: str) -> None:
    dns = FakeDNS({"localhost": ["127.0.0.1", "::1"]})
    with pytest.raises(Refused):
        await AddressPolicy(resolver=dns).addresses(host, 80)
    assert await AddressPolicy(allow_loopback=True, resolver=dns).addresses(host, 80)


@pytest.mark.parametrize(
    "host",
    ["0.0.0.0", "10.0.0.1", "169.254.169.254", "[fe80::1]"],  # noqa: S104 - refused
)
async def test_the_switch_opens_loopback_and_nothing_else(host: str) -> None:
    with pytest.raises(Refused):
        await AddressPolicy(allow_loopback=True, resolver=FakeDNS({})).addresses(host, 80)


async def test_one_private_address_among_public_ones_refuses_the_name() -> None:
    dns = FakeDNS({"mixed.example.org": ["93.184.215.14", "10.0.0.1"]})
    with pytest.raises(Refused):
        await AddressPolicy(resolver=dns).addresses("mixed.example.org", 443)


async def test_a_name_resolves_to_its_checked_addresses_once_each() -> None:
    dns = FakeDNS({"example.org": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"] * 2})
    assert await AddressPolicy(resolver=dns).addresses("example.org", 443) == [
        "93.184.215.14",
        "2606:2800:21f:cb07:6820:80da:af6b:8b2c",
    ]
    with pytest.raises(NotFound):
        await AddressPolicy(resolver=dns).addresses("nowhere.example.org", 443)


async def test_srv_targets_come_in_priority_then_weight_order() -> None:
    name = "_xmpp-client._tcp.example.org"
    dns = FakeDNS(
        {},
        {name: [(20, 0, "c.example.org.", 5222), (10, 5, "b.example.org.", 5223),
                (10, 50, "a.example.org.", 5224)]},
    )  # fmt: skip
    assert await AddressPolicy(resolver=dns).services(name) == [
        ("a.example.org", 5224),
        ("b.example.org", 5223),
        ("c.example.org", 5222),
    ]
    assert await AddressPolicy(resolver=dns).services("_xmpp-client._tcp.other.org") == []
    with pytest.raises(NotFound):
        await AddressPolicy(resolver=FakeDNS({}, {name: [(0, 0, ".", 0)]})).services(name)
