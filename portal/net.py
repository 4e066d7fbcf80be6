"""Outgoing HTTP that people steer: the addresses of their instances, websites and feeds.

A person can name any host, so every connection is checked where it is made: the host name is
resolved once, every address it resolves to must be public, and the connection goes to that
checked address (TLS still verifies the name). A name that resolves to a private, loopback,
link-local or otherwise special address is refused, and so is a DNS answer that changes between
the check and the connection, because there is no second lookup. Redirects are not followed by
default; bodies are read up to a limit (:func:`connectors._http.read_capped`). The address
rules are those of :mod:`connectors._addresses`, which the connectors that speak other
protocols (XMPP) apply too.
"""

from __future__ import annotations

import contextlib
import functools
import ssl
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

import httpcore
import httpx

from connectors._addresses import AddressPolicy, Refused, Unreachable
from portal import __version__

USER_AGENT = f"Portal/{__version__} (self-hosted identity portal)"
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class BlockedAddress(httpx.TransportError):
    """The host resolves to an address this portal must not reach."""


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks, then connects to the checked address."""

    def __init__(self, policy: AddressPolicy) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._policy = policy

    async def _addresses(self, host: str, port: int) -> list[str]:
        try:
            return await self._policy.addresses(host, port)
        except Refused as error:
            raise BlockedAddress(str(error)) from error
        except Unreachable as error:
            raise httpx.ConnectError(str(error)) from error

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        last_error: Exception | None = None
        for address in await self._addresses(host, port):
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last_error = error
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddress("unix sockets are not reachable")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The certificate authorities of every guarded connection, httpx's default (the
    environment's ``SSL_CERT_FILE`` or ``SSL_CERT_DIR``, else certifi's), read once: making a
    context takes tens of milliseconds of CPU, and a client is made for every link or check."""
    return httpx.create_ssl_context()


class GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(
        self, policy: AddressPolicy, *, connections: int = 50, keepalive: int = 10
    ) -> None:
        super().__init__(verify=_tls_context(), retries=0, http2=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=_tls_context(),
            max_connections=connections,
            max_keepalive_connections=keepalive,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(policy),
        )


class NonWebRedirect(httpx.RemoteProtocolError, httpx.InvalidURL):
    """A redirect to an address that is not a web address (``javascript:``, ``mailto:``).

    httpx raises :class:`httpx.InvalidURL` for it, which is no :class:`httpx.HTTPError`;
    this is both, so callers that handle either handle it."""


class GuardedClient(httpx.AsyncClient):
    """The client :func:`guarded_client` makes."""

    async def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        try:
            return await super().send(request, **kwargs)
        except httpx.InvalidURL as error:
            # httpx builds the next request of every redirect, even one it does not follow,
            # and a ``javascript:`` or ``mailto:`` Location raises InvalidURL, which is not an
            # HTTPError: the servers people name must not be able to break their callers.
            raise NonWebRedirect(
                f"The server redirects to an address that is not a web address ({error}).",
                request=request,
            ) from error

    @contextlib.asynccontextmanager
    async def bare_get(
        self, url: httpx.URL | str, headers: Mapping[str, str]
    ) -> AsyncIterator[httpx.Response]:
        """A streamed GET of ``url``, with the client's headers and ``headers``, sent straight
        to the guarded transport: no cookies kept, no authentication, no redirect (the status
        and ``Location`` are the caller's), no event hooks. What a feed reader sends hundreds
        of a second: this way costs about half the CPU of :meth:`stream` (``make bench``).
        Failures are httpx's."""
        request = httpx.Request(
            "GET",
            url,
            headers={**self.headers, **headers},
            extensions={"timeout": self.timeout.as_dict()},
        )
        response = await self._transport.handle_async_request(request)
        response.request = request
        try:
            yield response
        finally:
            await response.aclose()


def guarded_client(
    *,
    policy: AddressPolicy | None = None,
    connections: int = 50,
    keepalive: int = 10,
    **kwargs: Any,
) -> GuardedClient:
    """An HTTP client for addresses that come from people: no private networks, no redirects.

    ``policy`` is the address rule set (:class:`connectors._addresses.AddressPolicy`); without
    it only public addresses are reached. ``connections`` open at once at most, ``keepalive``
    of them kept open for the next request."""
    return GuardedClient(
        transport=GuardedTransport(
            policy or AddressPolicy(), connections=connections, keepalive=keepalive
        ),
        timeout=kwargs.pop("timeout", DEFAULT_TIMEOUT),
        follow_redirects=kwargs.pop("follow_redirects", False),
        headers={"user-agent": USER_AGENT, **kwargs.pop("headers", {})},
        trust_env=False,
        **kwargs,
    )
