"""The language switcher, and the language setting of a signed-in person."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from portal import csrf, i18n
from portal.deps import DB
from portal.domain import profile
from portal.errors import InvalidInput
from portal.web.deps import OptionalUser
from portal.web.forms import redirect, safe_next
from portal.web.toast import toast

router = APIRouter(dependencies=[Depends(csrf.verify)], include_in_schema=False)


def remember_language(request: Request, response: Response, language: str | None) -> None:
    """Keep ``language`` in this browser's cookie; None forgets it (the browser's is used)."""
    if language is None:
        response.delete_cookie(i18n.LANG_COOKIE, path="/")
        return
    response.set_cookie(
        i18n.LANG_COOKIE,
        language,
        max_age=365 * 86400,
        httponly=True,
        secure=request.app.state.settings.cookie_secure,
        samesite="lax",
        path="/",
    )


@router.post("/language")
async def choose_language(
    request: Request,
    db: DB,
    user: OptionalUser,
    language: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Remember the chosen language in a cookie (and in my settings when I am signed in) and
    go back to the page."""
    if language not in i18n.LANGUAGES:
        raise InvalidInput("This language is not available.", field="language")
    if user is not None:
        await profile.set_language(db, user, language)
    # Read on the next page, in the language just chosen.
    # Translators: name your own language here, not English.
    toast(request, "The pages are now in English.")
    response = redirect(request, safe_next(next, default="/"))
    remember_language(request, response, language)
    return response
