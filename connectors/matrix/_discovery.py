"""Finding the homeserver of a server name as clients do
(https://spec.matrix.org/latest/client-server-api/#server-discovery)."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from connectors._http import MAX_ANSWER, Failures, parse_json, send
from connectors.base import PermanentError, RateLimited, Retriable
from connectors.matrix._homeserver import TIMEOUT, Homeserver, Unreadable, retry_after_of
from connectors.matrix._ids import host_of, is_loopback

_MAX_REDIRECTS = 3


async def discover_homeserver(
    server_name: str, http: httpx.AsyncClient, *, allow_loopback: bool = False
) -> str:
    """The client API base URL of the homeserver of ``server_name`` (no trailing slash).

    A loopback server name is reached over plain HTTP only with ``allow_loopback``; without
    it, it is asked over https like any other, and the address rules refuse it."""
    host = host_of(server_name)
    loopback = allow_loopback and is_loopback(host)
    origin = f"http://{server_name}" if loopback else f"https://{host}"
    default = f"http://{server_name}" if loopback else f"https://{server_name}"
    problem = ""
    response = await _well_known(http, f"{origin}/.well-known/matrix/client", host, loopback)
    if response.status_code == 404:
        candidate = default
    elif response.status_code == 429:
        raise RateLimited(
            f"{host} asks Portal to slow down.", retry_after=retry_after_of(response, None)
        )
    elif response.status_code >= 500:
        raise Retriable(f"{host} could not say where its Matrix server is; try again later.")
    else:
        base_url = _base_url_in(response)
        if base_url is None:
            candidate = default
            problem = f" ({host}/.well-known/matrix/client cannot be read)"
        else:
            try:
                checked = checked_base_url(base_url, loopback=loopback)
                await _require_versions(http, checked)
            except PermanentError as error:
                raise PermanentError(
                    f"{host} names a Matrix server that does not work: {error.message}"
                ) from None
            return checked
    try:
        await _require_versions(http, candidate)
    except PermanentError:
        raise PermanentError(f"No Matrix server was found for {server_name}{problem}.") from None
    return candidate


async def _well_known(
    http: httpx.AsyncClient, url: str, host: str, loopback: bool
) -> httpx.Response:
    """Fetch the discovery file, following redirects only within the server's own host."""
    elsewhere = (
        f"{host} sends its Matrix discovery file to another site, which Portal does not follow."
    )
    failures = Failures(
        unreachable=f"Portal could not reach {host} to find its Matrix server.",
        timeout=f"{host} did not answer in time.",
        too_large=f"{host} sent a Matrix discovery file larger than Portal reads.",
        address=elsewhere,  # a redirect to ``javascript:…`` and the like
    )
    for _ in range(_MAX_REDIRECTS + 1):
        response = await send(http, "GET", url, failures, limit=MAX_ANSWER, timeout=TIMEOUT)
        if not response.is_redirect:
            return response
        try:
            target = response.request.url.join(response.headers.get("location", ""))
        except httpx.InvalidURL:
            raise PermanentError(elsewhere) from None
        if not _same_site(target, host, loopback):
            raise PermanentError(elsewhere)
        url = str(target)
    raise PermanentError(f"{host} redirects its Matrix discovery file too many times.")


def _same_site(url: httpx.URL, host: str, loopback: bool) -> bool:
    target, host = url.host.lower(), host.strip("[]")
    if url.scheme == "http":
        return loopback and is_loopback(host) and target == host
    return url.scheme == "https" and (target == host or target.endswith("." + host))


def _base_url_in(response: httpx.Response) -> str | None:
    if response.status_code != 200:
        return None
    try:
        data = parse_json(response.content)
    except ValueError:
        return None
    homeserver = data.get("m.homeserver") if isinstance(data, dict) else None
    base_url = homeserver.get("base_url") if isinstance(homeserver, dict) else None
    return base_url if isinstance(base_url, str) and base_url else None


def checked_base_url(raw: str, *, loopback: bool) -> str:
    """A homeserver base URL we may talk to: https, or http to loopback for a loopback name."""
    if len(raw) > 2000:
        raise PermanentError("its address is too long.")
    try:
        parts = urlsplit(raw.strip())
        port = parts.port
    except ValueError:
        raise PermanentError("its address is not a web address.") from None
    host = (parts.hostname or "").lower()
    if not host or parts.username or parts.password or parts.query or parts.fragment:
        raise PermanentError("its address is not a plain web address.")
    if parts.scheme == "http" and not (loopback and is_loopback(host)):
        raise PermanentError("its address is not https://.")
    if parts.scheme not in ("http", "https"):
        raise PermanentError("its address is not https://.")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    return f"{parts.scheme}://{netloc}{parts.path}".rstrip("/")


async def _require_versions(http: httpx.AsyncClient, base_url: str) -> None:
    """``base_url`` answers ``/_matrix/client/versions`` as a homeserver does."""
    try:
        data = await Homeserver(http, base_url).call("GET", "/_matrix/client/versions")
    except Unreadable:
        data = {}
    versions = data.get("versions")
    if not isinstance(versions, list) or not all(isinstance(v, str) for v in versions):
        raise PermanentError("it does not answer as a Matrix server.")
