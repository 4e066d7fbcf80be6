"""My profile, my language, my password, my API tokens, deleting my account."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from starlette.responses import Response

from portal import csrf
from portal.deps import DB, SESSION_COOKIE, ImagesDep, LimiterDep, SettingsDep, save_avatar
from portal.domain import account, linking, profile, reach
from portal.errors import InvalidInput, PortalError
from portal.web.deps import CurrentUser
from portal.web.forms import clear_session_cookie, form_error, redirect
from portal.web.guide import AFTER_PRIVACY
from portal.web.language import remember_language
from portal.web.offline import KEPT_OFFLINE
from portal.web.templating import render
from portal.web.toast import toast

router = APIRouter(prefix="/me", dependencies=[Depends(csrf.verify)], include_in_schema=False)

Text = Annotated[str, Form()]
MaybeText = Annotated[str | None, Form()]
Ids = Annotated[list[str], Form()]


@router.get("")
async def me_page(request: Request, user: CurrentUser) -> Response:
    """My number and my profile."""
    saved = request.query_params.get("language") == "saved"
    context: dict[str, object] = {"values": {}, "language_saved": saved}
    return render(request, "me", context, headers={"cache-control": KEPT_OFFLINE})


@router.post("/profile")
async def update_profile(
    request: Request,
    db: DB,
    user: CurrentUser,
    limiter: LimiterDep,
    display_name: Text = "",
    bio: Text = "",
) -> Response:
    """Save the display name and the bio."""
    values = {"display_name": display_name[:100], "bio": bio[:1000]}
    try:
        await limiter.hit("profile", str(user.id))
        await profile.update_profile(db, user, display_name=display_name, bio=bio)
    except PortalError as exc:
        return form_error(request, "me", exc, {"values": values}, fragment="profile_form")
    toast(request, "Your profile is saved.")
    return render(request, "me", {"values": {}}, fragment="profile_form")


@router.post("/privacy")
async def update_privacy(
    request: Request,
    db: DB,
    user: CurrentUser,
    limiter: LimiterDep,
    name_audience: MaybeText = None,
    avatar_audience: MaybeText = None,
    bio_audience: MaybeText = None,
    phone_audience: MaybeText = None,
    find_by_number: Text = "",
    find_by_phone: Text = "",
    find_by_name: Text = "",
    next: Text = "",
) -> Response:
    """Save who sees each field and how I can be found (an unticked box is not sent)."""
    # Saved from the guided start, the form goes on to its next step; nowhere else.
    then = AFTER_PRIVACY if next == AFTER_PRIVACY else ""
    # A field the form does not send keeps its audience: nothing widens by being left out.
    sent = {
        "name": name_audience,
        "avatar": avatar_audience,
        "bio": bio_audience,
        "phone": phone_audience,
    }
    audiences = {field: value[:20] for field, value in sent.items() if value}
    values = {f"{field}_audience": value for field, value in audiences.items()}
    find_by = {"number": bool(find_by_number), "phone": bool(find_by_phone)}
    find_by["name"] = bool(find_by_name)
    try:
        await limiter.hit("profile", str(user.id))
        await profile.set_privacy(db, user, audiences=audiences, find_by=find_by)
    except PortalError as exc:
        if then:
            context = {"values": values, "step": 2, "privacy_then": then}
            return form_error(request, "guide", exc, context, fragment="privacy_form")
        return form_error(request, "me", exc, {"values": values}, fragment="privacy_form")
    toast(request, "Who sees what is saved.")
    if then:
        return redirect(request, then)
    return render(request, "me", {"values": {}}, fragment="privacy_form")


@router.post("/language")
async def update_language(
    request: Request, db: DB, user: CurrentUser, limiter: LimiterDep, language: Text = ""
) -> Response:
    """Save the language of my pages, emails and notifications; empty follows my browser."""
    try:
        await limiter.hit("profile", str(user.id))
        await profile.set_language(db, user, language[:10])
    except PortalError as exc:
        return form_error(request, "me", exc, {"values": {"language": language[:10]}})
    response = redirect(request, "/me?language=saved")
    remember_language(request, response, user.language)
    return response


@router.post("/avatar")
async def upload_avatar(
    request: Request,
    db: DB,
    user: CurrentUser,
    settings: SettingsDep,
    limiter: LimiterDep,
    workers: ImagesDep,
    avatar: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Replace my picture."""
    try:
        await limiter.hit("profile", str(user.id))
        await save_avatar(db, user, avatar, settings, workers)
    except PortalError as exc:
        return form_error(request, "me", exc, {"values": {}}, fragment="avatar_form")
    toast(request, "Your picture is changed.")
    return redirect(request, "/me")


@router.post("/avatar/delete")
async def delete_avatar(request: Request, db: DB, user: CurrentUser) -> Response:
    """Remove my picture."""
    await profile.remove_avatar(db, user)
    toast(request, "Your picture is removed.")
    return redirect(request, "/me")


@router.get("/password")
async def password_page(request: Request, user: CurrentUser) -> Response:
    """The change-password form."""
    return render(request, "password", {"keep_tokens": False})


