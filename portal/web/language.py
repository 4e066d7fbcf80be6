"""The language switcher."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from portal import csrf, i18n
from portal.errors import InvalidInput
from portal.web.forms import redirect, safe_next
from portal.web.toast import toast

router = APIRouter(dependencies=[Depends(csrf.verify)], include_in_schema=False)


@router.post("/language")
async def choose_language(
    request: Request,
    language: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Remember the chosen language in a cookie and go back to the page."""
    if language not in i18n.LANGUAGES:
        raise InvalidInput("This language is not available.", field="language")
    # Read on the next page, in the language just chosen.
    # Translators: name your own language here, not English.
    toast(request, "The pages are now in English.")
    response = redirect(request, safe_next(next, default="/"))
    response.set_cookie(
        i18n.LANG_COOKIE,
        language,
        max_age=365 * 86400,
        httponly=True,
        secure=request.app.state.settings.cookie_secure,
        samesite="lax",
        path="/",
    )
    return response
