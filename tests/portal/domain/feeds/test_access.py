"""The private feed address and the Fever key: each opens one account, only while it is set."""

from __future__ import annotations

import hashlib

import pytest

from portal.domain.feeds import access
from portal.errors import InvalidInput
from tests.portal.domain.people import person


async def test_a_feed_address_opens_its_account_until_a_new_one_is_made(db) -> None:
    ada = await person(db, "Ada")
    first = await access.new_feed_token(db, ada)
    assert await access.user_for_feed_token(db, first) is ada
    assert ada.feed_token_hash == hashlib.sha256(first.encode()).hexdigest()
    second = await access.new_feed_token(db, ada)
    await db.flush()
    assert second != first
    assert await access.user_for_feed_token(db, first) is None
    assert await access.user_for_feed_token(db, second) is ada
    access.forget_feed_token(ada)
    await db.flush()
    assert await access.user_for_feed_token(db, second) is None


@pytest.mark.parametrize("secret", ["", "short", "x" * 500, "a' OR 1=1 --" * 4, "é" * 40])
async def test_anything_else_opens_nothing(db, secret: str) -> None:
    ada = await person(db, "Ada")
    await access.new_feed_token(db, ada)
    assert await access.user_for_feed_token(db, secret) is None
    assert await access.user_for_fever_key(db, secret) is None


async def test_a_fever_app_signs_in_with_the_number_and_its_own_password(db) -> None:
    ada = await person(db, "Ada")
    await access.set_fever_password(db, ada, "a long fever password")
    key = hashlib.md5(f"{ada.number}:a long fever password".encode()).hexdigest()  # noqa: S324
    assert await access.user_for_fever_key(db, key) is ada
    assert await access.user_for_fever_key(db, key.upper()) is ada
    wrong = hashlib.md5(f"{ada.email}:a long fever password".encode()).hexdigest()  # noqa: S324
    assert await access.user_for_fever_key(db, wrong) is None
    access.forget_fever_password(ada)
    await db.flush()
    assert await access.user_for_fever_key(db, key) is None


async def test_a_short_fever_password_is_refused_in_words(db) -> None:
    ada = await person(db, "Ada")
    with pytest.raises(InvalidInput) as refused:
        await access.set_fever_password(db, ada, "short")
    assert refused.value.field == "password"
    assert ada.fever_key_hash is None


async def test_a_fever_password_no_app_could_send_is_refused_in_words(db) -> None:
    ada = await person(db, "Ada")
    with pytest.raises(InvalidInput) as refused:
        await access.set_fever_password(db, ada, "a long password \ud800")
    assert refused.value.field == "password"
    assert ada.fever_key_hash is None
