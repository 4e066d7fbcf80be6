"""A person's verified phone number, used to find them in address books (contact discovery).

Numbers are read with ``phonenumbers`` (Google's libphonenumber): a number written with its
country code (``+39…``, ``0039…``, ``tel:+39…``) is read as such, a national one with the
person's region (``User.region``). A number that cannot be read, is too short or too long, or
is not in use in its country is refused with the reason; it is never guessed.

Verifying: a six-digit code is texted to the number; only an HMAC of it is kept
(``PhoneVerification``), for ten minutes and five tries. Once confirmed the number is the
person's (``User.phone``, E.164), and no one else can verify it while they keep it; someone who
tries is told it is taken, never by whom.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, ValidationResult
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from portal.domain.codes import CodeCheck
from portal.errors import N_, Conflict, InvalidInput
from portal.ratelimit import RateLimiter
from portal.sms import SmsSender
from portal.storage.models import PhoneVerification, User, utcnow

CODE_TTL = timedelta(minutes=10)
CODE_ATTEMPTS = 5
MAX_INPUT = 100
REGIONS = frozenset(region for region in phonenumbers.SUPPORTED_REGIONS if len(region) == 2)
"""Two-letter regions phonenumbers knows (``001``, the non-geographic entities, left out)."""

TAKEN = N_(
    "This number is already verified on another account. If it is yours, remove it there first."
)
NOT_A_NUMBER = N_("This is not a phone number.")
TOO_SHORT = N_("This number is too short.")
TOO_LONG = N_("This number is too long.")
NO_COUNTRY = N_("This number's country code does not exist.")


@dataclass(frozen=True)
class PhoneServices:
    """What verifying needs besides the database: a sender, and the key of the code digests."""

    sender: SmsSender
    secret: str


# -- reading numbers --------------------------------------------------------------------------


def check_region(text: str, *, field: str = "region") -> str:
    """A two-letter region as phonenumbers knows it (``IT``), or "" for none."""
    region = text.strip().upper()
    if region and region not in REGIONS:
        raise InvalidInput(
            "Choose your country as its two-letter code, like IT, FR or US.", field=field
        )
    return region


def region_of(phone: str | None) -> str | None:
    """The region of an E.164 number (``+39…`` → ``IT``), if it has one."""
    if not phone:
        return None
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(phone, None))
    except NumberParseException:
        return None
    return region if region in REGIONS else None


def _parse_error(error: NumberParseException, text: str, region: str | None) -> InvalidInput:
    kind = error.error_type
    if kind == NumberParseException.INVALID_COUNTRY_CODE:
        international = text.lstrip().startswith(("+", "00", "＋")) or region is not None
        if not international:
            return InvalidInput(
                "This number has no country code: write it with one (like +39 …), "
                "or choose your country."
            )
        return InvalidInput(NO_COUNTRY)
    if kind in (NumberParseException.TOO_SHORT_NSN, NumberParseException.TOO_SHORT_AFTER_IDD):
        return InvalidInput(TOO_SHORT)
    if kind == NumberParseException.TOO_LONG:
        return InvalidInput(TOO_LONG)
    return InvalidInput(NOT_A_NUMBER)


def _check(number: PhoneNumber) -> InvalidInput | None:
    """Why a parsed number cannot be anyone's, or None."""
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason == ValidationResult.TOO_SHORT:
        return InvalidInput(TOO_SHORT)
    if reason == ValidationResult.TOO_LONG:
        return InvalidInput(TOO_LONG)
    if reason == ValidationResult.IS_POSSIBLE_LOCAL_ONLY:
        return InvalidInput("This is a local number: add its area code.")
    if reason == ValidationResult.INVALID_COUNTRY_CODE:
        return InvalidInput(NO_COUNTRY)
    if reason == ValidationResult.INVALID_LENGTH:
        return InvalidInput("This number has the wrong number of digits for its country.")
    if not phonenumbers.is_valid_number(number):
        where = phonenumbers.region_code_for_number(number)
        if where in REGIONS:
            return InvalidInput("This is not a phone number in use in %(region)s.", region=where)
        return InvalidInput(
            "This is not a phone number in use with +%(code)d.", code=number.country_code
        )
    return None


def read(text: str, region: str | None) -> tuple[str | None, InvalidInput | None]:
    """``(E.164, None)`` for a number that is valid, else ``(None, why)``.

    ``why`` is the error the number is refused with (not raised): its message is shown in
    the reader's language. ``region`` reads national numbers (``0412 345 678`` in ``AU``);
    without it only numbers with their country code can be read. An extension (``x45``) is
    not part of the number.
    """
    if len(text) > MAX_INPUT:
        return None, InvalidInput("This is too long to be a phone number.")
    if not text.strip():
        return None, InvalidInput("This is empty, not a phone number.")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        return None, InvalidInput(NOT_A_NUMBER)
    try:
        number = phonenumbers.parse(text, region or None)
    except NumberParseException as error:
        return None, _parse_error(error, text, region or None)
    why = _check(number)
    if why:
        return None, why
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None


