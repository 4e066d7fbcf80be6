"""What every link-only network shares: a handle checked against the network's own rules, and
the links built from it.

A link-only network has nothing to connect to: the portal keeps the handle and shows links.
So all that matters is that the handle is one the network could really have, written the one
way the network writes it, and that a pasted profile address gives the same handle as typing
it. A subclass says all of that with constants:

- ``HANDLE_PATTERN`` and ``RULES``: the handle's syntax (matched after case folding, when the
  network ignores case) and the sentence a person reads when a handle breaks it;
- ``HOSTS`` (and ``HOST_PATTERN``) with ``PROFILE_PATHS``: which web addresses are profile
  pages, and where the handle sits in their path. ``www.``, ``m.``, a trailing slash, a query
  string (``?hl=en``, ``?igsh=…``) and a fragment are all allowed; an address of any other
  site is refused, never turned into a handle (:meth:`ProfileLink.handle_from_address`);
- ``PROFILE_URL`` and ``DEEP_LINK``: link templates. Most networks' app links are their web
  addresses (universal links open the app where it is installed, the page elsewhere), so the
  deep link is the profile page unless the network has no page or a documented app scheme.
- ``FEED_URL``: the account's public feed, where the network publishes one at an address made
  from the handle alone (:meth:`~connectors.base.Connector.public_feed`).

Phone-number networks (WhatsApp, Viber, Signal) parse numbers with ``phonenumbers``, Google's
libphonenumber metadata (https://github.com/google/libphonenumber), and keep them in E.164.
Personal websites are normalised the way browsers read addresses (WHATWG URL,
https://url.spec.whatwg.org/), and refused when they point at a private network.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Mapping
from functools import cache
from typing import Any, ClassVar
from urllib.parse import SplitResult, parse_qs, quote, unquote, urlsplit

import idna
import phonenumbers

from connectors.base import PUBLIC, Connector, Context, InvalidHandle, clean, site_of, url_quote

__all__ = [
    "PhoneLink",
    "ProfileLink",
    "display_phone",
    "normalize_phone",
    "normalize_web_url",
    "split_address",
    "words",
]

_MAX_INPUT = 500
"""Longest text read as a handle or profile address (tracking query strings included)."""

_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.\-]*:(?![0-9])")
"""``javascript:``, ``mailto:``, ``https:``…; not ``example.org:8080`` (a host and port)."""


def words(text: str) -> frozenset[str]:
    """The words of ``text``: a network's reserved paths, written as one string."""
    return frozenset(text.split())


def split_address(text: str) -> SplitResult | None:
    """``text`` read as a web address, or ``None`` when it does not look like one.

    It looks like one when it has ``://``, or a dotted host before a slash (``x.com/ada``),
    the same test as :func:`connectors.base.path_from_url`. Addresses that hide where they
    lead (a user name before the host, a backslash) are refused outright.
    """
    candidate = text
    if "://" not in candidate:
        first = candidate.split("/", 1)[0]
        if "/" not in candidate or "." not in first:
            return None
        candidate = "https://" + candidate
    if "\\" in candidate:
        raise InvalidHandle("This address has a backslash, so it is not clear where it leads.")
    try:
        parts = urlsplit(candidate)
        _ = parts.port  # a port that is not a number raises ValueError
    except ValueError as error:
        raise InvalidHandle("This address cannot be read.") from error
    if parts.scheme not in ("http", "https"):
        raise InvalidHandle("Give a web address that starts with https://.")
    if "@" in parts.netloc:
        raise InvalidHandle("This address hides where it leads (it has an @ before the site).")
    return parts


