"""Fetching one feed: what a polite, careful feed reader sends and accepts.

- **Conditional GET**: the ``ETag`` and ``Last-Modified`` of the last answer go back as
  ``If-None-Match`` and ``If-Modified-Since`` (RFC 9110 §13.1); a ``304 Not Modified`` is an
  answer with nothing new, and costs no parsing.
- **Compression**: gzip, deflate and brotli, decoded by httpx. The size cap applies to the
  decoded body, so a small compressed answer that inflates to gigabytes is cut off too.
- **Redirects** are followed one at a time, at most :data:`MAX_REDIRECTS`, each through the
  address guard (:func:`portal.net.guarded_client` checks every connection it opens, so a
  redirect into a private network is refused like a source that names one), and only to
  ``http:`` and ``https:``. When every redirect on the way was permanent (301, 308), the new
  address is returned, for the source to keep.
- **Limits**: at most ``limit`` bytes are read, and the whole fetch — redirects, headers and
  body — must finish within ``deadline`` seconds, so a body dripped a byte at a time is cut
  off like one that never ends.
- **Errors** are :class:`FetchError`: a sentence for the source's owner (a message id, see
  :mod:`portal.i18n`), whether the source is gone for good (410) or was refused by the address
  rules, and how long the server asked to wait (``Retry-After``).

Fetching shares nothing between sources: the poller keeps the number of requests at once to
one host small (:class:`.poller.Hosts`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from connectors._http import read_capped, retry_after
from portal.errors import N_
from portal.net import BlockedAddress, GuardedClient

MAX_BYTES = 8 * 1024 * 1024
"""The most bytes of a feed read (decoded): far above any real feed's size."""
DEADLINE = 30.0
"""Seconds for a whole fetch, from the first connection to the last byte of the body."""
MAX_REDIRECTS = 5
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+json, application/rdf+xml;q=0.9,"
    " application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, text/html;q=0.5, */*;q=0.1"
)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT = frozenset({301, 308})


@dataclass(frozen=True, slots=True)
class Validators:
    """What the last answer said about its version, to send back on the next fetch."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        sent = {}
        if self.etag:
            sent["if-none-match"] = self.etag
        if self.last_modified:
            sent["if-modified-since"] = self.last_modified
        return sent

    @classmethod
    def of(cls, headers: Mapping[str, str]) -> Validators:
        return cls(
            etag=_header(headers, "etag", 1024),
            last_modified=_header(headers, "last-modified", 64),
        )


@dataclass(frozen=True, slots=True)
class Fetched:
    """A feed's answer."""

    url: str
    """Where the answer came from, after any redirect."""
    moved_to: str | None
    """The source's new address, when it redirected permanently all the way there."""
    not_modified: bool
    body: bytes
    content_type: str
    validators: Validators
    max_age: float | None
    """How long the answer may be kept, by its ``Cache-Control`` (seconds)."""


@dataclass
class FetchError(Exception):
    """Why a feed could not be read, in words for its owner."""

    message: str
    params: Mapping[str, Any] = field(default_factory=dict)
    gone: bool = False
    """The server says the feed is gone for good (410)."""
    refused: bool = False
    """The address rules refused it: trying again will not help."""
    retry_after: float | None = None

    def __str__(self) -> str:
        return self.message % self.params if self.params else self.message


def check_url(url: str) -> str:
    """``url`` when it is an address a feed can be fetched from (``http:`` or ``https:``, with a
    host); :class:`FetchError` otherwise. The address itself is checked where it is connected
    to, after the host name is resolved."""
    _checked(url)
    return url


