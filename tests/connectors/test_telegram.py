"""Telegram: usernames and links, and the Login Widget's signature as Telegram documents it.

The expected hashes are computed here from the documented recipe
(https://core.telegram.org/widgets/login#checking-authorization), independently of the
connector: HMAC-SHA-256 of the sorted ``key=value`` lines, keyed with SHA-256 of the bot token.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.datastructures import QueryParams

import connectors
from connectors import base, telegram
from connectors.base import InvalidHandle, PermanentError
from connectors.telegram import InvalidLogin, Telegram, verify_login

BOT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
MAX_AGE = timedelta(minutes=15)


def signed(fields: dict[str, str], token: str = BOT_TOKEN) -> dict[str, str]:
    """``fields`` with the ``hash`` Telegram would add, made by the documented recipe."""
    check = "\n".join(f"{key}={fields[key]}" for key in sorted(fields))
    secret = hashlib.sha256(token.encode()).digest()
    return {**fields, "hash": hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()}


def login(**changes: str) -> dict[str, str]:
    fields = {
        "id": "424242424",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "username": "Ada_Lovelace",
        "photo_url": "https://t.me/i/userpic/320/ada_lovelace.jpg",
        "auth_date": str(int((NOW - timedelta(minutes=2)).timestamp())),
    }
    fields.update(changes)
    return signed({key: value for key, value in fields.items() if value})


# -- usernames -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ada_lovelace", "ada_lovelace"),
        ("@Ada_Lovelace", "ada_lovelace"),
        ("  @durov  ", "durov"),
        ("t.me/durov", "durov"),
        ("https://t.me/durov", "durov"),
        ("http://telegram.me/Durov/", "durov"),
        ("https://www.t.me/durov?start=1", "durov"),
        ("https://telegram.dog/durov", "durov"),
        ("https://t.me/s/durov", "durov"),
        ("https://t.me/durov/123", "durov"),
        ("https://durov.t.me", "durov"),
        ("durov.t.me", "durov"),
        ("tg://resolve?domain=durov", "durov"),
        ("TG://resolve?domain=Durov&start=x", "durov"),
        ("ａｄａ＿ｌｏｖｅ", "ada_love"),
        ("a1234", "a1234"),
        ("a" * 32, "a" * 32),
        ("a__b_c", "a__b_c"),
    ],
)
def test_usernames_are_normalised(raw: str, expected: str) -> None:
    assert Telegram.normalize_handle(raw) == expected
    assert Telegram.normalize_handle(expected) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "Enter"),
        ("@", "Enter a Telegram username"),
        ("abcd", "at least 5"),
        ("a" * 33, "at most 32"),
        ("1durov", "starts with a letter"),
        ("_durov", "starts with a letter"),
        ("durov_", "does not end with an underscore"),
        ("du-rov", "only letters"),
        ("du.rov", "only letters"),
        ("дуров", "only letters"),
        ("https://evil.example/durov", "not an address on"),
        ("https://t.me/+AbCdEfGh", "not a profile"),
        ("https://t.me/joinchat/AbCdEf", "not a profile"),
        ("https://t.me/addstickers/pack", "not a profile"),
        ("https://t.me/c/123/45", "not a profile"),
        ("https://t.me/durov/extra/path", "not a profile"),
        ("https://user@t.me/durov", "as t.me shows it"),
        ("https://t.me:8443/durov", "as t.me shows it"),
        ("tg://resolve?phone=123", "does not name"),
        ("tg://msg?domain=durov", "does not name"),
        ("tg://[", "cannot be read"),
        ("tg://resolve?domain=a&domain=durov", "does not name"),
        ("javascript:alert(1)//t.me/durov", "cannot be read"),
        ("x" * 10_000, "too long"),
    ],
)
def test_wrong_or_hostile_usernames_are_refused_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(InvalidHandle) as refused:
        Telegram.normalize_handle(raw)
    assert reason in refused.value.message


URL_CHARACTERS = st.text(alphabet=st.sampled_from("aZ09_.-@:/?=&#[]%+ \u00e9\uff41"), max_size=40)
PREFIXES = st.sampled_from(
    ["", "@", "https://", "t.me/", "tg://resolve?domain=", "https://t.me/", "x.t.me"]
)


@settings(max_examples=300)
@given(st.one_of(st.builds(str.__add__, PREFIXES, URL_CHARACTERS), st.text(max_size=60)))
def test_any_text_is_a_username_or_a_clear_refusal(raw: str) -> None:
    try:
        handle = Telegram.normalize_handle(raw)
    except InvalidHandle as refused:
        message = refused.message
        assert message.strip()
        return
    assert Telegram.normalize_handle(handle) == handle


def test_links_and_display() -> None:
    assert Telegram.profile_url("durov") == "https://t.me/durov"
    assert Telegram.deep_link("durov") == "tg://resolve?domain=durov"
    assert Telegram.display_handle("durov") == "@durov"
    assert connectors.get("telegram") is Telegram
    assert (Telegram.AUTH, Telegram.CAN_VERIFY) == ("widget", False)
    assert base.capabilities(Telegram) == ["publish", "delete", "edit"]


# -- the Login Widget ------------------------------------------------------------------------


def test_a_login_signed_by_the_bot_is_accepted() -> None:
    actor = verify_login(login(), BOT_TOKEN, max_age=MAX_AGE, now=NOW)
    assert actor.network == "telegram"
    assert actor.id == "424242424"
    assert actor.handle == "ada_lovelace"
    assert actor.display_name == "Ada Lovelace"
    assert actor.url == "https://t.me/ada_lovelace"
    assert actor.avatar_url == "https://t.me/i/userpic/320/ada_lovelace.jpg"


def test_the_portal_finds_the_check_on_the_connector() -> None:
    check = connectors.registry()["telegram"].verify_login  # type: ignore[attr-defined]
    assert check(login(), BOT_TOKEN, max_age=MAX_AGE, now=NOW).handle == "ada_lovelace"


def test_a_published_vector_matches() -> None:
    """The example of the telegram-login crate's documentation (docs.rs), an outside check."""
    data = {
        "id": "666666666",
        "username": "my_username",
        "first_name": "Some",
        "last_name": "Guy",
        "photo_url": "https://t.me/i/userpic/320/my_username.jpg",
        "auth_date": "1543194375",
        "hash": "a9cf12636fb07b54b4c95673d017a72364472c41a760b6850bcd5405da769f80",
    }
    token = "777777777:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    when = datetime.fromtimestamp(1543194375, UTC) + timedelta(minutes=1)
    assert verify_login(data, token, max_age=MAX_AGE, now=when).handle == "my_username"
    assert telegram.data_check_string(data).split("\n") == [
        "auth_date=1543194375",
        "first_name=Some",
        "id=666666666",
        "last_name=Guy",
        "photo_url=https://t.me/i/userpic/320/my_username.jpg",
        "username=my_username",
    ]