class ProfileLink(Connector):
    """A network known only by a handle and the links built from it."""

    LINK_ONLY = True

    HANDLE_PATTERN: ClassVar[str] = ""
    """The whole handle, as a regular expression (after case folding when ``CASE_INSENSITIVE``)."""
    RULES: ClassVar[str] = ""
    """What a handle of this network is, said to a person whose handle is not one."""
    CASE_INSENSITIVE: ClassVar[bool] = True
    """The network ignores case: the handle is kept in lowercase."""
    AT_SIGN: ClassVar[bool] = False
    """The network writes handles as ``@name``: a leading ``@`` is accepted and shown."""
    PREFIXES: ClassVar[tuple[str, ...]] = ()
    """Other ways people write a handle before the name (``u/`` on Reddit), removed."""
    DISPLAY_PREFIX: ClassVar[str | None] = None
    """How the handle is written for people; ``@`` when ``AT_SIGN``, nothing otherwise."""
    RESERVED: ClassVar[frozenset[str]] = frozenset()
    """Paths of the site that look like handles but are pages of the network itself."""

    HOSTS: ClassVar[tuple[str, ...]] = ()
    """Sites whose profile addresses are read (``www.``, ``m.`` and ``mobile.`` allowed)."""
    HOST_PATTERN: ClassVar[str] = ""
    """More sites, as a regular expression (country sites such as ``uk.linkedin.com``)."""
    PROFILE_PATHS: ClassVar[tuple[str, ...]] = (r"(?P<handle>[^/]+)",)
    """Paths of profile pages (no leading or trailing slash), the handle in group ``handle``."""
    SUBDOMAIN_OF: ClassVar[str] = ""
    """A site whose subdomains are profiles (``ada.tumblr.com``)."""

    PROFILE_URL: ClassVar[str | None] = None
    """The profile page, ``{handle}`` replaced by the URL-quoted handle."""
    DEEP_LINK: ClassVar[str | None] = None
    """A documented app link, ``{handle}`` replaced likewise; the profile page when ``None``."""
    FEED_URL: ClassVar[str | None] = None
    """The account's public feed, ``{handle}`` replaced likewise; none when ``None``."""

    # -- handles --

    @classmethod
    def normalize_handle(cls, raw: str, *, context: Context = PUBLIC) -> str:
        text = clean(raw, max_length=_MAX_INPUT)
        found = cls.handle_from_address(text)
        if found is None:
            found = cls.strip_prefix(text)
        return cls.check_handle(found)

    @classmethod
    def strip_prefix(cls, text: str) -> str:
        """A typed handle without the ``@`` (or ``u/``…) people put before it."""
        prefixes = (*cls.PREFIXES, "@") if cls.AT_SIGN else cls.PREFIXES
        for prefix in prefixes:
            if text.lower().startswith(prefix):
                return text[len(prefix) :]
        return text

    @classmethod
    def check_handle(cls, candidate: str) -> str:
        """The canonical handle, or :class:`InvalidHandle` with :attr:`RULES`."""
        handle = candidate.lower() if cls.CASE_INSENSITIVE else candidate
        if not _compiled(cls.HANDLE_PATTERN).fullmatch(handle):
            raise InvalidHandle(cls.RULES)
        if handle.lower() in cls.RESERVED:
            raise InvalidHandle(f"“{handle}” is a page of {cls.LABEL}, not a profile.")
        return handle

    @classmethod
    def handle_from_address(cls, text: str) -> str | None:
        """The handle in a pasted profile address, or ``None`` when ``text`` is no address."""
        parts = split_address(text)
        if parts is None:
            bare = text.lower().rstrip("/").removeprefix("www.").removeprefix("m.")
            if bare in cls.HOSTS or (cls.SUBDOMAIN_OF and bare == cls.SUBDOMAIN_OF):
                raise InvalidHandle(
                    f"This is {cls.LABEL}’s own address: give your "
                    f"{cls.HANDLE_LABEL.lower()}, or the address of your profile page."
                )
            return None
        if not cls.HOSTS and not cls.SUBDOMAIN_OF:
            raise InvalidHandle(
                f"{cls.LABEL} has no public profile pages: give the "
                f"{cls.HANDLE_LABEL.lower()} itself, like {cls.HANDLE_EXAMPLE}."
            )
        hosts = cls.HOSTS or (cls.SUBDOMAIN_OF,)
        site = site_of(parts.hostname or "", hosts)
        if cls.SUBDOMAIN_OF and site.endswith("." + cls.SUBDOMAIN_OF):
            label = site.removesuffix("." + cls.SUBDOMAIN_OF)
            if "." not in label:
                return label
        if cls.HOST_PATTERN and _compiled(cls.HOST_PATTERN).fullmatch(site):
            hosts = (*hosts, site)
        if site not in hosts:
            raise InvalidHandle(
                f"This address is not on {cls.LABEL}: give your {cls.HANDLE_LABEL.lower()}, "
                f"or the address of your profile page on {hosts[0]}."
            )
        found = cls.handle_from_path(unquote(parts.path.strip("/")), parse_qs(parts.query))
        if found is None:
            raise InvalidHandle(
                f"This {cls.LABEL} address is not a profile page. Give the address of a "
                f"profile, like {cls._example_url()}."
            )
        return found

    @classmethod
    def _example_url(cls) -> str:
        try:
            return cls.profile_url(cls.normalize_handle(cls.HANDLE_EXAMPLE)) or cls.HANDLE_EXAMPLE
        except InvalidHandle:
            return cls.HANDLE_EXAMPLE

    @classmethod
    def handle_from_path(cls, path: str, query: dict[str, list[str]]) -> str | None:
        """The handle in the path (and query) of an address on one of :attr:`HOSTS`."""
        for pattern in cls.PROFILE_PATHS:
            match = _compiled(pattern).fullmatch(path)
            if match:
                return match["handle"]
        return None

    # -- links --

    @classmethod
    def profile_url(cls, handle: str) -> str | None:
        if cls.PROFILE_URL is None:
            return None
        return cls.PROFILE_URL.format(handle=url_quote(handle))

    @classmethod
    def public_feed(
        cls, handle: str, server: str = "", *, known: Mapping[str, Any] | None = None
    ) -> str | None:
        if cls.FEED_URL is None:
            return None
        return cls.FEED_URL.format(handle=url_quote(handle))

    @classmethod
    def deep_link(cls, handle: str) -> str | None:
        if cls.DEEP_LINK is None:
            return cls.profile_url(handle)
        return cls.DEEP_LINK.format(handle=url_quote(handle))

    @classmethod
    def display_handle(cls, handle: str) -> str:
        prefix = cls.DISPLAY_PREFIX
        if prefix is None:
            prefix = "@" if cls.AT_SIGN else ""
        return prefix + handle


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


