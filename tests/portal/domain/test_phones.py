"""Reading phone numbers people type, and verifying one with a texted code."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.domain import phones
from portal.errors import Conflict, InvalidInput, RateLimited
from portal.ratelimit import RateLimiter
from portal.sms import ConsoleSender
from portal.storage.models import PhoneVerification, User, utcnow
from tests.portal.domain.people import examples, person, tricky_inputs

SECRET = "s" * 40


@pytest.fixture
def sender() -> ConsoleSender:
    return ConsoleSender()


@pytest.fixture
def services(sender: ConsoleSender) -> phones.PhoneServices:
    return phones.PhoneServices(sender=sender, secret=SECRET)


@pytest.fixture
async def limiter():
    limiter = RateLimiter("memory://")
    yield limiter
    await limiter.close()


def _code(sender: ConsoleSender, phone: str) -> str:
    sms = sender.last_to(phone)
    assert sms is not None, f"nothing sent to {phone}"
    match = re.search(r"\b(\d{6})\b", sms.text)
    assert match
    return match.group(1)


# -- reading ----------------------------------------------------------------------------------


@pytest.mark.parametrize("example", examples(), ids=lambda e: f"{e.region}-{e.type}")
def test_every_example_number_reads_with_its_region(example):
    assert phones.read(example.raw, example.region) == (example.e164, None)
    # Written internationally, it reads the same whatever the region.
    assert phones.read(example.e164, "") == (example.e164, None)


def test_national_numbers_need_a_region():
    phone, why = phones.read("0412 345 678", None)
    assert phone is None
    assert why is not None and "country code" in why.message


@pytest.mark.parametrize(
    "row", tricky_inputs(), ids=lambda r: f"{r['input']!r}/{r['default_region']}"
)
def test_tricky_inputs_are_read_or_refused_with_a_reason(row):
    phone, why = phones.read(row["input"], row["default_region"] or None)
    if row["is_valid"] == "True":
        assert (phone, why) == (row["expected_e164"], None)
    else:
        # Refused, never guessed: "12345"/US is not "+112345".
        assert phone is None
        assert why is not None and why.message.endswith(".")
        expected = {
            "NOT_A_NUMBER": "not a phone number",
            "INVALID_COUNTRY_CODE": "country code",
            "TOO_SHORT": "too short",
            "TOO_LONG": "too long",
            "IS_POSSIBLE_LOCAL_ONLY": "area code",
            "IS_POSSIBLE": "not a phone number in use",
        }[row["parse_error"] or row["possible_reason"]]
        if not row["input"]:
            expected = "empty"
        assert expected in why.message


def test_a_phone_number_is_not_a_list_of_control_characters():
    assert phones.read("+39 347\x00 123 4567", None)[0] is None
    phone, why = phones.read("+1" + "2" * 200, None)
    assert phone is None
    assert why is not None and why.message == "This is too long to be a phone number."


@pytest.mark.parametrize(
    ("typed", "expected"), [("it", "IT"), (" us ", "US"), ("", ""), ("gb", "GB")]
)
def test_regions_are_two_letter_codes(typed, expected):
    assert phones.check_region(typed) == expected


@pytest.mark.parametrize("typed", ["XX", "ITA", "001", "I", "UK", "\x00\x00"])
def test_unknown_regions_are_refused(typed):
    with pytest.raises(InvalidInput, match="two-letter code"):
        phones.check_region(typed)


def test_region_of_a_verified_number():
    assert phones.region_of("+393471234567") == "IT"
    assert phones.region_of("+12015550123") == "US"
    assert phones.region_of(None) is None


# -- verifying --------------------------------------------------------------------------------


async def test_a_texted_code_verifies_the_number(db, services, sender, limiter):
    ada = await person(db, "Ada", region="IT")
    waiting = await phones.start(db, services, limiter, ada, "347 123 4567")
    assert waiting.phone == "+393471234567"
    code = _code(sender, "+393471234567")
    assert code not in waiting.code_hash and len(waiting.code_hash) == 64
    check = await phones.confirm(db, services, ada, f" {code[:3]} {code[3:]} ")
    assert check.verified
    assert ada.phone == "+393471234567"
    assert ada.phone_verified_at is not None
    assert await db.get(PhoneVerification, ada.id) is None


async def test_a_national_number_without_a_region_is_refused(db, services, sender, limiter):
    ada = await person(db, "Ada")
    with pytest.raises(InvalidInput, match="country code") as info:
        await phones.start(db, services, limiter, ada, "347 123 4567")
    assert info.value.field == "phone"
    assert not sender.sent


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("", "Enter your phone number."),
        ("12345", "too short"),
        ("+1 123 456 7890", "not a phone number in use"),
        ("abc", "not a phone number"),
    ],
)
async def test_impossible_numbers_are_refused_with_the_reason(db, services, limiter, typed, words):
    ada = await person(db, "Ada", region="US")
    with pytest.raises(InvalidInput, match=words):
        await phones.start(db, services, limiter, ada, typed)
    assert await db.get(PhoneVerification, ada.id) is None


async def test_five_wrong_codes_end_the_attempt(db, services, sender, limiter):
    ada = await person(db, "Ada")
    await phones.start(db, services, limiter, ada, "+393471234567")
    code = _code(sender, "+393471234567")
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    lefts = [(await phones.confirm(db, services, ada, wrong)).left for _ in range(5)]
    assert lefts == [4, 3, 2, 1, 0]
    with pytest.raises(InvalidInput, match="no code waiting"):
        await phones.confirm(db, services, ada, code)  # the right one, too late
    assert ada.phone is None


async def test_an_expired_code_does_not_verify(db, services, sender, limiter):
    ada = await person(db, "Ada")
    waiting = await phones.start(db, services, limiter, ada, "+393471234567")
    waiting.expires_at = utcnow() - timedelta(seconds=1)
    with pytest.raises(InvalidInput, match="no code waiting"):
        await phones.confirm(db, services, ada, _code(sender, "+393471234567"))
    assert ada.phone is None


async def test_a_new_code_replaces_the_old_one(db, services, sender, limiter):
    ada = await person(db, "Ada")
    await phones.start(db, services, limiter, ada, "+393471234567")
    first = _code(sender, "+393471234567")
    await phones.start(db, services, limiter, ada, "+393471234567")
    second = _code(sender, "+393471234567")
    if first != second:
        assert not (await phones.confirm(db, services, ada, first)).verified
    assert (await phones.confirm(db, services, ada, second)).verified


async def test_a_number_verified_by_someone_else_is_refused_without_naming_them(
    db, services, sender, limiter
):
    await person(db, "Grace Hopper", phone="+393471234567")
    ada = await person(db, "Ada")
    with pytest.raises(Conflict) as info:
        await phones.start(db, services, limiter, ada, "+39 347 123 4567")
    assert "another account" in info.value.message
    assert "Grace" not in info.value.message
    assert not sender.sent


async def test_a_number_taken_while_the_code_waited_is_refused(db, services, sender, limiter):
    ada = await person(db, "Ada")
    await phones.start(db, services, limiter, ada, "+393471234567")
    await person(db, "Grace", phone="+393471234567")
    with pytest.raises(Conflict):
        await phones.confirm(db, services, ada, _code(sender, "+393471234567"))
    assert ada.phone is None


async def test_codes_are_rate_limited_per_account_and_per_number(db, services, limiter):
    ada = await person(db, "Ada")
    for _ in range(3):
        await phones.start(db, services, limiter, ada, "+393471234567")
    with pytest.raises(RateLimited):
        await phones.start(db, services, limiter, ada, "+393471234568")
    # Another account cannot have the same number flooded either.
    grace = await person(db, "Grace")
    with pytest.raises(RateLimited):
        await phones.start(db, services, limiter, grace, "+393471234567")


async def test_removing_the_phone_forgets_it(db, services, sender, limiter):
    ada = await person(db, "Ada", phone="+393471234567")
    await phones.start(db, services, limiter, ada, "+393471234568")
    await phones.remove(db, ada)
    assert (ada.phone, ada.phone_verified_at) == (None, None)
    assert await db.get(PhoneVerification, ada.id) is None
    # The number is free for someone else.
    grace = await person(db, "Grace")
    await phones.start(db, services, limiter, grace, "+393471234567")
    assert (await phones.confirm(db, services, grace, _code(sender, "+393471234567"))).verified
    stored = await db.scalar(select(User.id).where(User.phone == "+393471234567"))
    assert stored == grace.id


async def test_the_same_verified_number_again_is_refused(db, services, limiter):
    ada = await person(db, "Ada", phone="+393471234567")
    with pytest.raises(InvalidInput, match="already your verified number"):
        await phones.start(db, services, limiter, ada, "+39 347 123 4567")