def test_only_the_fields_that_were_sent_are_signed() -> None:
    actor = verify_login(login(last_name="", photo_url=""), BOT_TOKEN, max_age=MAX_AGE, now=NOW)
    assert (actor.display_name, actor.avatar_url) == ("Ada", None)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("username", "someone_else"),
        ("id", "1"),
        ("first_name", "Eve"),
        ("auth_date", str(int(NOW.timestamp()))),
    ],
)
def test_a_changed_field_is_refused(field: str, value: str) -> None:
    data = {**login(), field: value}
    with pytest.raises(InvalidLogin, match="changed or forged"):
        verify_login(data, BOT_TOKEN, max_age=MAX_AGE, now=NOW)


def test_an_added_field_is_refused() -> None:
    with pytest.raises(InvalidLogin, match="changed or forged"):
        verify_login({**login(), "is_admin": "true"}, BOT_TOKEN, max_age=MAX_AGE, now=NOW)


def test_another_bots_signature_is_refused() -> None:
    data = login()
    with pytest.raises(InvalidLogin, match="not signed for this portal's bot"):
        verify_login(data, "987654321:AnotherBotsToken", max_age=MAX_AGE, now=NOW)


@pytest.mark.parametrize("forged", ["0" * 64, "A" * 64, "not-a-hash", ""])
def test_a_forged_hash_is_refused(forged: str) -> None:
    with pytest.raises(InvalidLogin):
        verify_login({**login(), "hash": forged}, BOT_TOKEN, max_age=MAX_AGE, now=NOW)