# -- phone numbers ---------------------------------------------------------------------------

_PHONE = re.compile(r"\+{0,2}[\d\s().\-/]+")
"""Digits of any script, and the marks people write numbers with; no letters (no extensions)."""


def normalize_phone(text: str) -> str:
    """A phone number in E.164 (``+14155550100``), or :class:`InvalidHandle` saying why not.

    The number must be international: ``+`` (or ``00``, or nothing, as in ``wa.me`` links)
    and the country code. Only numbers that exist in the numbering plan of their country are
    accepted (``phonenumbers.is_valid_number``).
    """
    number = text.strip()
    if number.lower().startswith("tel:"):
        number = number[4:]
    if not _PHONE.fullmatch(number):
        raise InvalidHandle(
            "A phone number has only digits, spaces, dashes, dots and brackets, and starts "
            "with + and the country code, like +44 7400 123456."
        )
    number = number.lstrip(" (")
    if number.startswith("00"):
        number = "+" + number[2:]
    elif not number.startswith("+"):
        number = "+" + number
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException as error:
        raise InvalidHandle(
            "Give the phone number in international format: + and the country code, "
            "like +44 7400 123456."
        ) from error
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidHandle(
            "This is not a phone number in use: check the country code and the digits."
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


class PhoneLink(ProfileLink):
    """A network where people are known by their phone number."""

    HANDLE_LABEL = "Phone number"
    HANDLE_EXAMPLE = "+44 7400 123456"
    PROFILE_PATHS: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def check_handle(cls, candidate: str) -> str:
        return normalize_phone(candidate)

    @classmethod
    def display_handle(cls, handle: str) -> str:
        return display_phone(handle)


def display_phone(handle: str) -> str:
    """An E.164 number as it is written internationally (``+44 7400 123456``)."""
    try:
        parsed = phonenumbers.parse(handle, None)
    except phonenumbers.NumberParseException:
        return handle
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


# -- personal websites -----------------------------------------------------------------------

_NOT_PUBLIC_SUFFIXES = (
    "localhost",
    "local",
    "internal",
    "home.arpa",
    "localdomain",
    "lan",
    "test",
    "example",
    "invalid",
    "onion",
)
"""Names that never reach a public site: special-use names (RFC 6761, RFC 8375, RFC 7686) and
the suffixes home routers and companies use inside their own networks."""

_NUMERIC_LABEL = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)")
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"


