"""AT Protocol identity and XRPC: handles, DIDs, DID documents, and calls to a PDS."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx

from connectors import _http
from connectors.atproto._oauth import MAX_ANSWER, DPoP
from connectors.base import InvalidHandle, PermanentError, Retriable

# -- syntax ----------------------------------------------------------------------------------

HANDLE_MAX_LENGTH = 253
DID_MAX_LENGTH = 2048
_HANDLE = re.compile(
    r"([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
)
_DID = re.compile(r"did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]")
_DID_PLC = re.compile(r"did:plc:[a-z2-7]{24}")
DISALLOWED_TLDS = frozenset(
    {"alt", "arpa", "example", "internal", "invalid", "local", "localhost", "onion"}
)
"""Valid handle syntax that must never resolve (https://atproto.com/specs/handle)."""
INVALID_HANDLE = "handle.invalid"
"""What services show for an account whose handle is not confirmed."""


def is_valid_handle(text: str) -> bool:
    """Handle syntax exactly as the spec defines it (no case folding, no trimming)."""
    return len(text) <= HANDLE_MAX_LENGTH and _HANDLE.fullmatch(text) is not None


def is_valid_did(text: str) -> bool:
    """Generic DID syntax as atproto accepts it, whatever the method."""
    return len(text) <= DID_MAX_LENGTH and _DID.fullmatch(text) is not None


def handle_problem(handle: str) -> str | None:
    """Why a (lowercased) handle cannot be an account's, or ``None`` when it can."""
    if not handle.isascii():
        return (
            "A handle is written in plain ASCII letters, digits, hyphens and dots; "
            "write an internationalised domain in its xn-- form."
        )
    if len(handle) > HANDLE_MAX_LENGTH:
        return f"A handle has at most {HANDLE_MAX_LENGTH} characters."
    if "." not in handle:
        return "A handle is a domain name with a dot, like ada.bsky.social."
    if not is_valid_handle(handle):
        labels = handle.split(".")
        if any(not label for label in labels):
            return "A handle cannot have empty parts, or start or end with a dot."
        if any(len(label) > 63 for label in labels):
            return "Each part of a handle between dots has at most 63 characters."
        if any(label.startswith("-") or label.endswith("-") for label in labels):
            return "A part of a handle cannot start or end with a hyphen."
        if labels[-1][:1].isdigit():
            return "The last part of a handle cannot start with a digit."
        return "A handle has only letters, digits, hyphens and dots."
    tld = handle.rsplit(".", 1)[1]
    if handle == INVALID_HANDLE or tld in DISALLOWED_TLDS:
        return f"Handles under .{tld} cannot be used on the network."
    return None


def did_problem(did: str) -> str | None:
    """Why a DID cannot be an atproto account's (``did:plc`` and ``did:web`` only)."""
    if not is_valid_did(did):
        return "This is not a valid DID (did:plc:… or did:web:…)."
    method = did.split(":", 2)[1]
    if method == "plc":
        if _DID_PLC.fullmatch(did) is None:
            return "A did:plc identifier has 24 characters (letters a-z and digits 2-7)."
        return None
    if method == "web":
        try:
            web_host(did)
        except InvalidHandle as error:
            return error.message
        return None
    return f"did:{method} is not a DID method that atproto accounts use (did:plc or did:web)."


def web_host(did: str) -> str:
    """The ``host[:port]`` of a ``did:web`` (only ``localhost`` may have a port)."""
    identifier = did.removeprefix("did:web:")
    if ":" in identifier:
        raise InvalidHandle("atproto accepts only host-level did:web identifiers, without a path.")
    host = unquote(identifier).lower()
    name, _, port = host.partition(":")
    if port and (name != "localhost" or not port.isdigit()):
        raise InvalidHandle("A did:web can carry a port only for localhost, in development.")
    if name != "localhost" and not is_valid_handle(name):
        raise InvalidHandle("A did:web names a host name, like did:web:example.com.")
    if name != "localhost" and name.rsplit(".", 1)[1] in DISALLOWED_TLDS - {"localhost"}:
        raise InvalidHandle(f"A did:web under .{name.rsplit('.', 1)[1]} cannot be resolved.")
    return host


def is_loopback_host(host: str) -> bool:
    return host in ("localhost", "127.0.0.1", "::1") or host.endswith(".localhost")


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


# -- XRPC ------------------------------------------------------------------------------------


class XrpcError(PermanentError):
    """A 4xx answer of an XRPC endpoint: its status, error name and message."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message or error or f"HTTP {status}")
        self.status = status
        self.error = error


async def xrpc(
    http: httpx.AsyncClient,
    service: str,
    nsid: str,
    *,
    params: Mapping[str, str] | None = None,
    body: Mapping[str, Any] | None = None,
    token: str | None = None,
    dpop: DPoP | None = None,
    post: bool = False,
    label: str = "The server",
) -> dict[str, Any]:
    """Call ``nsid`` on ``service`` and return its JSON object.

    ``token`` is a session JWT (Bearer), or with ``dpop`` an OAuth access token bound to that
    key. 429 becomes :class:`RateLimited`, 5xx and transport failures :class:`Retriable`, any
    other failure :class:`XrpcError` for the caller to interpret.
    """
    url = f"{service}/xrpc/{nsid}"
    headers = {"Accept": "application/json"}
    if token and dpop is None:
        headers["Authorization"] = f"Bearer {token}"
    method = "POST" if post or body is not None else "GET"
    failures = _http.Failures.about(
        label, failing=f"{label} answered with an error (HTTP {{status}})."
    )
    if dpop is not None:
        response = await dpop.request(
            http, method, url, access_token=token, json=body, params=params, failures=failures
        )
    else:
        response = await _http.send(
            http,
            method,
            url,
            failures,
            limit=MAX_ANSWER,
            json=body,
            params=params,
            headers=headers,
        )
    if response.status_code == 429 or response.status_code >= 500:
        _http.check(response, failures)
    data = _json_object(response)
    if response.is_success and not response.content:
        return {}  # procedures without output answer with an empty body
    if not response.is_success:
        name = data.get("error") if data else None
        message = data.get("message") if data else None
        raise XrpcError(
            response.status_code,
            name if isinstance(name, str) else "",
            message[:300] if isinstance(message, str) else "",
        )
    if data is None:
        raise Retriable(f"{label} answered with something other than JSON.")
    return data


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = _http.parse_json(response.content)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


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
        document = _json_object(response)
        if document is None:
            raise PermanentError(f"{where} did not answer with a DID document for {did}.")
        return parse_did_document(document, did)
