"""Pages for the links sent by email: confirm my address, forgot my password, change my email.

A link opens a page with a button: mail scanners that fetch every link in a message do not
spend it, since only the button's POST (with its CSRF token) uses it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from portal import csrf, i18n
from portal.deps import DB, LimiterDep, SettingsDep, client_address, count_mailed_link, mailer
from portal.domain import account, guide, recovery
from portal.errors import PortalError
from portal.web.deps import CurrentUser, OptionalUser
from portal.web.forms import form_error, redirect, safe_next, set_session_cookie
from portal.web.templating import render
from portal.web.toast import toast

router = APIRouter(dependencies=[Depends(csrf.verify)], include_in_schema=False)

Text = Annotated[str, Form()]
SENT_FOR = ("signup", "reset", "change", "confirm")


@router.get("/email/sent")
async def sent_page(request: Request, user: OptionalUser, what: str = "signup") -> Response:
    """Check your email."""
    return render(request, "email_sent", {"what": what if what in SENT_FOR else "signup"})


@router.get("/email/confirm")
async def confirm_page(
    request: Request, db: DB, user: OptionalUser, token: str = "", next: str = ""
) -> Response:
    """The page a confirmation link opens: one button confirms the address."""
    link = await recovery.check_link(db, token, (recovery.CONFIRM, recovery.CHANGE))
    context = {"token": token, "link": link, "next": safe_next(next, "")}
    return render(request, "email_confirm", context)


@router.post("/email/confirm")
async def confirm(
    request: Request,
    db: DB,
    settings: SettingsDep,
    user: OptionalUser,
    token: Text = "",
    next: Text = "",
) -> Response:
    """Use a confirmation link; a new account is signed in on this browser."""
    confirmed = await recovery.confirm_email(db, token)
    if confirmed.purpose == recovery.CHANGE:
        return render(request, "email_changed", {"address": confirmed.user.email})
    # Back to where signing up started (an invitation), else to the guided start.
    then = safe_next(next, guide.landing(confirmed.user))
    toast(request, "Your email address is confirmed.")
    if user is not None and user.id == confirmed.user.id:
        return redirect(request, then)
    secret = await account.start_session(
        db,
        confirmed.user,
        days=settings.session_days,
        user_agent=request.headers.get("user-agent", ""),
    )
    csrf.rotate(request)
    response = redirect(request, then)
    set_session_cookie(request, response, secret, settings.session_days)
    return response


@router.post("/me/email/confirmation")
async def resend_confirmation(
    request: Request, db: DB, settings: SettingsDep, user: CurrentUser, limiter: LimiterDep
) -> Response:
    """Mail my confirmation link again."""
    try:
        await count_mailed_link(request, limiter, user.email, sender=user)
        await recovery.resend_confirmation(
            db, user, mailer=mailer(settings), language=i18n.negotiate(request)
        )
    except PortalError as exc:
        return form_error(request, "email_change", exc)
    return redirect(request, "/email/sent?what=confirm")


@router.get("/password/forgot")
async def forgot_page(request: Request, user: OptionalUser) -> Response:
    """The form that mails a link for choosing a new password."""
    return render(request, "password_forgot", {})


@router.post("/password/forgot")
async def forgot(
    request: Request, db: DB, settings: SettingsDep, limiter: LimiterDep, email: Text = ""
) -> Response:
    """Mail a link for choosing a new password; the answer is the same for any address."""
    values = {"email": email[:254]}
    try:
        await limiter.hit("email_link_from", client_address(request))
        await count_mailed_link(request, limiter, email)
        await recovery.request_password_reset(
            db, email=email, mailer=mailer(settings), language=i18n.negotiate(request)
        )
    except PortalError as exc:
        return form_error(request, "password_forgot", exc, {"values": values})
    return redirect(request, "/email/sent?what=reset")


@router.get("/password/reset")
async def reset_page(request: Request, db: DB, user: OptionalUser, token: str = "") -> Response:
    """The page a reset link opens: the new password's form."""
    await recovery.check_link(db, token, (recovery.RESET,))
    return render(request, "password_reset", {"token": token, "keep_tokens": False})


@router.post("/password/reset")
async def reset(
    request: Request,
    db: DB,
    token: Text = "",
    new_password: Text = "",
    keep_tokens: Text = "",
) -> Response:
    """Set the new password; every browser is signed out, and the API tokens too unless kept."""
    # Only a ticked box keeps the tokens: a form that lost the field revokes them.
    revoke = not keep_tokens
    context = {"token": token, "keep_tokens": not revoke}
    try:
        await recovery.reset_password(
            db, token=token, new_password=new_password, revoke_tokens=revoke
        )
    except PortalError as exc:
        if exc.field is None:
            raise
        return form_error(request, "password_reset", exc, context)
    csrf.rotate(request)
    return render(request, "password_was_reset", {"revoked": revoke, "user": None})


@router.get("/me/email")
async def change_page(request: Request, user: CurrentUser) -> Response:
    """The change-email form."""
    return render(request, "email_change", {})


@router.post("/me/email")
async def change(
    request: Request,
    db: DB,
    settings: SettingsDep,
    user: CurrentUser,
    limiter: LimiterDep,
    new_email: Text = "",
    password: Text = "",
) -> Response:
    """Mail a link to the new address; the old one stays until it is opened."""
    values = {"new_email": new_email[:254]}
    try:
        await limiter.hit("signin", str(user.id))
        await count_mailed_link(request, limiter, new_email, sender=user)
        await recovery.request_email_change(
            db,
            user,
            new_email=new_email,
            password=password,
            mailer=mailer(settings),
            language=i18n.negotiate(request),
        )
    except PortalError as exc:
        return form_error(request, "email_change", exc, {"values": values})
    return redirect(request, "/email/sent?what=change")