def _public_ip(host: str) -> str:
    """An IP literal as written in a URL, or :class:`InvalidHandle` unless it is public."""
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(host)
    except ValueError:
        try:
            # Browsers read 127.1, 0x7f.0.0.1 and 2130706433 as IPv4 too (WHATWG URL §3.5).
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError as error:
            raise InvalidHandle("This web address has a host that cannot be read.") from error
    if not address.is_global or address.is_multicast:
        raise InvalidHandle(
            "This web address is on a private network or this computer: give a public one."
        )
    return f"[{address.compressed}]" if address.version == 6 else address.compressed


def _public_host(host: str) -> str:
    """A DNS name, lowercased and IDNA-encoded, or :class:`InvalidHandle` unless public."""
    name = host.rstrip(".")
    try:
        ascii_name = idna.encode(name, uts46=True, std3_rules=True).decode("ascii")
    except idna.IDNAError as error:
        raise InvalidHandle("This web address has a site name that cannot be right.") from error
    labels = ascii_name.split(".")
    if len(labels) < 2:
        raise InvalidHandle("Give the whole address of the site, like https://example.org/.")
    if len(ascii_name) > 253:
        raise InvalidHandle("This web address has a site name longer than 253 characters.")
    if any(ascii_name == s or ascii_name.endswith("." + s) for s in _NOT_PUBLIC_SUFFIXES):
        raise InvalidHandle(
            "This web address is on a private network or this computer: give a public one."
        )
    return ascii_name


def normalize_web_url(raw: str, *, allow_loopback: bool = False) -> str:
    """A public http(s) address in one canonical spelling, or :class:`InvalidHandle`.

    Lowercase IDNA-encoded host, no user name or password, no fragment, no default port, an
    empty path written ``/``; ``https://`` is assumed when no scheme is given. ``localhost``
    and ``127.0.0.1`` are accepted only with ``allow_loopback`` (a development portal).
    """
    text = clean(raw, max_length=2048)
    if any(char.isspace() for char in text) or "\\" in text:
        raise InvalidHandle("A web address has no spaces or backslashes.")
    if "://" not in text:
        if _SCHEME.match(text):
            raise InvalidHandle("Give a web address that starts with https:// or http://.")
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise InvalidHandle("This web address cannot be read.") from error
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidHandle("Give a web address that starts with https:// or http://.")
    if "@" in parts.netloc:
        raise InvalidHandle("A web address with a user name or password in it is not accepted.")
    host = parts.hostname or ""
    if not host:
        raise InvalidHandle("This web address has no site name.")
    labels = host.rstrip(".").split(".")
    if allow_loopback and host.lower() in ("localhost", "127.0.0.1"):
        host = host.lower()
    elif ":" in host or _NUMERIC_LABEL.fullmatch(labels[-1]):
        host = _public_ip(host.rstrip("."))
    else:
        host = _public_host(host)
    default = {"http": 80, "https": 443}[scheme]
    netloc = host if port in (None, default) else f"{host}:{port}"
    path = quote(parts.path, safe=_PATH_SAFE) or "/"
    query = quote(parts.query, safe=_QUERY_SAFE)
    return f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")
