"""Contact discovery: which of the phone numbers in my address book belong to people here.

The numbers are read with the uploader's region (given for this upload, else the region they
chose, else the region of their own verified phone); a number that cannot be read is reported
back with the reason, never guessed. The answer lists only people the uploader may find by phone
(``privacy.found_by_sql``: they allow it and verified the number; never the uploader, never
someone who blocked them), as the uploader may see them (``privacy.cards_for``).

The list is used for one answer and dropped: it is not stored, and never logged.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.domain import address_book, phones, privacy
from portal.domain.privacy import Card
from portal.errors import InvalidInput
from portal.ratelimit import RateLimiter
from portal.storage.models import User

MAX_NUMBERS = 1000
"""Numbers in one upload."""
MAX_TEXT = 200_000
"""Characters of pasted numbers."""


@dataclass(frozen=True)
class Invalid:
    input: str
    why: InvalidInput
    """Why it is not a number, shown in the reader's language."""

    @property
    def reason(self) -> str:
        """``why`` in English."""
        return self.why.message


@dataclass(frozen=True)
class Found:
    input: str
    """The first input that gave this number, as it was sent."""
    phone: str
    """That input in E.164."""
    card: Card


@dataclass(frozen=True)
class Discovery:
    region: str | None
    """The region national numbers were read with."""
    checked: int
    """Different valid numbers looked for."""
    found: list[Found]
    invalid: list[Invalid]


def upload_region(user: User, explicit: str | None = None) -> str | None:
    """The region that reads the national numbers of an upload."""
    if explicit and explicit.strip():
        return phones.check_region(explicit)
    return user.region or phones.region_of(user.phone) or None


def _check_count(count: int) -> None:
    if count > MAX_NUMBERS:
        raise InvalidInput(
            "Send at most %(max)d numbers at a time; this list has %(count)d.",
            field="numbers",
            max=MAX_NUMBERS,
            count=count,
        )
    if count == 0:
        raise InvalidInput("Give at least one phone number.", field="numbers")


def read_numbers(inputs: Sequence[str], region: str | None) -> tuple[dict[str, str], list[Invalid]]:
    """``({E.164: first input}, invalid inputs)``, in the order given."""
    valid: dict[str, str] = {}
    invalid: list[Invalid] = []
    for text in inputs:
        phone, why = phones.read(text, region)
        if phone is None:
            invalid.append(Invalid(text, why or InvalidInput(phones.NOT_A_NUMBER)))
        else:
            valid.setdefault(phone, text)
    return valid, invalid


async def discover(
    session: AsyncSession,
    limiter: RateLimiter,
    user: User,
    inputs: Sequence[str],
    *,
    region: str | None = None,
    vcard: bytes | None = None,
) -> Discovery:
    """Who among ``inputs``, and the numbers of the address book ``vcard`` (a .vcf file), may
    be found by ``user``, and which inputs are not numbers.

    The address book is read once the upload is counted, and away from the event loop: up to
    :data:`address_book.MAX_BYTES` of untrusted text to parse."""
    await limiter.hit("discovery", str(user.id))
    if vcard is not None:
        inputs = [*inputs, *await asyncio.to_thread(address_book.numbers_from_vcard, vcard)]
    _check_count(len(inputs))
    used = upload_region(user, region)
    valid, invalid = read_numbers(inputs, used)
    if valid:
        await limiter.hit("discovery_numbers", str(user.id), cost=len(valid))
    owners: list[User] = []
    if valid:
        stmt = (
            select(User)
            .where(User.phone.in_(list(valid)), privacy.found_by_sql("phone", user))
            .order_by(User.id)
        )
        owners = list((await session.scalars(stmt)).all())
    cards = await privacy.cards_for(session, user, owners)
    by_phone = {owner.phone: card for owner, card in zip(owners, cards, strict=True)}
    found = [
        Found(text, phone, by_phone[phone]) for phone, text in valid.items() if phone in by_phone
    ]
    return Discovery(region=used, checked=len(valid), found=found, invalid=invalid)


# -- what people upload -----------------------------------------------------------------------

_SEPARATORS = re.compile(r"[\r\n,;]+")


def numbers_from_text(text: str) -> list[str]:
    """Pasted numbers: one a line, or separated by commas or semicolons."""
    if len(text) > MAX_TEXT:
        raise InvalidInput("This list is too long. Paste fewer numbers.", field="numbers")
    return [part.strip() for part in _SEPARATORS.split(text) if part.strip()]
