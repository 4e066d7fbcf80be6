"""One family of errors that a person can read, rendered by one handler as HTML or JSON."""

from __future__ import annotations

from typing import Any


def N_(message: str) -> str:
    """Mark a message for translation where it is defined; it is translated where shown."""
    return message


class PortalError(Exception):
    """An error whose message is meant for the person who caused it.

    ``message`` is a fixed English sentence, also its message id in the translation catalogs,
    with ``%(name)s`` placeholders filled from ``params``: ``InvalidInput("A tag has at most
    %(max)d characters.", max=40)``. ``message`` is the English text; the edge translates
    ``message_id`` into the reader's language before filling the placeholders.
    """

    status_code = 400
    title = "Bad request"

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        field: str | None = None,
        **params: object,
    ) -> None:
        self.message_id = message
        self.params = params
        self.message = message % params if params else message
        super().__init__(self.message)
        self.field = field
        if status_code is not None:
            self.status_code = status_code


class InvalidInput(PortalError):
    status_code = 422
    title = "Invalid input"


class NotAuthenticated(PortalError):
    status_code = 401
    title = "Sign-in required"


class Forbidden(PortalError):
    status_code = 403
    title = "Forbidden"


class NotFound(PortalError):
    status_code = 404
    title = "Not found"


class Conflict(PortalError):
    status_code = 409
    title = "Conflict"


class PayloadTooLarge(PortalError):
    status_code = 413
    title = "Too large"


class RateLimited(PortalError):
    status_code = 429
    title = "Too many requests"

    def __init__(self, message: str, *, retry_after: int, **params: Any) -> None:
        super().__init__(message, **params)
        self.retry_after = retry_after
