"""Helpers shared by the form pages."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from portal import csrf, i18n
from portal.deps import SESSION_COOKIE
from portal.errors import PortalError, RateLimited
from portal.storage.models import MAX_ID
from portal.web import toast
from portal.web.templating import render


def form_error(
    request: Request,
    page: str,
    exc: PortalError,
    context: dict[str, Any] | None = None,
    *,
    fragment: str | None = None,
    keep_writes: bool = False,
) -> HTMLResponse:
    """The same form again, with the message next to the field it is about.

    Whatever the request wrote before the error is rolled back, unless ``keep_writes``: an
    answer that used up something (a one-time OAuth state) must stay used up.
    """
    request.state.rollback = not keep_writes
    if not keep_writes:
        toast.discard(request)
    context = dict(context or {})
    message = i18n.error_text(request, exc)
    errors = {exc.field: message} if exc.field else {}
    headers = {"retry-after": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    context.update(errors=errors, error=None if exc.field else message)
    return render(
        request, page, context, fragment=fragment, status_code=exc.status_code, headers=headers
    )


def safe_next(target: str | None, default: str = "/me") -> str:
    """Only local paths, so a sign-in link cannot send anyone to another site."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return default


def redirect(request: Request, url: str) -> Response:
    """A 303 for a form post; for htmx a full-page ``HX-Redirect``.

    What the action did (:func:`portal.web.toast.toast`) goes along to the next page.
    """
    if request.headers.get("hx-request") == "true":
        response: Response = Response(status_code=204, headers={"hx-redirect": url})
    else:
        response = RedirectResponse(url, status_code=303)
    toast.keep(request, response)
    csrf.set_cookie_if_new(request, response)
    return response


def set_session_cookie(request: Request, response: Response, secret: str, days: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=days * 86400,
        httponly=True,
        secure=request.app.state.settings.cookie_secure,
        samesite="lax",
        path="/",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        httponly=True,
        secure=request.app.state.settings.cookie_secure,
        samesite="lax",
        path="/",
    )


def path_id(text: str, missing: str) -> int:
    """A row's id from a page's path; anything that cannot be one is the 404 ``missing`` (the
    message an id of a row that does not exist, or is someone else's, answers with too)."""
    if not (text.isdigit() and len(text) < 13 and 0 < int(text) <= MAX_ID):
        raise PortalError(missing, status_code=404)
    return int(text)
