"""Talking to a homeserver: one request, and the error its answer means (``errcode`` first,
https://spec.matrix.org/latest/client-server-api/#standard-error-response)."""

from __future__ import annotations

import contextlib
import math
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from connectors._http import MAX_ANSWER, Failures, parse_json, retry_after, send
from connectors.base import (
    AuthRevoked,
    ConnectorError,
    PermanentError,
    RateLimited,
    Retriable,
)
from connectors.matrix._ids import segment

TIMEOUT = httpx.Timeout(15.0, connect=5.0)
"""The longest one request to a homeserver may take."""
UPLOAD_TIMEOUT = httpx.Timeout(120.0, connect=5.0)
"""An upload sends megabytes: it may take longer."""
SIGNED_OUT = "Matrix has ended Portal's session for this account: connect it again."
SIGNS_IN_ELSEWHERE = (
    "This Matrix server does not let other apps sign in with a password (it signs people in "
    "on its own page), so Portal cannot link this account by signing in."
)


class MatrixError(PermanentError):
    """The homeserver refused a request with a standard error response."""

    def __init__(self, message: str, *, status: int, errcode: str) -> None:
        super().__init__(message)
        self.status = status
        self.errcode = errcode


class NotFound(MatrixError):
    pass


class Unreadable(Retriable):
    """A success whose body is not a JSON object."""


@dataclass
class Homeserver:
    http: httpx.AsyncClient
    base_url: str
    token: str = ""

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc

    async def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """One request; the JSON object answered, or the error it means."""
        return await self._request(method, path, json=body, params=params, timeout=TIMEOUT)

    async def upload(self, data: bytes, mime_type: str, filename: str) -> str:
        """Put a file in the server's media repository; its ``mxc://`` URI
        (https://spec.matrix.org/latest/client-server-api/#post_matrixmediav3upload)."""
        answer = await self._request(
            "POST",
            "/_matrix/media/v3/upload",
            content=data,
            params={"filename": filename},
            headers={"Content-Type": mime_type},
            timeout=UPLOAD_TIMEOUT,
        )
        uri = answer.get("content_uri")
        if not isinstance(uri, str) or not uri.startswith("mxc://"):
            raise Unreadable(f"The Matrix server {self.host} did not say where it put the file.")
        return uri

    async def _request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        headers = {"Accept": "application/json", **(headers or {})}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        failures = Failures(
            unreachable=f"Portal could not reach the Matrix server {self.host}.",
            timeout=f"The Matrix server {self.host} did not answer in time.",
            too_large=f"The Matrix server {self.host} sent an answer larger than Portal reads.",
            # A redirect to ``mailto:…`` and the like.
            address=f"The Matrix server {self.host} answered with a redirect.",
        )
        response = await send(
            self.http,
            method,
            self.base_url + path,
            failures,
            limit=MAX_ANSWER,
            headers=headers,
            **kwargs,
        )
        if response.status_code >= 400 or response.is_redirect:
            raise error_of(response, self.host)
        try:
            data = parse_json(response.content)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise Unreadable(f"The Matrix server {self.host} gave an answer Portal cannot read.")
        return data

    async def require_password_login(self) -> None:
        try:
            data = await self.call("GET", "/_matrix/client/v3/login")
        except MatrixError:
            return  # no list of ways to sign in: let the attempt itself tell
        flows = data.get("flows")
        types = (
            {flow.get("type") for flow in flows if isinstance(flow, dict)}
            if isinstance(flows, list)
            else set()
        )
        if "m.login.password" not in types:
            raise PermanentError(SIGNS_IN_ELSEWHERE)

    async def profile(self, user_id: str) -> dict[str, Any]:
        try:
            return await self.call("GET", f"/_matrix/client/v3/profile/{segment(user_id)}")
        except MatrixError:
            return {}  # no profile, or one kept private: the user ID is all there is

    async def logout_quietly(self) -> None:
        with contextlib.suppress(ConnectorError):
            await self.call("POST", "/_matrix/client/v3/logout", {})


def error_of(response: httpx.Response, host: str) -> ConnectorError:
    status = response.status_code
    try:
        data = parse_json(response.content)
    except ValueError:
        data = None
    errcode = data.get("errcode") if isinstance(data, dict) else None
    errcode = errcode if isinstance(errcode, str) else ""
    if status == 429 or errcode == "M_LIMIT_EXCEEDED":
        return RateLimited(
            f"The Matrix server {host} asks Portal to slow down.",
            retry_after=retry_after_of(response, data),
        )
    if status == 401 and errcode in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"):
        return AuthRevoked(SIGNED_OUT)
    if status >= 500:
        return Retriable(f"The Matrix server {host} has a problem ({status}); try again later.")
    if response.is_redirect:
        return PermanentError(f"The Matrix server {host} answered with a redirect.")
    if status == 404:
        return NotFound(
            f"The Matrix server {host} has no such thing.", status=status, errcode=errcode
        )
    if errcode == "M_TOO_LARGE" or status == 413:
        return MatrixError("This is too large for Matrix.", status=status, errcode=errcode)
    reason = f" ({errcode})" if re.fullmatch(r"[A-Z0-9_.]{1,64}", errcode) else ""
    return MatrixError(
        f"The Matrix server {host} refused the request{reason}.", status=status, errcode=errcode
    )


def retry_after_of(response: httpx.Response, data: Any) -> float | None:
    milliseconds = data.get("retry_after_ms") if isinstance(data, dict) else None
    if isinstance(milliseconds, int | float) and not isinstance(milliseconds, bool):
        try:
            seconds = float(milliseconds) / 1000
        except OverflowError:  # an integer too large for a float: no usable wait
            seconds = math.nan
        if math.isfinite(seconds):
            return max(seconds, 0.0)
    return retry_after(response.headers)
