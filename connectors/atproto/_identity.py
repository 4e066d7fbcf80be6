"""Who an account is: DID documents, handle resolution both ways, and the account's PDS.

https://atproto.com/specs/handle#handle-resolution and https://atproto.com/specs/did
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from connectors import _http
from connectors.atproto._oauth import MAX_ANSWER
from connectors.atproto._syntax import (
    DID_MAX_LENGTH,
    did_problem,
    handle_problem,
    is_loopback_host,
    is_valid_did,
    is_valid_handle,
    web_host,
)
from connectors.atproto._xrpc import XrpcError, json_object, xrpc
from connectors.base import InvalidHandle, PermanentError, Retriable

# -- DID documents ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DidDocument:
    """What atproto reads from a DID document: the claimed handle and the PDS."""

    did: str
    handle: str | None
    """The first valid ``at://`` handle of ``alsoKnownAs``, lowercased; not yet confirmed."""
    pds: str | None
    """The PDS address (scheme, host and port only), or ``None`` when it names none."""


def parse_did_document(document: Any, did: str) -> DidDocument:
    """Read a DID document for ``did``; :class:`PermanentError` when it is not one."""
    if not isinstance(document, Mapping) or document.get("id") != did:
        raise PermanentError(f"The identity document of {did} is not about {did}.")
    handle = None
    for alias in _list(document.get("alsoKnownAs")):
        if isinstance(alias, str) and alias.startswith("at://"):
            candidate = alias.removeprefix("at://").lower()
            if is_valid_handle(candidate):
                handle = candidate
                break
    pds = None
    for service in _list(document.get("service")):
        if (
            isinstance(service, Mapping)
            and isinstance(service.get("id"), str)
            and service["id"].endswith("#atproto_pds")
            and service.get("type") == "AtprotoPersonalDataServer"
        ):
            pds = service_origin(service.get("serviceEndpoint"))
            break
    return DidDocument(did=did, handle=handle, pds=pds)


def service_origin(endpoint: Any) -> str | None:
    """A server address as the spec allows it: http(s), a host, a port, nothing else.

    Plain ``http`` is accepted only for loopback hosts (development); everything else on the
    network must be ``https``.
    """
    if not isinstance(endpoint, str) or len(endpoint) > 512:
        return None
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if (
        parts.scheme not in ("http", "https")
        or not host
        or parts.username is not None
        or parts.password is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        return None
    if parts.scheme == "http" and not is_loopback_host(host):
        return None
    shown = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown}" + (f":{port}" if port is not None else "")


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# -- resolution ------------------------------------------------------------------------------

TxtLookup = Callable[[str], Awaitable[list[str]]]
"""Returns the TXT strings of a DNS name (empty when it has none)."""


async def dns_txt(name: str) -> list[str]:
    """The TXT records of ``name`` through the system's resolvers (dnspython)."""
    import dns.asyncresolver
    import dns.exception
    import dns.resolver

    try:
        answer = await dns.asyncresolver.resolve(name, "TXT", lifetime=5.0)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers):
        return []
    except dns.exception.DNSException as error:
        raise Retriable(f"DNS did not answer for {name}.") from error
    return [b"".join(record.strings).decode("utf-8", "replace") for record in answer]


@dataclass(frozen=True, slots=True)
class Identity:
    """An account as the network knows it: DID, confirmed handle, and PDS."""

    did: str
    handle: str | None
    """The handle, only when it was confirmed both ways; ``None`` shows it as invalid."""
    pds: str


