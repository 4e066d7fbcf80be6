"""Errors as RFC 9457 problem details (``application/problem+json``), built in one place: for
the error handler, and for the routes that answer a refusal rather than raise it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from portal import i18n
from portal.api.schemas import Problem
from portal.errors import N_, PortalError

PROBLEM_JSON = "application/problem+json"
_STATUS_TITLES = {
    400: N_("Bad request"),
    401: N_("Sign-in required"),
    403: N_("Forbidden"),
    404: N_("Not found"),
    405: N_("Method not allowed"),
    409: N_("Conflict"),
    413: N_("Too large"),
    415: N_("Unsupported media type"),
    422: N_("Invalid input"),
    429: N_("Too many requests"),
    500: N_("Server error"),
    502: N_("Network unavailable"),
    503: N_("Busy"),
}


def status_title(language: str, status: int) -> str:
    """The title of an error with this status, in ``language``."""
    return i18n.translate(language, _STATUS_TITLES.get(status, N_("Error")))


def problem_response(
    request: Request,
    status: int,
    message: str,
    *,
    field: str | None = None,
    params: dict[str, object] | None = None,
) -> JSONResponse:
    """``message`` (a message id, placeholders filled from ``params``) as problem details, in
    the request's language; never cached."""
    language = i18n.negotiate(request)
    headers = {"cache-control": "no-store"}
    if status == 401:
        headers["www-authenticate"] = 'Bearer realm="portal"'
    problem = Problem(
        title=status_title(language, status),
        status=status,
        detail=i18n.translate(language, message, params),
        field=field,
    )
    return JSONResponse(
        problem.model_dump(exclude_none=True),
        status_code=status,
        headers=headers,
        media_type=PROBLEM_JSON,
    )


def refusal(request: Request, error: PortalError) -> JSONResponse:
    """An error answered rather than raised, so that what the route wrote (a wrong try that
    counts) is committed."""
    return problem_response(
        request, error.status_code, error.message_id, field=error.field, params=error.params
    )