def parse(text: str, region: str | None, *, field: str = "phone") -> str:
    """The E.164 form of a number a person typed, or a clear error."""
    if not text.strip():
        raise InvalidInput("Enter your phone number.", field=field)
    phone, why = read(text, region)
    if phone is None:
        why = why or InvalidInput(NOT_A_NUMBER)
        why.field = field
        raise why
    return phone


def display(phone: str) -> str:
    """An E.164 number the way people write it internationally (``+39 347 123 4567``)."""
    try:
        number = phonenumbers.parse(phone, None)
    except NumberParseException:
        return phone
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


# -- verifying --------------------------------------------------------------------------------


def _digest(secret: str, user_id: int, phone: str, code: str) -> str:
    message = f"phone-code:{user_id}:{phone}:{code}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


async def pending(session: AsyncSession, user: User) -> PhoneVerification | None:
    """The number waiting for its code, unless the code has expired or run out of tries."""
    waiting = await session.get(PhoneVerification, user.id)
    if waiting is None or waiting.expires_at < utcnow() or waiting.attempts >= CODE_ATTEMPTS:
        return None
    return waiting


async def set_region(session: AsyncSession, user: User, text: str) -> str:
    """Save the region that national numbers are read with ("" for none)."""
    user.region = check_region(text)
    await session.flush()
    return user.region


async def start(
    session: AsyncSession,
    services: PhoneServices,
    limiter: RateLimiter,
    user: User,
    text: str,
) -> PhoneVerification:
    """Text a six-digit code to a number the person typed (read with their region)."""
    phone = parse(text, user.region or None)
    if user.phone == phone and user.phone_verified_at is not None:
        raise InvalidInput("This is already your verified number.", field="phone")
    # Counted before the number is checked against other accounts, so that asking whether a
    # number is on this portal is as limited as asking for codes.
    await limiter.hit("phone_code", str(user.id))
    await limiter.hit("phone_code_to", phone)
    taken = await session.scalar(select(User.id).where(User.phone == phone, User.id != user.id))
    if taken is not None:
        raise Conflict(TAKEN, field="phone")
    code = f"{secrets.randbelow(10**6):06d}"
    waiting = await session.get(PhoneVerification, user.id)
    if waiting is None:
        waiting = PhoneVerification(user_id=user.id)
        session.add(waiting)
    waiting.phone = phone
    waiting.code_hash = _digest(services.secret, user.id, phone, code)
    waiting.attempts = 0
    waiting.created_at = utcnow()
    waiting.expires_at = utcnow() + CODE_TTL
    await session.flush()
    minutes = int(CODE_TTL.total_seconds() // 60)
    await services.sender.send(
        phone,
        f"Your Portal code is {code}. It works for {minutes} minutes. "
        "If you did not ask for it, ignore this message.",
    )
    return waiting


async def confirm(
    session: AsyncSession, services: PhoneServices, user: User, code: str
) -> CodeCheck:
    """Check a code. A wrong one is counted (the caller must keep that write)."""
    waiting = await pending(session, user)
    if waiting is None:
        raise InvalidInput(
            "There is no code waiting for a number. Ask for a new code.", field="code"
        )
    typed = "".join(code.split())
    expected = waiting.code_hash
    right = (
        len(typed) == 6
        and typed.isascii()
        and typed.isdigit()
        and hmac.compare_digest(_digest(services.secret, user.id, waiting.phone, typed), expected)
    )
    if not right:
        waiting.attempts += 1
        left = max(0, CODE_ATTEMPTS - waiting.attempts)
        if not left:
            await session.delete(waiting)
        await session.flush()
        return CodeCheck(verified=False, left=left)
    phone = waiting.phone
    taken = await session.scalar(select(User.id).where(User.phone == phone, User.id != user.id))
    if taken is not None:
        raise Conflict(TAKEN, field="code")
    await session.delete(waiting)
    user.phone = phone
    user.phone_verified_at = utcnow()
    try:
        await session.flush()
    except IntegrityError as error:  # verified by someone else at this very moment
        raise Conflict(TAKEN, field="code") from error
    return CodeCheck(verified=True, left=0)


async def remove(session: AsyncSession, user: User) -> None:
    """Forget the person's phone number, and any code waiting for one."""
    waiting = await session.get(PhoneVerification, user.id)
    if waiting is not None:
        await session.delete(waiting)
    user.phone = None
    user.phone_verified_at = None
    await session.flush()
