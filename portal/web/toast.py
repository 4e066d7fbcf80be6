"""A short message after an action ("The account is unlinked."), shown once as a toast.

A route says what happened with :func:`toast`; the answer carries it whichever way it goes:

- an htmx fragment: an ``HX-Trigger`` header ``{"toast": {"message": ..., "kind": ...}}``,
  which ``static/toasts.js`` shows in the live region of ``base.html``;
- a redirect (a plain form post, or htmx's ``HX-Redirect``): a signed cookie that lives a
  minute, read once by the next page, which renders the message into that live region;
- a whole page: the message rendered into the live region at once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from starlette.requests import Request
from starlette.responses import Response

from portal import i18n

FLASH_COOKIE = "portal_flash"
_MAX_AGE = 60
_MAX_TOASTS = 3
_MAX_LENGTH = 300

Kind = Literal["ok", "error"]


@dataclass(frozen=True)
class Toast:
    """A message as said (English, with its placeholders' values), translated when shown."""

    message: str
    params: Mapping[str, str]
    kind: Kind = "ok"

    def text(self, language: str) -> str:
        return i18n.translate(language, self.message, self.params)[:_MAX_LENGTH]


@dataclass(frozen=True)
class Shown:
    message: str
    kind: Kind


def toast(
    request: Request,
    message: str,
    params: Mapping[str, object] | None = None,
    *,
    kind: Kind = "ok",
) -> None:
    """Say what the action did; the reader reads it in their language (that of the page
    it is shown on: after choosing a language, the new one)."""
    values = {key: str(value)[:_MAX_LENGTH] for key, value in (params or {}).items()}
    _pending(request).append(Toast(message, values, kind))


def discard(request: Request) -> None:
    """Forget what this request said it did: it was not done after all (rolled back)."""
    request.state.toasts = []


def _pending(request: Request) -> list[Toast]:
    if not hasattr(request.state, "toasts"):
        request.state.toasts = []
    toasts: list[Toast] = request.state.toasts
    return toasts


def _sign(request: Request, payload: str) -> str:
    key = f"flash:{request.app.state.settings.secret_key}".encode()
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def _encode(request: Request, toasts: list[Toast]) -> str:
    kept = [[t.message, t.params, t.kind] for t in toasts[-_MAX_TOASTS:]]
    raw = json.dumps(kept, ensure_ascii=True)
    payload = base64.urlsafe_b64encode(raw.encode()).decode()
    return f"{payload}.{_sign(request, payload)}"


def _decode(request: Request, value: str) -> list[Toast]:
    payload, _, signature = value.rpartition(".")
    if not payload or not hmac.compare_digest(signature, _sign(request, payload)):
        return []
    try:
        items = json.loads(base64.urlsafe_b64decode(payload))
        return [
            Toast(
                str(message)[:_MAX_LENGTH],
                {str(key): str(value)[:_MAX_LENGTH] for key, value in params.items()},
                "error" if kind == "error" else "ok",
            )
            for message, params, kind in items[:_MAX_TOASTS]
        ]
    except (ValueError, TypeError, AttributeError, binascii.Error):
        return []


def keep(request: Request, response: Response) -> None:
    """Carry the messages of this request over a redirect, to the next page, after those
    still waiting there (a redirect that follows another)."""
    if not _pending(request):
        return
    carried = request.cookies.get(FLASH_COOKIE)
    toasts = (_decode(request, carried) if carried else []) + _pending(request)
    response.set_cookie(
        FLASH_COOKIE,
        _encode(request, toasts),
        max_age=_MAX_AGE,
        httponly=True,
        secure=request.app.state.settings.cookie_secure,
        samesite="lax",
        path="/",
    )


def take(request: Request, language: str) -> list[Shown]:
    """The messages to show with this answer, in ``language``: those carried over, then this
    request's own."""
    carried = request.cookies.get(FLASH_COOKIE)
    toasts = _decode(request, carried) if carried else []
    toasts += _pending(request)
    request.state.toasts = []
    return [Shown(t.text(language), t.kind) for t in toasts]


def forget(request: Request, response: Response) -> None:
    """A carried-over message is shown once: this answer clears its cookie."""
    if FLASH_COOKIE in request.cookies:
        response.delete_cookie(
            FLASH_COOKIE,
            httponly=True,
            secure=request.app.state.settings.cookie_secure,
            samesite="lax",
            path="/",
        )


def trigger(response: Response, toasts: list[Shown]) -> None:
    """Hand the messages to htmx as an ``HX-Trigger`` event (ASCII-only JSON, as headers are)."""
    if not toasts:
        return
    kind: Kind = "error" if any(t.kind == "error" for t in toasts) else "ok"
    event = {"toast": {"message": " ".join(t.message for t in toasts), "kind": kind}}
    response.headers["hx-trigger"] = json.dumps(event, ensure_ascii=True)