@dataclass(frozen=True)
class Resolver:
    """Resolves handles and DIDs; every address it uses can be configured.

    ``plc_url`` is the PLC directory for ``did:plc``. A handle is looked up by DNS TXT and
    HTTPS well-known (each can be turned off), then by ``service_url``'s
    ``com.atproto.identity.resolveHandle`` when one is set (a PDS or AppView that resolves on
    our behalf: the way development networks with ``.test`` handles are reached).
    """

    plc_url: str = "https://plc.directory"
    service_url: str | None = None
    dns: bool = True
    well_known: bool = True
    txt_lookup: TxtLookup = dns_txt

    async def resolve(self, identifier: str, http: httpx.AsyncClient) -> Identity:
        """The identity of a normalised handle or DID, checked both ways.

        A handle whose DID document names another handle is refused (:class:`InvalidHandle`);
        a DID whose document's handle does not point back keeps no handle.
        """
        if identifier.startswith("did:"):
            document = await self.resolve_did(identifier, http)
            handle = document.handle
            if handle is not None and not await self._points_to(handle, document.did, http):
                handle = None
        else:
            did = await self.resolve_handle(identifier, http)
            document = await self.resolve_did(did, http)
            if document.handle != identifier:
                named = f"@{document.handle}" if document.handle else "no handle"
                raise InvalidHandle(
                    f"@{identifier} points to the account {did}, but that account names "
                    f"{named} as its handle, so @{identifier} is not confirmed."
                )
            handle = identifier
        if document.pds is None:
            raise PermanentError(
                f"The identity of {document.did} names no server (PDS) that hosts the account."
            )
        return Identity(did=document.did, handle=handle, pds=document.pds)

    async def confirmed_handle(self, did: str, http: httpx.AsyncClient) -> str | None:
        """The handle of ``did`` when it is confirmed both ways, else ``None``."""
        document = await self.resolve_did(did, http)
        if document.handle and await self._points_to(document.handle, did, http):
            return document.handle
        return None

    async def _points_to(self, handle: str, did: str, http: httpx.AsyncClient) -> bool:
        if handle_problem(handle) is not None:
            return False
        try:
            return await self.resolve_handle(handle, http) == did
        except (InvalidHandle, PermanentError):
            return False

    async def resolve_handle(self, handle: str, http: httpx.AsyncClient) -> str:
        """The DID a handle points to; :class:`InvalidHandle` when nothing answers for it."""
        problem = handle_problem(handle)
        if problem is not None:
            raise InvalidHandle(problem)
        unavailable = False
        if self.dns:
            try:
                found = await self._from_dns(handle)
            except Retriable:
                unavailable, found = True, None
            if found:
                return found
        if self.well_known:
            found = await self._from_well_known(handle, http)
            if found:
                return found
        if self.service_url:
            try:
                found = await self._from_service(handle, http)
            except Retriable:
                unavailable, found = True, None
            if found:
                return found
        if unavailable:
            raise Retriable(f"The handle @{handle} could not be checked right now.")
        raise InvalidHandle(f"No account uses the handle @{handle}.")

    async def _from_dns(self, handle: str) -> str | None:
        values = await self.txt_lookup(f"_atproto.{handle}")
        dids = {value.strip().removeprefix("did=") for value in values if value.startswith("did=")}
        valid = {did for did in dids if is_valid_did(did)}
        if len(valid) > 1:
            raise InvalidHandle(f"The DNS records of @{handle} name more than one account.")
        return valid.pop() if valid else None

    async def _from_well_known(self, handle: str, http: httpx.AsyncClient) -> str | None:
        try:
            response = await _http.request_capped(
                http,
                "GET",
                f"https://{handle}/.well-known/atproto-did",
                DID_MAX_LENGTH + 64,
                headers={"Accept": "text/plain"},
                follow_redirects=True,
            )
        except httpx.HTTPError:
            return None  # most handles' hosts serve no web site: not an error
        if response is None or not response.is_success:
            return None
        text = response.text.strip()
        return text if is_valid_did(text) else None

    async def _from_service(self, handle: str, http: httpx.AsyncClient) -> str | None:
        assert self.service_url is not None
        try:
            data = await xrpc(
                http,
                self.service_url.rstrip("/"),
                "com.atproto.identity.resolveHandle",
                params={"handle": handle},
                label="The handle resolver",
            )
        except XrpcError:
            return None  # HandleNotFound, or a handle the service refuses to look up
        did = data.get("did")
        return did if isinstance(did, str) and is_valid_did(did) else None

    async def resolve_did(self, did: str, http: httpx.AsyncClient) -> DidDocument:
        """Fetch and read the DID document of a ``did:plc`` or ``did:web``."""
        problem = did_problem(did)
        if problem is not None:
            raise InvalidHandle(problem)
        if did.startswith("did:plc:"):
            url = f"{self.plc_url.rstrip('/')}/{quote(did, safe=':')}"
            where = "The PLC directory"
        else:
            host = web_host(did)
            scheme = "http" if is_loopback_host(host.partition(":")[0]) else "https"
            url = f"{scheme}://{host}/.well-known/did.json"
            where = f"The web site {host}"
        failures = _http.Failures.about(
            where,
            too_large=f"{where} sent a DID document too large to read for {did}.",
            failing=f"{where} answered HTTP {{status}} for {did}.",
        )
        response = await _http.send(
            http,
            "GET",
            url,
            failures,
            limit=MAX_ANSWER,
            headers={"Accept": "application/did+json, application/json"},
        )
        if response.status_code in (404, 410):
            gone = "was deleted" if response.status_code == 410 else "does not exist"
            raise InvalidHandle(f"The account {did} {gone}.")
        if response.status_code == 429:
            _http.check(response, failures)
        if not response.is_success:
            raise Retriable(failures.failing.replace("{status}", str(response.status_code)))
        document = json_object(response)
        if document is None:
            raise PermanentError(f"{where} did not answer with a DID document for {did}.")
        return parse_did_document(document, did)
