"""Links sent by email: confirming an address, a forgotten password, a new email address."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from portal import i18n
from portal.api.deps import ApiUser
from portal.api.schemas import (
    Accepted,
    EmailChangeIn,
    EmailConfirmIn,
    MeOut,
    PasswordResetConfirmIn,
    PasswordResetIn,
    errors,
)
from portal.deps import DB, LimiterDep, SettingsDep, client_address, count_mailed_link, mailer
from portal.domain import recovery

router = APIRouter(prefix="/api/v1", tags=["accounts"])

RESET_SENT = "If this address has an account, we sent it a link for choosing a new password."
CHANGE_SENT = "Check the new address: we sent it a link. Your address changes once it is opened."
CONFIRM_SENT = "Check your email: we sent you a new link."


@router.post("/email/confirm", response_model=MeOut, responses=errors(404, 409))
async def confirm_email(body: EmailConfirmIn, db: DB) -> MeOut:
    """Use the link mailed at sign-up or for a new address; the answer is my account."""
    confirmed = await recovery.confirm_email(db, body.token)
    return MeOut.of(confirmed.user)


@router.post(
    "/me/email/confirmation",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=errors(401, 403, 429),
)
async def resend_confirmation(
    request: Request, db: DB, settings: SettingsDep, user: ApiUser, limiter: LimiterDep
) -> Accepted:
    """Mail my confirmation link again; the earlier one stops working."""
    await count_mailed_link(request, limiter, user.email, sender=user)
    await recovery.resend_confirmation(
        db, user, mailer=mailer(settings), language=i18n.negotiate(request)
    )
    return Accepted(detail=CONFIRM_SENT)


@router.post(
    "/password-reset",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=errors(429),
)
async def request_password_reset(
    body: PasswordResetIn, request: Request, db: DB, settings: SettingsDep, limiter: LimiterDep
) -> Accepted:
    """Mail a link for choosing a new password (30 minutes); the same answer for any address."""
    await limiter.hit("email_link_from", client_address(request))
    await count_mailed_link(request, limiter, body.email)
    await recovery.request_password_reset(
        db,
        email=body.email,
        mailer=mailer(settings),
        language=i18n.negotiate(request),
    )
    return Accepted(detail=RESET_SENT)


@router.post(
    "/password-reset/confirm", status_code=status.HTTP_204_NO_CONTENT, responses=errors(404)
)
async def reset_password(body: PasswordResetConfirmIn, db: DB) -> Response:
    """Set a new password with a reset link; every session ends, tokens too unless kept."""
    await recovery.reset_password(
        db, token=body.token, new_password=body.new_password, revoke_tokens=body.revoke_tokens
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/me/email",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=errors(401, 403, 429),
)
async def change_email(
    body: EmailChangeIn,
    request: Request,
    db: DB,
    settings: SettingsDep,
    user: ApiUser,
    limiter: LimiterDep,
) -> Accepted:
    """Mail a link to a new address (the password confirms it); the old one stays until then."""
    await limiter.hit("signin", str(user.id))
    await count_mailed_link(request, limiter, body.new_email, sender=user)
    await recovery.request_email_change(
        db,
        user,
        new_email=body.new_email,
        password=body.password,
        mailer=mailer(settings),
        language=i18n.negotiate(request),
    )
    return Accepted(detail=CHANGE_SENT)