@router.post("/password")
async def change_password(
    request: Request,
    db: DB,
    user: CurrentUser,
    limiter: LimiterDep,
    current_password: Text = "",
    new_password: Text = "",
    keep_tokens: Text = "",
) -> Response:
    """Set a new password; other browsers are signed out, and the API tokens too unless kept."""
    # Only a ticked box keeps the tokens: a form that lost the field revokes them.
    revoke = not keep_tokens
    try:
        await limiter.hit("signin", str(user.id))
        await account.change_password(
            db,
            user,
            current=current_password,
            new=new_password,
            keep_session=request.cookies.get(SESSION_COOKIE),
            revoke_tokens=revoke,
        )
    except PortalError as exc:
        return form_error(request, "password", exc, {"keep_tokens": not revoke})
    toast(request, "Your password was changed. Your other browsers were signed out.")
    if revoke:
        toast(request, "Your API tokens were revoked.")
    else:
        toast(request, "Your API tokens still work.")
    return render(request, "password", {"keep_tokens": False})


@router.get("/delete")
async def delete_page(request: Request, user: CurrentUser) -> Response:
    """Confirm deleting the account."""
    return render(request, "delete", {})


@router.post("/delete")
async def delete_account(
    request: Request, db: DB, user: CurrentUser, limiter: LimiterDep, password: Text = ""
) -> Response:
    """Delete the account for good; its number is retired."""
    try:
        await limiter.hit("signin", str(user.id))
        await account.delete_account(db, user, password=password)
    except PortalError as exc:
        return form_error(request, "delete", exc)
    csrf.rotate(request)
    response = redirect(request, "/?deleted=1")
    clear_session_cookie(request, response)
    return response


@router.get("/reach")
async def reach_page(request: Request, db: DB, user: CurrentUser) -> Response:
    """Who may message me through Portal, and my messengers in the order I want."""
    return render(request, "reach", {"channels": _shown(await reach.channels_of(db, user))})


@router.post("/reach")
async def update_reach(
    request: Request,
    db: DB,
    user: CurrentUser,
    limiter: LimiterDep,
    messages_from: Text = "",
    order: Ids = [],  # noqa: B006 (FastAPI copies the default)
    on: Ids = [],  # noqa: B006
    up: Text = "",
    down: Text = "",
) -> Response:
    """Save who may message me and my messengers: those ticked, in the order shown, one of
    them moved a place up or down when its button was pressed (a form without script)."""
    shown = [_id(value) for value in order[: reach.MAX_CHANNELS]]
    chosen = {_id(value) for value in on[: reach.MAX_CHANNELS]}
    for moved, step in ((_id(up), -1), (_id(down), 1)):
        if moved in shown:
            at = shown.index(moved)
            to = min(max(at + step, 0), len(shown) - 1)
            shown[at], shown[to] = shown[to], shown[at]
    try:
        await limiter.hit("profile", str(user.id))
        channels = await reach.set_reach(
            db,
            user,
            messages_from=messages_from or None,
            channels=[account_id for account_id in shown if account_id in chosen],
        )
    except PortalError as exc:
        context = {"channels": _shown(await reach.channels_of(db, user))}
        return form_error(request, "reach", exc, context, fragment="reach_form")
    toast(request, "How people reach you is saved.")
    return render(request, "reach", {"channels": _shown(channels)}, fragment="reach_form")


def _shown(channels: list[reach.Channel]) -> list[tuple[reach.Channel, dict[str, str | None]]]:
    """Each channel with its network's name and its handle as people write it."""
    return [
        (channel, linking.describe_handle(channel.account.network, channel.account.handle))
        for channel in channels
    ]


def _id(value: str) -> int:
    """An account id from a form; 0 (no account) for anything else."""
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 12 else 0


@router.get("/tokens")
async def tokens_page(request: Request, db: DB, user: CurrentUser) -> Response:
    """My personal access tokens."""
    tokens = await account.list_tokens(db, user)
    return render(request, "tokens", {"tokens": tokens, "values": {}})


@router.post("/tokens")
async def create_token(
    request: Request,
    db: DB,
    user: CurrentUser,
    limiter: LimiterDep,
    name: Text = "",
    expires_in_days: Text = "",
) -> Response:
    """Create a token and show it once."""
    try:
        await limiter.hit("token", str(user.id))
        days = _optional_days(expires_in_days)
        new = await account.create_token(db, user, name=name, expires_in_days=days)
    except PortalError as exc:
        tokens = await account.list_tokens(db, user)
        context: dict[str, object] = {"tokens": tokens, "values": {"name": name[:100]}}
        return form_error(request, "tokens", exc, context, fragment="tokens")
    tokens = await account.list_tokens(db, user)
    toast(request, "The token is made.")
    shown: dict[str, object] = {"tokens": tokens, "new_token": new, "values": {}}
    return render(request, "tokens", shown, fragment="tokens")


@router.post("/tokens/{token_id}/revoke")
async def revoke_token(request: Request, db: DB, user: CurrentUser, token_id: int) -> Response:
    """Revoke a token at once."""
    await account.revoke_token(db, user, token_id)
    toast(request, "The token is revoked: programs using it no longer work.")
    tokens = await account.list_tokens(db, user)
    return render(request, "tokens", {"tokens": tokens, "values": {}}, fragment="tokens")


def _optional_days(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 5:
        raise InvalidInput("Enter a number of days, or leave it empty.", field="expires_in_days")
    return int(text)
