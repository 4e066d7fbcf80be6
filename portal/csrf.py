"""CSRF protection by signed double submit.

Every browser gets a random ``portal_csrf`` cookie; forms carry ``HMAC(secret_key, cookie)``
in a hidden ``csrf_token`` field (htmx sends it as the ``X-CSRF-Token`` header). A forged
request from another site can neither read the cookie nor compute the HMAC.
See the OWASP CSRF Prevention Cheat Sheet, "Signed Double-Submit Cookie".
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

from portal.errors import Forbidden

CSRF_COOKIE = "portal_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _sign(secret_key: str, value: str) -> str:
    return hmac.new(secret_key.encode(), value.encode(), hashlib.sha256).hexdigest()


def csrf_cookie_value(request: Request) -> str:
    """The browser's CSRF cookie, or a new one that the response will set."""
    value = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf_cookie", None)
    if not value or len(value) > 100:
        value = secrets.token_urlsafe(32)
        request.state.new_csrf_cookie = value
    return value


def csrf_token(request: Request) -> str:
    return _sign(request.app.state.settings.secret_key, csrf_cookie_value(request))


def rotate(request: Request) -> None:
    """A new CSRF cookie at sign-in, so a token planted before it is worthless."""
    request.state.new_csrf_cookie = secrets.token_urlsafe(32)


def set_cookie_if_new(request: Request, response: Response) -> None:
    value = getattr(request.state, "new_csrf_cookie", None)
    if value:
        response.set_cookie(
            CSRF_COOKIE,
            value,
            httponly=True,
            secure=request.app.state.settings.cookie_secure,
            samesite="strict",
            path="/",
        )


async def verify(request: Request) -> None:
    """Refuse a state-changing request that does not carry the right token."""
    if request.method in SAFE_METHODS:
        return
    cookie = request.cookies.get(CSRF_COOKIE)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    expected = _sign(request.app.state.settings.secret_key, cookie) if cookie else None
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise Forbidden(
            "This form has expired or did not come from this site. Reload the page and try again."
        )
