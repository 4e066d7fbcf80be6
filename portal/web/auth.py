"""Sign up, sign in, sign out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from portal import csrf, i18n
from portal.deps import (
    DB,
    SESSION_COOKIE,
    LimiterDep,
    SettingsDep,
    client_address,
    count_mailed_link,
    mailer,
)
from portal.domain import account, guide, recovery
from portal.domain.signin import sign_in
from portal.errors import PortalError
from portal.web.deps import OptionalUser
from portal.web.forms import (
    clear_session_cookie,
    form_error,
    redirect,
    safe_next,
    set_session_cookie,
)
from portal.web.language import remember_language
from portal.web.templating import render
from portal.web.toast import toast

router = APIRouter(dependencies=[Depends(csrf.verify)], include_in_schema=False)

Text = Annotated[str, Form()]


@router.get("/signup")
async def signup_page(request: Request, user: OptionalUser, next: str = "") -> Response:
    """The sign-up form."""
    if user is not None:
        return redirect(request, safe_next(next))
    return render(request, "signup", {"values": {}, "next": safe_next(next, "")})


@router.post("/signup")
async def signup(
    request: Request,
    db: DB,
    settings: SettingsDep,
    limiter: LimiterDep,
    email: Text = "",
    password: Text = "",
    display_name: Text = "",
    next: Text = "",
) -> Response:
    """Create an account and mail the link that confirms its address and signs in.

    An address that already has an account gets the same answer (its owner is emailed)."""
    values = {"email": email[:254], "display_name": display_name[:100]}
    then = safe_next(next, "")
    try:
        await limiter.hit("signup", client_address(request))
        await count_mailed_link(request, limiter, email)
        await recovery.sign_up(
            db,
            email=email,
            password=password,
            display_name=display_name,
            policy=settings.number_policy,
            mailer=mailer(settings),
            language=i18n.negotiate(request),
            then=then,
        )
    except PortalError as exc:
        return form_error(request, "signup", exc, {"values": values, "next": then})
    return redirect(request, "/email/sent?what=signup")


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
        user = await sign_in(
            db,
            email=email,
            password=password,
            address=client_address(request),
            limiter=limiter,
            mailer=mailer(settings),
        )
        secret = await account.start_session(
            db, user, days=settings.session_days, user_agent=request.headers.get("user-agent", "")
        )
    except PortalError as exc:
        return form_error(request, "signin", exc, context)
    csrf.rotate(request)
    # Without a page asked for, a new person goes on to the guided start until it is done.
    then = safe_next(next)
    toast(request, "You are signed in.")
    response = redirect(request, guide.landing(user) if then == "/me" else then)
    set_session_cookie(request, response, secret, settings.session_days)
    if user.language:  # also for the pages that do not look at who is asking
        remember_language(request, response, user.language)
    return response


@router.post("/signout")
async def signout(request: Request, db: DB) -> Response:
    """End this browser's session."""
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        await account.end_session(db, secret)
    csrf.rotate(request)
    toast(request, "You are signed out.")
    response = redirect(request, "/")
    clear_session_cookie(request, response)
    # The pages this browser kept for the person (portal.web.offline) go with the session.
    response.headers["clear-site-data"] = '"cache"'
    return response
