"""XRPC, the AT Protocol's HTTP calls: ``GET|POST /xrpc/<nsid>`` and their errors, and blobs.

https://atproto.com/specs/xrpc; blob references: https://atproto.com/specs/data-model#blob-type
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import httpx

from connectors import _http
from connectors.atproto._oauth import MAX_ANSWER, DPoP
from connectors.base import PermanentError, Retriable


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
    content: bytes | None = None,
    content_type: str = "application/octet-stream",
    token: str | None = None,
    dpop: DPoP | None = None,
    post: bool = False,
    label: str = "The server",
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Call ``nsid`` on ``service`` and return its JSON object.

    A procedure sends ``body`` as JSON, or ``content`` as it is, typed ``content_type`` (a
    blob). ``token`` is a session JWT (Bearer), or with ``dpop`` an OAuth access token bound
    to that key. ``headers`` go along (``atproto-proxy``: the service a PDS passes the call
    on to, https://atproto.com/specs/xrpc#service-proxying). 429 becomes
    :class:`RateLimited`, 5xx and transport failures :class:`Retriable`, any other failure
    :class:`XrpcError` for the caller to interpret.
    """
    url = f"{service}/xrpc/{nsid}"
    sent = {"Accept": "application/json", **(headers or {})}
    if token and dpop is None:
        sent["Authorization"] = f"Bearer {token}"
    if content is not None:
        sent["Content-Type"] = content_type
    method = "POST" if post or body is not None or content is not None else "GET"
    failures = _http.Failures.about(
        label, failing=f"{label} answered with an error (HTTP {{status}})."
    )
    if dpop is not None:
        typed = {"Content-Type": content_type} if content is not None else {}
        typed.update(headers or {})
        response = await dpop.request(
            http,
            method,
            url,
            access_token=token,
            json=body,
            content=content,
            params=params,
            headers=typed,
            failures=failures,
        )
    else:
        response = await _http.send(
            http,
            method,
            url,
            failures,
            limit=MAX_ANSWER,
            json=body,
            content=content,
            params=params,
            headers=sent,
        )
    if response.status_code == 429 or response.status_code >= 500:
        _http.check(response, failures)
    data = json_object(response)
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


def json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = _http.parse_json(response.content)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


# -- blobs -----------------------------------------------------------------------------------


def blob_cid(blob: Any) -> str | None:
    """The CID of a blob reference (``{"ref": {"$link": cid}}``, or the legacy ``{"cid"}``)."""
    if not isinstance(blob, Mapping):
        return None
    ref = blob.get("ref")
    cid = ref.get("$link") if isinstance(ref, Mapping) else blob.get("cid")
    return cid if isinstance(cid, str) and cid.isalnum() else None


def blob_url(pds: str, did: str, cid: str) -> str:
    """Where a blob of ``did``'s repository is read: ``com.atproto.sync.getBlob`` on its PDS."""
    return f"{pds}/xrpc/com.atproto.sync.getBlob?{urlencode({'did': did, 'cid': cid})}"