def test_a_stale_login_is_refused() -> None:
    data = login(auth_date=str(int((NOW - timedelta(minutes=16)).timestamp())))
    with pytest.raises(InvalidLogin) as refused:
        verify_login(data, BOT_TOKEN, max_age=MAX_AGE, now=NOW)
    assert "16 minutes old" in refused.value.message
    assert "good for 15 minutes" in refused.value.message


def test_a_login_from_the_future_is_refused() -> None:
    data = login(auth_date=str(int((NOW + timedelta(minutes=5)).timestamp())))
    with pytest.raises(InvalidLogin, match="in the future"):
        verify_login(data, BOT_TOKEN, max_age=MAX_AGE, now=NOW)
    slightly = login(auth_date=str(int((NOW + timedelta(seconds=30)).timestamp())))
    assert verify_login(slightly, BOT_TOKEN, max_age=MAX_AGE, now=NOW).id == "424242424"


def test_a_date_beyond_any_calendar_is_refused() -> None:
    data = login(auth_date="9" * 20)
    with pytest.raises(InvalidLogin, match="in the future"):
        verify_login(data, BOT_TOKEN, max_age=MAX_AGE, now=NOW)


@pytest.mark.parametrize("missing", ["hash", "auth_date", "id"])
def test_a_missing_field_is_named(missing: str) -> None:
    data = login()
    del data[missing]
    with pytest.raises(InvalidLogin) as refused:
        verify_login(data, BOT_TOKEN, max_age=MAX_AGE, now=NOW)
    assert f"missing {missing}" in refused.value.message


def test_an_account_without_username_cannot_be_linked() -> None:
    with pytest.raises(InvalidLogin, match="no username"):
        verify_login(login(username=""), BOT_TOKEN, max_age=MAX_AGE, now=NOW)


def test_a_signed_but_impossible_username_is_refused() -> None:
    with pytest.raises(InvalidLogin, match="username Portal cannot use"):
        verify_login(login(username="ab"), BOT_TOKEN, max_age=MAX_AGE, now=NOW)


def test_a_repeated_field_is_refused() -> None:
    data = login()
    query = "&".join(f"{key}={value}" for key, value in data.items()) + "&id=1"
    with pytest.raises(InvalidLogin, match="twice"):
        verify_login(QueryParams(query), BOT_TOKEN, max_age=MAX_AGE, now=NOW)


def test_the_query_of_the_widgets_redirect_is_accepted() -> None:
    query = "&".join(f"{key}={value}" for key, value in login().items())
    assert verify_login(QueryParams(query), BOT_TOKEN, max_age=MAX_AGE, now=NOW).id == "424242424"


NUMBER_KEY: dict[Any, str] = {7: "x"}


@pytest.mark.parametrize(
    "data",
    [
        {**login(), "id": 424242424},
        {**login(), **NUMBER_KEY},
        {**login(), "last_name": None},
        ["id", "hash"],
        "id=1&hash=2",
    ],
)
def test_fields_that_are_not_text_are_refused(data: Any) -> None:
    with pytest.raises(InvalidLogin):
        verify_login(data, BOT_TOKEN, max_age=MAX_AGE, now=NOW)


@pytest.mark.parametrize(
    "data",
    [
        {**login(), "first_name": "A" * 5000},
        {**login(), **{f"extra_{chr(97 + i)}": "x" for i in range(20)}},
        {**login(), "first_name": "Ada\nid=1"},
        {**login(), "Weird-Key": "x"},
    ],
)
def test_oversize_or_malformed_input_is_refused(data: dict[str, str]) -> None:
    with pytest.raises(InvalidLogin):
        verify_login(data, BOT_TOKEN, max_age=MAX_AGE, now=NOW)


def test_invalid_login_is_a_permanent_error() -> None:
    assert issubclass(InvalidLogin, PermanentError)


@pytest.mark.parametrize("token", ["", "   "])
def test_without_a_bot_token_nothing_is_accepted(token: str) -> None:
    data = signed({"id": "1", "auth_date": str(int(NOW.timestamp())), "username": "ada_l"}, token)
    with pytest.raises(ValueError, match="bot token"):
        verify_login(data, token, max_age=MAX_AGE, now=NOW)
