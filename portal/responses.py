"""Answers that are not pages: a picture, served so that it can only ever be a picture."""

from __future__ import annotations

from starlette.responses import Response


def picture(
    data: bytes, mime_type: str, *, max_age: int, immutable: bool = False, **headers: str
) -> Response:
    """``data`` as a picture of ``mime_type``, kept ``max_age`` seconds by the browser alone:
    never sniffed as something else, and sandboxed should it be opened as a document (an SVG
    or a polyglot file can then run nothing). ``headers`` add to those (``x_robots_tag``)."""
    kept = f"private, max-age={max_age}" + (", immutable" if immutable else "")
    return Response(
        data,
        media_type=mime_type,
        headers={
            "cache-control": kept,
            "x-content-type-options": "nosniff",
            "content-security-policy": "default-src 'none'; sandbox",
            **{name.replace("_", "-"): value for name, value in headers.items()},
        },
    )
