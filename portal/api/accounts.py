"""Sign-up, personal access tokens, my profile."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Request, Response, UploadFile, status

from portal import i18n
from portal.api.deps import ApiUser
from portal.api.schemas import (
    Accepted,
    MeOut,
    NewTokenOut,
    PasswordChange,
    PasswordConfirm,
    PrivacyOut,
    PrivacyPatch,
    ProfilePatch,
    ReachOut,
    ReachPut,
    SignupIn,
    TokenIn,
    TokenOut,
    errors,
)
from portal.deps import (
    DB,
    ImagesDep,
    LimiterDep,
    SettingsDep,
    client_address,
    count_mailed_link,
    mailer,
    save_avatar,
)
from portal.domain import account, privacy, profile, reach, recovery, signin
from portal.domain.profile import ACCEPTED_TYPES

router = APIRouter(prefix="/api/v1")

SIGNUP_SENT = (
    "Check your email: we sent a link that confirms the address and shows your portal number. "
    "If the address already has an account, its owner was told instead."
)


@router.post(
    "/signup",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=errors(429),
    tags=["accounts"],
)
async def signup(
    body: SignupIn, request: Request, db: DB, settings: SettingsDep, limiter: LimiterDep
) -> Accepted:
    """Create an account and mail a link to confirm it; confirming shows the number."""
    await limiter.hit("signup", client_address(request))
    await count_mailed_link(request, limiter, body.email)
    await recovery.sign_up(
        db,
        email=body.email,
        password=body.password,
        display_name=body.display_name,
        policy=settings.number_policy,
        mailer=mailer(settings),
        language=i18n.negotiate(request),
    )
    return Accepted(detail=SIGNUP_SENT)


@router.post(
    "/tokens",
    status_code=status.HTTP_201_CREATED,
    response_model=NewTokenOut,
    responses=errors(401, 429),
    tags=["tokens"],
)
async def create_token(
    body: TokenIn, request: Request, db: DB, settings: SettingsDep, limiter: LimiterDep
) -> NewTokenOut:
    """Trade an email and password for a personal access token, shown only this once."""
    user = await signin.sign_in(
        db,
        email=body.email,
        password=body.password,
        address=client_address(request),
        limiter=limiter,
        mailer=mailer(settings),
    )
    await limiter.hit("token", str(user.id))
    new = await account.create_token(db, user, name=body.name, expires_in_days=body.expires_in_days)
    return NewTokenOut(**TokenOut.of(new.token).model_dump(), token=new.secret)


@router.get("/tokens", response_model=list[TokenOut], responses=errors(401, 403), tags=["tokens"])
async def list_tokens(db: DB, user: ApiUser) -> list[TokenOut]:
    """My personal access tokens (their secrets are never shown again)."""
    return [TokenOut.of(token) for token in await account.list_tokens(db, user)]


@router.delete(
    "/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403, 404),
    tags=["tokens"],
)
async def revoke_token(token_id: int, db: DB, user: ApiUser) -> Response:
    """Revoke one of my tokens at once."""
    await account.revoke_token(db, user, token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=MeOut, responses=errors(401, 403), tags=["accounts"])
async def me(user: ApiUser) -> MeOut:
    """My account and profile."""
    return MeOut.of(user)


@router.patch("/me", response_model=MeOut, responses=errors(401, 403, 429), tags=["accounts"])
async def update_me(body: ProfilePatch, db: DB, user: ApiUser, limiter: LimiterDep) -> MeOut:
    """Change my display name, bio or language; fields left out stay as they are."""
    await limiter.hit("profile", str(user.id))
    await profile.update_profile(db, user, display_name=body.display_name, bio=body.bio)
    if "language" in body.model_fields_set:
        await profile.set_language(db, user, body.language)
    return MeOut.of(user)


@router.patch(
    "/me/privacy", response_model=PrivacyOut, responses=errors(401, 403, 429), tags=["accounts"]
)
async def update_privacy(
    body: PrivacyPatch, db: DB, user: ApiUser, limiter: LimiterDep
) -> PrivacyOut:
    """Choose who sees each field of my profile (public, members, contacts, private) and by
    which ways I can be found (number, phone, name); fields left out stay as they are."""
    await limiter.hit("profile", str(user.id))
    audiences = {
        name: value
        for name in ("name", "avatar", "bio", "phone")
        if (value := getattr(body, f"{name}_audience")) is not None
    }
    find_by = {
        way: value
        for way in privacy.FIND_WAYS
        if (value := getattr(body, f"find_by_{way}")) is not None
    }
    await profile.set_privacy(db, user, audiences=audiences, find_by=find_by)
    return PrivacyOut.of(user)


@router.get("/me/reach", response_model=ReachOut, responses=errors(401, 403), tags=["accounts"])
async def get_reach(db: DB, user: ApiUser) -> ReachOut:
    """Who may message me through Portal, and my messengers in the order I want to be
    messaged on."""
    return ReachOut.of(user, await reach.channels_of(db, user))


@router.put(
    "/me/reach", response_model=ReachOut, responses=errors(401, 403, 422, 429), tags=["accounts"]
)
async def put_reach(body: ReachPut, db: DB, user: ApiUser, limiter: LimiterDep) -> ReachOut:
    """Choose who may message me (contacts, members, nobody) and the messengers to be
    messaged on, first first; my messengers left out of ``channels`` are off, and fields
    left out stay as they are."""
    await limiter.hit("profile", str(user.id))
    channels = await reach.set_reach(
        db, user, messages_from=body.messages_from, channels=body.channels
    )
    return ReachOut.of(user, channels)


@router.delete(
    "/me",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403, 429),
    tags=["accounts"],
)
async def delete_me(body: PasswordConfirm, db: DB, user: ApiUser, limiter: LimiterDep) -> Response:
    """Delete my account for good (the password confirms it); the number is never reused."""
    await limiter.hit("signin", str(user.id))
    await account.delete_account(db, user, password=body.password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403, 429),
    tags=["accounts"],
)
async def change_password(
    body: PasswordChange, db: DB, user: ApiUser, limiter: LimiterDep
) -> Response:
    """Set a new password; browsers are signed out, and API tokens too with revoke_tokens."""
    await limiter.hit("signin", str(user.id))
    await account.change_password(
        db,
        user,
        current=body.current_password,
        new=body.new_password,
        keep_session=None,
        revoke_tokens=body.revoke_tokens,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/me/avatar", response_model=MeOut, responses=errors(401, 403, 429, 503), tags=["accounts"]
)
async def put_avatar(
    file: Annotated[UploadFile, File(description=f"A picture: {ACCEPTED_TYPES}.")],
    db: DB,
    user: ApiUser,
    settings: SettingsDep,
    limiter: LimiterDep,
    workers: ImagesDep,
) -> MeOut:
    """Upload my picture; it is re-encoded as a square WebP image."""
    await limiter.hit("profile", str(user.id))
    await save_avatar(db, user, file, settings, workers)
    return MeOut.of(user)


@router.delete(
    "/me/avatar",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403),
    tags=["accounts"],
)
async def delete_avatar(db: DB, user: ApiUser) -> Response:
    """Remove my picture."""
    await profile.remove_avatar(db, user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
