"""Which addresses a connection made for a person may reach: the one rule set of the portal.

People name the servers the portal connects to (an instance, a homeserver, an XMPP domain, a
website), so a name may lead into the network the portal runs in: its own loopback, the
cloud's metadata service (169.254.169.254), the company's 10.x machines. Every connection a
person steers is therefore made in three steps: resolve the name once (DNS, and SRV where
the protocol uses it), check every address found, then connect to a checked address, never
to the name again (a second lookup could answer differently).

- An address is reachable when it is globally routable (the IANA special-purpose registries,
  https://www.iana.org/assignments/iana-ipv4-special-registry and
  https://www.iana.org/assignments/iana-ipv6-special-registry, as :mod:`ipaddress` knows
  them), not multicast and not reserved. An IPv6 address that carries an IPv4 address
  (IPv4-mapped ``::ffff:0:0/96``, NAT64 ``64:ff9b::/96`` of RFC 6052, 6to4 ``2002::/16`` of
  RFC 3056) is judged by that IPv4 address too.
- Loopback (127.0.0.0/8, ::1) is reachable only when the portal allows it, for development
  and tests against servers on the same machine. Nothing else private ever is.
- When any address a name resolves to is refused, the name is refused: a name that mixes
  public and private addresses is not used at all.

This module is plain Python (no HTTP, no XMPP): :mod:`portal.net` applies it to HTTP, and
the connectors that open other connections (XMPP) apply it themselves.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "AddressPolicy",
    "NotFound",
    "Refused",
    "Resolver",
    "SystemResolver",
    "Unreachable",
    "is_public",
]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class Unreachable(OSError):
    """A name the portal cannot connect to, whatever the reason."""


class Refused(Unreachable):
    """The name is, or resolves to, an address the portal must not reach."""


class NotFound(Unreachable):
    """The name does not resolve to any address."""


def _embedded(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, if it stands for one."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def is_public(address: Address) -> bool:
    """Globally routable, and so is any IPv4 address it carries."""
    inner = _embedded(address)
    if inner is not None:
        if not is_public(inner):
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            return True
        if address in _NAT64:
            return True  # the translator reaches the IPv4 address; the prefix itself is fine
    return address.is_global and not address.is_multicast and not address.is_reserved


def is_loopback(address: Address) -> bool:
    """127.0.0.0/8 or ``::1``, also written as ``::ffff:127.0.0.1``."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def literal(host: str) -> Address | None:
    """The IP address ``host`` is written as (``[::1]`` too), or ``None`` for a name."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


class Resolver(Protocol):
    """Where names are looked up; tests give one that answers as a hostile DNS would."""

    async def addresses(self, host: str, port: int) -> list[str]:
        """The IP addresses of ``host``; :class:`NotFound` when it has none."""

    async def services(self, name: str) -> list[tuple[int, int, str, int]]:
        """The SRV records of ``name`` (``_xmpp-client._tcp.example.org``) as
        ``(priority, weight, target, port)``; empty when it has none."""


class SystemResolver:
    """The operating system's resolver for addresses, dnspython's for SRV records."""

    async def addresses(self, host: str, port: int) -> list[str]:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as error:
            raise NotFound(f"{host} cannot be found") from error
        # A link-local IPv6 address comes with its zone (``fe80::1%eth0``): judge the address.
        return [str(info[4][0]).split("%", 1)[0] for info in infos]

    async def services(self, name: str) -> list[tuple[int, int, str, int]]:
        import dns.asyncresolver
        import dns.exception
        import dns.resolver

        try:
            answer = await dns.asyncresolver.resolve(name, "SRV", lifetime=5.0)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.exception.DNSException as error:
            raise NotFound(f"{name} cannot be looked up") from error
        return [
            (record.priority, record.weight, record.target.to_text(), record.port)
            for record in answer
        ]


@dataclass(frozen=True)
class AddressPolicy:
    """The rule set, with the one switch it has and the resolver it asks."""

    allow_loopback: bool = False
    """Development and tests only: servers on this machine may be reached."""
    resolver: Resolver = field(default_factory=SystemResolver, compare=False)

    def allows(self, address: Address) -> bool:
        return is_public(address) or (self.allow_loopback and is_loopback(address))

    async def addresses(self, host: str, port: int) -> list[str]:
        """The checked addresses of ``host`` to connect to, in the resolver's order.

        :class:`Refused` when any of them may not be reached, :class:`NotFound` when there is
        none.
        """
        written = literal(host)
        if written is not None:
            found = [written]
        else:
            found = []
            for text in await self.resolver.addresses(host, port):
                address = literal(text)
                if address is None:
                    raise Refused(f"{host} resolves to something that is not an address")
                found.append(address)
        if not found:
            raise NotFound(f"{host} cannot be found")
        if not all(self.allows(address) for address in found):
            raise Refused(f"{host} is a private address, which the portal does not reach")
        return list(dict.fromkeys(str(address) for address in found))

    async def services(self, name: str) -> list[tuple[str, int]]:
        """The targets of the SRV records of ``name`` in the order to try them (RFC 2782:
        lowest priority first, heavier first within one); empty when there are none, and
        :class:`NotFound` when the only record says the service is not offered (target ``.``).
        """
        records = sorted(
            await self.resolver.services(name), key=lambda record: (record[0], -record[1])
        )
        targets = [(target.rstrip("."), port) for _, _, target, port in records]
        if records and all(not target for target, _ in targets):
            raise NotFound(f"{name} says the service is not offered")
        return [(target, port) for target, port in targets if target]
