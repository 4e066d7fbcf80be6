"""Following a number from its page: the Follow / Following button, with and without htmx.

The button comes with the number's page (:func:`portal.web.pages.number_page`); a plain form
posts and is sent back to the page, an htmx one gets the button again in its new state, or
the message in its place. Each press counts as a lookup, as the API's routes do.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from portal import csrf, i18n
from portal.deps import DB, LimiterDep, client_address
from portal.domain import lookup
from portal.domain import number as numbers
from portal.errors import PortalError, RateLimited
from portal.web.deps import CurrentUser
from portal.web.forms import redirect, safe_next
from portal.web.templating import is_htmx, render
from portal.web.toast import discard, toast

router = APIRouter(dependencies=[Depends(csrf.verify)], include_in_schema=False)

Text = Annotated[str, Form()]


@router.post("/me/follows/{number}")
async def follow(
    request: Request, db: DB, user: CurrentUser, limiter: LimiterDep, number: str, next: Text = ""
) -> Response:
    """Follow a number: the public feeds of its owner's accounts come into mine."""
    return await _press(request, db, user, limiter, number, next, following=True)


@router.post("/me/follows/{number}/remove")
async def unfollow(
    request: Request, db: DB, user: CurrentUser, limiter: LimiterDep, number: str, next: Text = ""
) -> Response:
    """Stop following a number."""
    return await _press(request, db, user, limiter, number, next, following=False)


async def _press(
    request: Request,
    db: DB,
    user: CurrentUser,
    limiter: LimiterDep,
    number: str,
    next: str,
    *,
    following: bool,
) -> Response:
    client = client_address(request)
    try:
        if following:
            await lookup.follow(db, limiter, user, number, client=client)
            toast(request, "You follow this number: its public feeds come into yours.")
        else:
            await lookup.unfollow(db, limiter, user, number, client=client)
            toast(request, "You no longer follow this number.")
    except PortalError as exc:
        discard(request)
        if not is_htmx(request):
            raise
        request.state.rollback = True
        limited = {"retry-after": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
        context = {
            "number": None,
            "following": not following,
            "error": i18n.error_text(request, exc),
            "refocus": True,
        }
        return render(
            request,
            "number",
            context,
            fragment="follow_actions",
            status_code=exc.status_code if limited else 200,
            headers=limited,
        )
    shown = numbers.parse(number[:100])
    if is_htmx(request) and request.headers.get("hx-target") == "follow-actions":
        context = {"number": shown, "following": following, "refocus": True}
        return render(request, "number", context, fragment="follow_actions")
    return redirect(request, safe_next(next, "/n/" + shown))
