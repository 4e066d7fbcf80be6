"""Pages to be found and to find people: my phone number, contact discovery by phone (pasted
numbers or a .vcf address book), and search by name or handle."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from babel import Locale
from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from starlette.responses import Response

from portal import csrf, i18n
from portal.deps import DB, LimiterDep, Phones, SettingsDep, calls_out, client_address
from portal.domain import address_book, discovery, phones, search
from portal.errors import PortalError
from portal.storage.models import User
from portal.web.deps import CurrentUser
from portal.web.forms import form_error, redirect
from portal.web.templating import render
from portal.web.toast import toast

router = APIRouter(dependencies=[Depends(csrf.verify)], include_in_schema=False)

Text = Annotated[str, Form()]


@cache
def _regions(language: str) -> list[tuple[str, str]]:
    """Every region phonenumbers knows, as (code, name in the page's language), by name."""
    names = Locale.parse(language).territories
    return sorted(
        ((code, names.get(code, code)) for code in phones.REGIONS), key=lambda item: item[1]
    )


def _region_context(request: Request, user: User) -> dict[str, Any]:
    return {
        "regions": _regions(i18n.negotiate(request)),
        "region": user.region or phones.region_of(user.phone) or "",
    }


# -- my phone ---------------------------------------------------------------------------------


async def _phone_context(request: Request, db: DB, user: User) -> dict[str, Any]:
    waiting = await phones.pending(db, user)
    return {
        **_region_context(request, user),
        "phone": phones.display(user.phone) if user.phone and user.phone_verified_at else None,
        "waiting": phones.display(waiting.phone) if waiting else None,
        "left": phones.CODE_ATTEMPTS - waiting.attempts if waiting else 0,
        "minutes": int(phones.CODE_TTL.total_seconds() // 60),
        "notice": "",
    }


async def _phone_page(
    request: Request,
    db: DB,
    user: User,
    *,
    error: PortalError | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context = await _phone_context(request, db, user)
    context.update(values=values or {})
    if error is not None:
        return form_error(request, "phone", error, context)
    return render(request, "phone", context, status_code=status_code)


@router.get("/me/phone")
async def phone_page(request: Request, db: DB, user: CurrentUser) -> Response:
    """My phone number, used only to be found by people who have it."""
    return await _phone_page(request, db, user)


@router.post("/me/phone", dependencies=[Depends(calls_out)])
async def start_phone(
    request: Request,
    db: DB,
    user: CurrentUser,
    services: Phones,
    limiter: LimiterDep,
    phone: Text = "",
) -> Response:
    """Text a code to a number."""
    try:
        await phones.start(db, services, limiter, user, phone)
    except PortalError as exc:
        return await _phone_page(request, db, user, error=exc, values={"phone": phone[:100]})
    toast(request, "A code is on its way to your phone.")
    return redirect(request, "/me/phone")


@router.post("/me/phone/confirm")
async def confirm_phone(
    request: Request, db: DB, user: CurrentUser, services: Phones, code: Text = ""
) -> Response:
    """Check the code the number received."""
    try:
        check = await phones.confirm(db, services, user, code)
    except PortalError as exc:
        return await _phone_page(request, db, user, error=exc)
    error = check.error
    if error is None:
        toast(request, "Your phone number is verified.")
        return redirect(request, "/me/phone")
    # Rendered, not raised: the wrong try was counted and that write must be kept.
    context = await _phone_context(request, db, user)
    return form_error(request, "phone", error, context, keep_writes=True)


@router.post("/me/phone/remove")
async def remove_phone(request: Request, db: DB, user: CurrentUser) -> Response:
    """Forget my phone number."""
    await phones.remove(db, user)
    toast(request, "Your phone number is removed.")
    return redirect(request, "/me/phone")


@router.post("/me/phone/region")
async def set_region(
    request: Request, db: DB, user: CurrentUser, limiter: LimiterDep, region: Text = ""
) -> Response:
    """Save the country that national numbers are read with."""
    try:
        await limiter.hit("profile", str(user.id))
        await phones.set_region(db, user, region)
    except PortalError as exc:
        return await _phone_page(request, db, user, error=exc)
    toast(request, "Your country is saved.")
    return redirect(request, "/me/phone")


# -- contact discovery ------------------------------------------------------------------------


@router.get("/me/discover")
async def discover_page(request: Request, user: CurrentUser) -> Response:
    """Find the people of my address book."""
    context = {**_region_context(request, user), "result": None}
    return render(request, "discover", context)


@router.post("/me/discover")
async def discover(
    request: Request,
    db: DB,
    user: CurrentUser,
    limiter: LimiterDep,
    settings: SettingsDep,
    numbers: Text = "",
    region: Text = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Look the pasted numbers, or the numbers of a .vcf file, up."""
    context: dict[str, Any] = {**_region_context(request, user), "result": None}
    context["values"] = {"numbers": numbers[:20_000], "region": region[:10]}
    try:
        inputs = discovery.numbers_from_text(numbers)
        vcard = None
        if file is not None and file.filename:
            vcard = await file.read(address_book.MAX_BYTES + 1)
        result = await discovery.discover(
            db, limiter, user, inputs, region=region or None, vcard=vcard
        )
    except PortalError as exc:
        return form_error(request, "discover", exc, context)
    context["result"] = result
    context["invalid"] = [(bad.input, i18n.error_text(request, bad.why)) for bad in result.invalid]
    return render(request, "discover", context)


# -- search -----------------------------------------------------------------------------------


@router.get("/search")
async def search_page(
    request: Request, db: DB, user: CurrentUser, limiter: LimiterDep, q: str = "", page: int = 1
) -> Response:
    """Find people by name or by the handle of one of their accounts."""
    context: dict[str, Any] = {"values": {"q": q[:100]}, "results": None}
    if not q:
        return render(request, "search", context)
    try:
        await limiter.hit("search", "user", str(user.id))
        await limiter.hit("search", "address", client_address(request))
        context["results"] = await search.search(db, user, q[:1000], page)
    except PortalError as exc:
        return form_error(request, "search", exc, context)
    return render(request, "search", context)
