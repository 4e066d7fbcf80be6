"""ASGI middleware: security headers on every response, and a cap on request bodies."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal.errors import PayloadTooLarge

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}

EMBED_PREFIX = "/embed/"
"""The contact button (portal.web.share): the only pages other websites may frame or include.
They neither read nor set cookies, so that a visitor's session never shows through them."""
EMBED_CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self' data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors *",
    ]
)
EMBED_HEADERS = {
    **{name: value for name, value in SECURITY_HEADERS.items() if name != "x-frame-options"},
    "content-security-policy": EMBED_CONTENT_SECURITY_POLICY,
    "cross-origin-resource-policy": "cross-origin",
}


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        embedded = scope["path"].startswith(EMBED_PREFIX)
        if embedded:
            scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k != b"cookie"]}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if embedded:
                    del headers["set-cookie"]
                for name, value in (EMBED_HEADERS if embedded else SECURITY_HEADERS).items():
                    headers.setdefault(name, value)
                if self.hsts:
                    headers.setdefault("strict-transport-security", "max-age=31536000")
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimitMiddleware:
    """Refuse bodies over ``default`` bytes, or over the limit of their path (``uploads``: the
    paths that take files, each with its limit)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        default: int,
        uploads: Mapping[str, int],
        render: Callable[[Request, PayloadTooLarge], Response],
    ) -> None:
        self.app = app
        self.default = default
        self.uploads = uploads
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.uploads.get(scope["path"], self.default)
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                response = self.render(Request(scope), _too_large(limit))
                await response(scope, receive, send)
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _too_large(limit)
            return message

        await self.app(scope, limited_receive, send)


def _too_large(limit: int) -> PayloadTooLarge:
    size = f"{limit // 1024} KB" if limit < 1024 * 1024 else f"{limit // (1024 * 1024)} MB"
    return PayloadTooLarge("This request is too large; the limit is %(size)s.", size=size)
