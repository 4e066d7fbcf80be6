"""Sign up, sign in, sign out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from portal.deps import DB, SESSION_COOKIE, LimiterDep, SettingsDep, client_address
from portal.domain import account
from portal.errors import PortalError
from portal.web import csrf
from portal.web.deps import OptionalUser
from portal.web.forms import (
    clear_session_cookie,
    form_error,
    redirect,
    safe_next,
    set_session_cookie,
)
from portal.web.templating import render

router = APIRouter(dependencies=[Depends(csrf.verify)], include_in_schema=False)

Text = Annotated[str, Form()]


@router.get("/signup")
async def signup_page(request: Request, user: OptionalUser) -> Response:
    """The sign-up form."""
    if user is not None:
        return redirect(request, "/me")
    return render(request, "signup", {"values": {}})


@router.post("/signup")
async def signup(
    request: Request,
    db: DB,
    settings: SettingsDep,
    limiter: LimiterDep,
    email: Text = "",
    password: Text = "",
    display_name: Text = "",
) -> Response:
    """Create an account, sign in, and show the new number."""
    values = {"email": email[:254], "display_name": display_name[:100]}
    try:
        await limiter.hit("signup", client_address(request))
        user = await account.sign_up(
            db,
            email=email,
            password=password,
            display_name=display_name,
            policy=settings.number_policy,
        )
        secret = await account.start_session(
            db, user, days=settings.session_days, user_agent=request.headers.get("user-agent", "")
        )
    except PortalError as exc:
        return form_error(request, "signup", exc, {"values": values})
    csrf.rotate(request)
    response = redirect(request, "/me?welcome=1")
    set_session_cookie(request, response, secret, settings.session_days)
    return response


@router.get("/signin")
async def signin_page(request: Request, user: OptionalUser, next: str = "/me") -> Response:
    """The sign-in form."""
    if user is not None:
        return redirect(request, safe_next(next))
    return render(request, "signin", {"values": {}, "next": safe_next(next)})


@router.post("/signin")
async def signin(
    request: Request,
    db: DB,
    settings: SettingsDep,
    limiter: LimiterDep,
    email: Text = "",
    password: Text = "",
    next: Text = "/me",
) -> Response:
    """Check the password and open a session."""
    context = {"values": {"email": email[:254]}, "next": safe_next(next)}
    try:
        await limiter.hit("signin", client_address(request))
        await limiter.hit("signin", email.strip().lower()[:254])
        user = await account.authenticate(db, email=email, password=password)
        secret = await account.start_session(
            db, user, days=settings.session_days, user_agent=request.headers.get("user-agent", "")
        )
    except PortalError as exc:
        return form_error(request, "signin", exc, context)
    csrf.rotate(request)
    response = redirect(request, safe_next(next))
    set_session_cookie(request, response, secret, settings.session_days)
    return response


@router.post("/signout")
async def signout(request: Request, db: DB) -> Response:
    """End this browser's session."""
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        await account.end_session(db, secret)
    csrf.rotate(request)
    response = redirect(request, "/")
    clear_session_cookie(request, response)
    return response