def _checked(url: str) -> httpx.URL:
    """:func:`check_url`, and the address as httpx reads it, to be sent."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # a port that is not a number raises here
        read = httpx.URL(url)  # and what httpx cannot read (an IPv4 address with a leading zero)
    except (ValueError, httpx.InvalidURL) as error:
        raise FetchError(N_("This is not a web address."), refused=True) from error
    if parts.scheme not in ("http", "https"):
        raise FetchError(N_("Only http and https addresses can be followed."), refused=True)
    if not host:
        raise FetchError(N_("This is not a web address."), refused=True)
    return read


async def fetch(
    http: GuardedClient,
    url: str,
    validators: Validators = Validators(),
    *,
    limit: int = MAX_BYTES,
    deadline: float = DEADLINE,
    max_redirects: int = MAX_REDIRECTS,
    accept: str = ACCEPT,
) -> Fetched:
    """Fetch the feed at ``url`` with ``http`` (:func:`portal.net.guarded_client`), or what
    else ``accept`` asks for (an entry's picture)."""
    current, target = url, _checked(url)
    permanent = True
    headers = {"accept": accept, **validators.headers()}
    try:
        async with asyncio.timeout(deadline):
            for _ in range(max_redirects + 1):
                async with http.bare_get(target, headers) as response:
                    status = response.status_code
                    location = response.headers.get("location")
                    if status in _REDIRECTS and location:
                        permanent = permanent and status in _PERMANENT
                        current = urljoin(current, location.strip())
                        target = _checked(current)
                        continue
                    if status == 304:
                        # Read to its end (h11 frames a 304 with no body, whatever its headers
                        # say), so that the connection is kept for the next fetch.
                        await response.aread()
                        return _answer(response, url, current, permanent, b"", validators)
                    _raise_for(response)
                    body = await read_capped(response, limit)
                    if body is None:
                        raise FetchError(
                            N_("The feed is larger than %(megabytes)s MB, the most we read."),
                            {"megabytes": limit // (1024 * 1024)},
                        )
                    return _answer(
                        response, url, current, permanent, body, Validators.of(response.headers)
                    )
            raise FetchError(
                N_("The address redirects more than %(count)s times."), {"count": max_redirects}
            )
    except TimeoutError as error:
        raise FetchError(
            N_("The server took more than %(seconds)s seconds to send the feed."),
            {"seconds": int(deadline)},
        ) from error
    except BlockedAddress as error:
        raise FetchError(
            N_("This address is in a private network, which Portal does not reach."),
            refused=True,
        ) from error
    except httpx.TimeoutException as error:
        raise FetchError(N_("The server did not answer in time.")) from error
    except httpx.HTTPError as error:
        raise FetchError(N_("The server could not be reached.")) from error


def _answer(
    response: httpx.Response,
    asked: str,
    current: str,
    permanent: bool,
    body: bytes,
    validators: Validators,
) -> Fetched:
    return Fetched(
        url=current,
        moved_to=current if permanent and current != asked else None,
        not_modified=response.status_code == 304,
        body=body,
        content_type=_header(response.headers, "content-type", 200) or "",
        validators=validators,
        max_age=_max_age(response.headers.get("cache-control", "")),
    )


def _raise_for(response: httpx.Response) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    waited = retry_after(response.headers) if status in (429, 503) else None
    if status == 410:
        raise FetchError(N_("The feed is gone: the server says it will not come back."), gone=True)
    if status == 429:
        raise FetchError(N_("The server asks us to fetch less often."), retry_after=waited)
    if status in (401, 403):
        raise FetchError(
            N_("The server does not let us read the feed (HTTP %(status)s)."), {"status": status}
        )
    if status == 404:
        raise FetchError(N_("There is no feed at this address any more (HTTP 404)."))
    if status >= 500:
        raise FetchError(
            N_("The server is not working right now (HTTP %(status)s)."),
            {"status": status},
            retry_after=waited,
        )
    raise FetchError(N_("The server refused the request (HTTP %(status)s)."), {"status": status})


def _header(headers: Mapping[str, str], name: str, longest: int) -> str | None:
    value = headers.get(name)
    if not value or len(value) > longest or not value.isprintable():
        return None
    return value.strip() or None


def _max_age(control: str) -> float | None:
    """The ``max-age`` of a ``Cache-Control`` header (``s-maxage`` is for shared caches);
    ``no-cache`` and ``no-store`` say nothing about how often to come back."""
    for part in control.lower().split(","):
        name, _, value = part.strip().partition("=")
        if name == "max-age":
            value = value.strip().strip('"')
            if value.isascii() and value.isdigit():
                return float(value)
    return None
