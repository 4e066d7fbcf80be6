"""My phone number, contact discovery by phone, and search by name or handle."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from portal import i18n
from portal.api.deps import ApiUser
from portal.api.problems import refusal
from portal.api.schemas import CardOut, errors
from portal.deps import DB, LimiterDep, Phones, calls_out, client_address
from portal.domain import discovery, phones, search
from portal.storage.models import User

router = APIRouter(prefix="/api/v1")


# -- bodies -----------------------------------------------------------------------------------


class PhoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: str = Field(
        max_length=phones.MAX_INPUT,
        examples=["+39 347 123 4567"],
        description="With its country code, or as written in my region.",
    )
    region: str | None = Field(
        default=None,
        max_length=10,
        examples=["IT"],
        description="Saved as my region first: the two-letter country that national numbers "
        "are read with.",
    )


class PhoneCodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(max_length=20, examples=["123456"])


class PhoneOut(BaseModel):
    phone: str | None = Field(description="My verified number, E.164.", examples=["+393471234567"])
    verified_at: datetime | None
    pending: str | None = Field(description="A number waiting for its code, E.164.")
    pending_expires_at: datetime | None
    tries_left: int = Field(description="Tries left for the code waiting, 0 when none waits.")
    region: str | None = Field(description="The region national numbers are read with.")


class DiscoveryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    numbers: list[str] = Field(
        max_length=discovery.MAX_NUMBERS,
        examples=[["+39 347 123 4567", "0412 345 678"]],
        description=f"Phone numbers as written in an address book, at most "
        f"{discovery.MAX_NUMBERS}; each one that cannot be read comes back in `invalid` with "
        "the reason. They are not stored.",
    )
    region: str | None = Field(
        default=None,
        max_length=10,
        examples=["AU"],
        description="The two-letter region that reads national numbers; by default my region, "
        "else the region of my verified phone.",
    )


class FoundOut(BaseModel):
    input: str = Field(description="The number as it was sent.")
    phone: str = Field(description="That number in E.164.")
    card: CardOut


class InvalidOut(BaseModel):
    input: str
    reason: str = Field(examples=["This number is too short."])


class DiscoveryOut(BaseModel):
    region: str | None = Field(description="The region national numbers were read with.")
    checked: int = Field(description="Different valid numbers looked for.")
    found: list[FoundOut]
    invalid: list[InvalidOut]


class SearchOut(BaseModel):
    query: str = Field(description="The query as it was matched (lowercase, without accents).")
    page: int
    has_more: bool
    results: list[CardOut]


# -- my phone ---------------------------------------------------------------------------------


async def _phone_out(db: DB, user: User) -> PhoneOut:
    waiting = await phones.pending(db, user)
    return PhoneOut(
        phone=user.phone if user.phone_verified_at else None,
        verified_at=user.phone_verified_at,
        pending=waiting.phone if waiting else None,
        pending_expires_at=waiting.expires_at if waiting else None,
        tries_left=phones.CODE_ATTEMPTS - waiting.attempts if waiting else 0,
        region=user.region or None,
    )


@router.get("/me/phone", response_model=PhoneOut, responses=errors(401, 403), tags=["phone"])
async def get_phone(db: DB, user: ApiUser) -> PhoneOut:
    """My verified phone number, and a number waiting for its code."""
    return await _phone_out(db, user)


@router.post(
    "/me/phone",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Depends(calls_out)],
    response_model=PhoneOut,
    responses=errors(401, 403, 409, 429, 502),
    tags=["phone"],
)
async def start_phone(
    body: PhoneIn, db: DB, user: ApiUser, services: Phones, limiter: LimiterDep
) -> PhoneOut:
    """Text a six-digit code to a number; it works for ten minutes and five tries."""
    if body.region is not None:
        await phones.set_region(db, user, body.region)
    await phones.start(db, services, limiter, user, body.phone)
    return await _phone_out(db, user)


@router.post(
    "/me/phone/confirm",
    response_model=PhoneOut,
    responses=errors(401, 403, 409),
    tags=["phone"],
)
async def confirm_phone(
    request: Request, body: PhoneCodeIn, db: DB, user: ApiUser, services: Phones
) -> PhoneOut | JSONResponse:
    """Verify the number with the code it received."""
    check = await phones.confirm(db, services, user, body.code)
    error = check.error
    if error is None:
        return await _phone_out(db, user)
    # Answered, not raised, so that the wrong try is committed and counts.
    return refusal(request, error)


@router.delete(
    "/me/phone",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403),
    tags=["phone"],
)
async def delete_phone(db: DB, user: ApiUser) -> Response:
    """Forget my phone number (and any code waiting)."""
    await phones.remove(db, user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- finding people ---------------------------------------------------------------------------


@router.post(
    "/discovery",
    response_model=DiscoveryOut,
    responses=errors(401, 403, 429),
    tags=["discovery"],
)
async def discover(
    request: Request, body: DiscoveryIn, db: DB, user: ApiUser, limiter: LimiterDep
) -> DiscoveryOut:
    """Who among these phone numbers can be found here; the numbers are not stored."""
    result = await discovery.discover(db, limiter, user, body.numbers, region=body.region)
    return DiscoveryOut(
        region=result.region,
        checked=result.checked,
        found=[
            FoundOut(input=found.input, phone=found.phone, card=CardOut.of(found.card))
            for found in result.found
        ],
        invalid=[
            InvalidOut(input=bad.input, reason=i18n.error_text(request, bad.why))
            for bad in result.invalid
        ],
    )


@router.get("/search", response_model=SearchOut, responses=errors(401, 403, 429), tags=["search"])
async def search_people(
    request: Request,
    db: DB,
    user: ApiUser,
    limiter: LimiterDep,
    q: str = Query(
        max_length=1000,
        description=f"Part of a name or of a handle, {search.MIN_QUERY} to "
        f"{search.MAX_QUERY} characters; case and accents do not matter.",
        json_schema_extra={"minLength": search.MIN_QUERY},
    ),
    page: int = Query(default=1, ge=1, le=search.MAX_PAGE),
) -> SearchOut:
    """People who can be found by name, by their name or the handle of an account."""
    await limiter.hit("search", "user", str(user.id))
    await limiter.hit("search", "address", client_address(request))
    found = await search.search(db, user, q, page)
    return SearchOut(
        query=found.query,
        page=found.page,
        has_more=found.has_more,
        results=[CardOut.of(card) for card in found.cards],
    )
