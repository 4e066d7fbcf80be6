"""Bad input on every form and every endpoint: a clear 4xx, a message a person can read, and
not one row written or changed.

Each case is one request that must be refused. The account making it is signed in (a browser
session and an API token) and has a bio, an avatar and a token, so that a request that slipped
through would have something to change.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.config import Settings
from portal.csrf import CSRF_COOKIE
from portal.storage.models import ApiToken, Avatar, PortalNumber, User, WebSession
from tests.fixtures.app import SECRET_KEY, get_csrf, make_settings, web_sign_up

EMAIL = "ada@example.org"
PASSWORD = "correct horse battery"
MB = 1024 * 1024
HUGE = "x" * MB
HTML = {"accept": "text/html"}
TABLES = (User, PortalNumber, WebSession, ApiToken, Avatar)
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def _png(width: int, height: int, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height)).save(out, format="PNG")
    return out.getvalue()


@cache
def picture(kind: str) -> bytes:
    """Pictures made with Pillow, good and bad; ``kind`` keeps the case tables readable."""
    if kind == "png":
        return _png(64, 64)
    if kind == "truncated-png":
        data = _png(256, 256)
        return data[: len(data) // 2]
    if kind == "bomb":
        # A 1 × 1 PNG whose header claims 100,000 × 100,000 pixels: ten gigapixels to decode.
        data = _png(1, 1, "1")
        header = struct.pack(">II", 100_000, 100_000) + data[24:29]
        crc = struct.pack(">I", zlib.crc32(b"IHDR" + header))
        return data[:16] + header + crc + data[33:]
    if kind == "7000x7000":
        return _png(7000, 7000, "1")  # 49 million real pixels in a few kilobytes
    raise ValueError(kind)


# --- The signed-in account and what the database holds ------------------------------------


@pytest.fixture
def settings() -> Settings:
    return make_settings(avatar_size=64)  # small avatars encode quickly


@dataclass(frozen=True)
class Account:
    csrf: str
    token: str
    token_id: int
    number: str


@pytest.fixture
async def account(client: httpx.AsyncClient) -> Account:
    assert (await web_sign_up(client, email=EMAIL, password=PASSWORD)).status_code == 303
    csrf = await get_csrf(client, "/me")
    profile = {"csrf_token": csrf, "display_name": "Ada Lovelace", "bio": "Analyst."}
    assert (await client.post("/me/profile", data=profile, headers=HTML)).status_code == 200
    avatar = {"avatar": ("ada.png", picture("png"), "image/png")}
    response = await client.post("/me/avatar", data={"csrf_token": csrf}, files=avatar)
    assert response.status_code == 303
    body = {"email": EMAIL, "password": PASSWORD, "name": "laptop"}
    response = await client.post("/api/v1/tokens", json=body)
    assert response.status_code == 201, response.text
    token = response.json()
    # Used once, so that using it again does not record "last used" anew.
    me = await client.get("/api/v1/me", headers={"authorization": f"Bearer {token['token']}"})
    return Account(csrf, token["token"], token["id"], me.json()["number"])


Snapshot = dict[str, list[tuple[Any, ...]]]


async def snapshot(db: AsyncSession) -> Snapshot:
    """Every row of every table (pictures as their SHA-256), to compare before and after."""
    tables = {}
    for model in TABLES:
        rows = (await db.execute(select(model.__table__))).all()
        plain = (
            tuple(hashlib.sha256(v).hexdigest() if isinstance(v, bytes) else v for v in row)
            for row in rows
        )
        tables[model.__tablename__] = sorted(plain, key=repr)
    return tables


async def assert_nothing_written(db: AsyncSession, before: Snapshot) -> None:
    after = await snapshot(db)
    counts = {name: len(rows) for name, rows in after.items()}
    assert counts == {name: len(rows) for name, rows in before.items()}, "rows added or removed"
    assert after == before, "stored values changed"


# --- What is bad, wherever it is typed ----------------------------------------------------

# (label, value, status, words of the answer)
BAD_NAMES = [
    ("empty", "", 422, "Enter a name."),
    ("blank", "   ", 422, "Enter a name."),
    ("101-chars", "x" * 101, 422, "at most 100 characters"),
    ("1MB", HUGE, 413, "too large"),
    ("NUL", "Ada\x00", 422, "(U+0000)"),
    ("ANSI-escape", "\x1b[31mAda", 422, "(U+001B)"),
    ("RTL-override", "\u202eAda", 422, "(U+202E)"),
    ("zero-width-space", "Ada\u200b", 422, "(U+200B)"),
    ("line-break", "Ada\nLovelace", 422, "(U+000A)"),
    ("Cyrillic-a-in-Latin-word", "Pаul", 422, "mixes Cyrillic and Latin letters"),
    ("Greek-Rho-in-Latin-word", "Ρaul", 422, "mixes Greek and Latin letters"),
]
BAD_BIOS = [
    ("1001-chars", "x" * 1001, 422, "at most 1000 characters"),
    ("1MB", HUGE, 413, "too large"),
    ("NUL", "Hi\x00", 422, "(U+0000)"),
    ("ANSI-escape", "\x1b[31mHi", 422, "(U+001B)"),
    ("RTL-override", "Hi \u202eevil", 422, "(U+202E)"),
]
BAD_EMAILS = [
    ("empty", "", 422, "Enter an email address."),
    ("255-chars", "a" * 243 + "@example.org", 422, "at most 254 characters"),
    ("1MB", HUGE, 413, "too large"),
    ("no-at-sign", "grace.example.org", 422, "not valid"),
    ("NUL", "grace\x00@example.org", 422, "not valid"),
    ("ANSI-escape", "\x1b[31mgrace@example.org", 422, "not valid"),
    ("RTL-override", "grace\u202e@example.org", 422, "not valid"),
]
# A taken address is no error: sign-up answers as for a new one (tests/portal/*/test_recovery_*).
# New passwords, for a new account grace@example.org or for EMAIL's account.
BAD_PASSWORDS = [
    ("empty", "", 422, "at least 10 characters"),
    ("9-chars", "x" * 9, 422, "at least 10 characters"),
    ("1025-chars", "x" * 1025, 422, "at most 1024 characters"),
    ("1MB", HUGE, 413, "too large"),
    ("NUL", "correct horse\x00battery", 422, "NUL"),
    ("the-email", "{email}", 422, "cannot be your email"),
]
WRONG_TYPES = [
    ("number", 42),
    ("boolean", True),
    ("null", None),
    ("list", ["Ada"]),
    ("object", {"first": "Ada"}),
]
MALFORMED_JSON = [
    ("truncated", b'{"display_name": ', 422, "not valid JSON"),
    ("single-quotes", b"{'display_name': 'Ada'}", 422, "not valid JSON"),
    ("trailing-comma", b'{"display_name": "Ada",}', 422, "not valid JSON"),
    ("not-UTF-8", b'{"display_name": "\xff\xfe"}', 400, "not valid JSON"),
    ("nested-50000-deep", b"[" * 50_000, 400, "not valid JSON"),
    ("5000-digit-number", b'{"display_name": ' + b"9" * 5000 + b"}", 400, "not valid JSON"),
    ("empty", b"", 422, "JSON object"),
    ("array", b"[]", 422, "JSON object"),
    ("string", b'"Ada"', 422, "JSON object"),
    ("null", b"null", 422, "JSON object"),
    ("1MB", b'{"display_name": "' + HUGE.encode() + b'"}', 413, "too large"),
]
JSON_AS = [
    ("form-urlencoded", {"data": {"display_name": "Grace"}}),
    (
        "text-plain",
        {"content": b'{"display_name": "Grace"}', "headers": {"content-type": "text/plain"}},
    ),
    ("xml", {"content": b"<name>Grace</name>", "headers": {"content-type": "application/xml"}}),
    ("multipart", {"files": {"display_name": ("x", b"Grace", "text/plain")}}),
]
UNREADABLE = "not a picture we can read"
# (label, (file name, content or a picture() kind, content type), status, words)
BAD_PICTURES = [
    ("text-file", ("notes.txt", b"Dear diary", "text/plain"), 422, UNREADABLE),
    (
        "HTML-named-png",
        ("ada.png", b"<html><script></script></html>", "image/png"),
        422,
        UNREADABLE,
    ),
    ("SVG", ("ada.svg", SVG, "image/svg+xml"), 422, UNREADABLE),
    ("empty-file", ("ada.png", b"", "image/png"), 422, "Choose a picture"),
    ("truncated-PNG", ("ada.png", "truncated-png", "image/png"), 422, "damaged or cut short"),
    ("decompression-bomb", ("ada.png", "bomb", "image/png"), 422, "too many pixels"),
    ("7000x7000", ("ada.png", "7000x7000", "image/png"), 422, "too many pixels"),
    ("1MB-of-junk", ("ada.png", b"\x89PNG" + b"x" * MB, "image/png"), 422, UNREADABLE),
    ("6MB", ("ada.png", b"x" * 6 * MB, "image/png"), 413, "too large"),
]
BAD_NUMBERS = [
    ("letters", "abc", 422, "only digits"),
    ("3-digits", "123", 422, "4 to 15 digits"),
    ("leading-zero", "0123", 422, "never starts with 0"),
    ("typo", "{typo}", 422, "typo"),
    ("unknown", "12340", 404, "No one has this portal number, or its owner does not show it."),
]

# A number's QR codes and vCard (portal.web.share), and options they refuse.
SHARED_FILES = ["qr.svg", "qr.png", "vcard"]
BAD_SHARING_OPTIONS = [
    ("qr.svg", "scale=0", {"scale": "0"}, "scale is between 1 and 20"),
    ("qr.png", "scale=10000", {"scale": "10000"}, "scale is between 1 and 20"),
    ("qr.png", "border=-1", {"border": "-1"}, "border is between 0 and 10"),
    ("qr.svg", "dark=red", {"dark": "red"}, "dark colour as a hex code"),
    ("qr.svg", "light=script", {"light": "<script>"}, "light colour as a hex code"),
    ("qr.png", "same-colours", {"dark": "fff", "light": "ffffff"}, "the same"),
    ("vcard", "version=2.1", {"version": "2.1"}, "4.0, or 3.0 for older address books"),
]


@dataclass(frozen=True)
class Bad:
    """One request that must be refused with ``status`` and a message containing ``words``."""

    method: str
    path: str
    label: str
    status: int
    words: str
    request: dict[str, Any] = field(default_factory=dict)
    # How the request proves who sent it. "" is the usual way: the API token for the API,
    # the form's CSRF token for a form. Otherwise "cookie" (API), or a CSRF mistake (forms).
    auth: str = ""

    @property
    def id(self) -> str:
        return f"{self.method} {self.path} {self.label}"


Add = Callable[..., None]


def _table(build: Callable[[Callable[[str, str], Add]], None]) -> list[Any]:
    """Run ``build`` with ``on(method, path)``, which makes an ``add(label, status, words)``."""
    cases: list[Bad] = []

    def on(method: str, path: str) -> Add:
        def add(label: str, status: int, words: str, auth: str = "", **request: Any) -> None:
            cases.append(Bad(method, path, label, status, words, request, auth))

        return add

    build(on)
    return [pytest.param(case, id=case.id) for case in cases]


# --- The JSON API ------------------------------------------------------------------------

SIGNUP = {"email": "grace@example.org", "password": PASSWORD, "display_name": "Grace Hopper"}
TOKEN = {"email": EMAIL, "password": PASSWORD, "name": "phone"}
NEW_PASSWORD = {"current_password": PASSWORD, "new_password": "a new password"}


def _api(on: Callable[[str, str], Add]) -> None:
    signup, token = on("POST", "/api/v1/signup"), on("POST", "/api/v1/tokens")
    me, delete_me = on("PATCH", "/api/v1/me"), on("DELETE", "/api/v1/me")
    password, avatar = on("POST", "/api/v1/me/password"), on("PUT", "/api/v1/me/avatar")

    for label, value, status, words in BAD_NAMES:
        signup(f"display_name={label}", status, words, json={**SIGNUP, "display_name": value})
        me(f"display_name={label}", status, words, json={"display_name": value})
        token(f"name={label}", status, words, json={**TOKEN, "name": value})
    for label, value, status, words in BAD_BIOS:
        me(f"bio={label}", status, words, json={"bio": value})
    for label, value in [("german", "de"), ("region", "it-IT"), ("empty", ""), ("number", 1)]:
        me(f"language={label}", 422, "language: Input should be", json={"language": value})
    for label, value, status, words in BAD_EMAILS:
        signup(f"email={label}", status, words, json={**SIGNUP, "email": value})
    for label, value, status, words in BAD_PASSWORDS:
        new = value.format(email="GRACE@example.org")
        signup(f"password={label}", status, words, json={**SIGNUP, "password": new})
        new = value.format(email=EMAIL.upper())
        password(f"new_password={label}", status, words, json={**NEW_PASSWORD, "new_password": new})
    for label, value in WRONG_TYPES:
        words = "Input should be a valid string"
        for name in SIGNUP:
            signup(f"{name}={label}", 422, f"{name}: {words}", json={**SIGNUP, name: value})
        for name in TOKEN:
            token(f"{name}={label}", 422, f"{name}: {words}", json={**TOKEN, name: value})
        for name in ("display_name", "bio") if value is not None else ():  # null: unchanged
            me(f"{name}={label}", 422, f"{name}: {words}", json={name: value})
        delete_me(f"password={label}", 422, f"password: {words}", json={"password": value})
        for name in NEW_PASSWORD:
            password(f"{name}={label}", 422, f"{name}: {words}", json={**NEW_PASSWORD, name: value})
    for label, value in [
        ("zero", 0),
        ("3651", 3651),
        ("fraction", 1.5),
        ("boolean", True),
        ("string", "10"),
        ("list", [10]),
        ("object", {"days": 10}),
    ]:
        body = {**TOKEN, "expires_in_days": value}
        token(f"expires_in_days={label}", 422, "expires_in_days: ", json=body)
    valid = [
        (signup, SIGNUP),
        (token, TOKEN),
        (me, {"display_name": "Grace"}),
        (delete_me, {"password": PASSWORD}),
        (password, NEW_PASSWORD),
    ]
    for add, body in valid:
        for label, content, status, words in MALFORMED_JSON:
            headers = {"content-type": "application/json"}
            add(f"body={label}", status, words, content=content, headers=headers)
        for label, request in JSON_AS:
            add(f"body-as-{label}", 422, "JSON object", **request)
        add(
            "extra-field",
            422,
            "is_admin: Extra inputs are not permitted",
            json={**body, "is_admin": True},
        )
    me("email-field", 422, "email: Extra inputs", json={"email": "grace@example.org"})
    me("valid-name-bad-bio", 422, "(U+0000)", json={"display_name": "Grace", "bio": "\x00"})
    delete_me("wrong-password", 422, "Your password is wrong.", json={"password": "nope" * 3})
    password(
        "wrong-current-password",
        422,
        "Your current password is wrong.",
        json={**NEW_PASSWORD, "current_password": "nope" * 3},
    )
    wrong = "The email address or the password is wrong."
    token("wrong-password", 401, wrong, json={**TOKEN, "password": "nope" * 3})
    token("unknown-email", 401, wrong, json={**TOKEN, "email": "bob@example.org"})
    for label, spec, status, words in BAD_PICTURES:
        avatar(f"file={label}", status, words, files={"file": spec})
    avatar("no-file", 422, "file: Field required", files={"other": ("a", b"a", "text/plain")})
    avatar("JSON-instead-of-a-file", 422, "file: Field required", json={"file": "iVBORw0K"})
    for label, token_id, status, words in [
        ("letters", "abc", 422, "valid integer"),
        ("fraction", "1.5", 422, "valid integer"),
        ("zero", "0", 404, "There is no such token."),
        ("negative", "-1", 404, "There is no such token."),
        ("2-to-the-31", str(2**31), 404, "There is no such token."),
        ("20-digits", "9" * 20, 404, "There is no such token."),
    ]:
        on("DELETE", f"/api/v1/tokens/{token_id}")(f"id={label}", status, words)
    for label, number, status, words in [
        *BAD_NUMBERS,
        ("101-chars", "1" * 101, 422, "at most 100 characters"),
        ("NUL", "%00", 422, "only digits"),
    ]:
        on("GET", f"/api/v1/numbers/{number}")(f"number={label}", status, words)
        for file in SHARED_FILES:
            on("GET", f"/api/v1/numbers/{number}/{file}")(f"number={label}", status, words)
    for file, label, params, words in BAD_SHARING_OPTIONS:
        on("GET", f"/api/v1/numbers/{{number}}/{file}")(label, 422, words, params=params)
    for label, header, words in [
        ("garbage", "Bearer garbage", "not valid"),
        ("Basic", "Basic YWRhOmFkYQ==", "Bearer <token>"),
        ("1MB-token", "Bearer portal_" + HUGE, "not valid"),
    ]:
        body = {"display_name": "Grace"}
        me(f"authorization={label}", 401, words, json=body, headers={"authorization": header})
    phone, discover = on("POST", "/api/v1/me/phone"), on("POST", "/api/v1/discovery")
    for label, body, words in [
        ("national-without-region", {"phone": "0412 345 678"}, "no country code"),
        ("unknown-region", {"phone": "+393471234567", "region": "XX"}, "two-letter code"),
        ("too-short", {"phone": "+39 347"}, "too short"),
        ("NUL", {"phone": "+39 347\x00 1234567"}, "not a phone number"),
        ("number", {"phone": 393471234567}, "phone: Input should be a valid string"),
    ]:
        phone(f"phone={label}", 422, words, json=body)
    for label, body, words in [
        ("1001", {"numbers": ["+393471234567"] * 1001}, "List should have at most 1000 items"),
        ("empty", {"numbers": []}, "at least one"),
        ("unknown-region", {"numbers": ["+393471234567"], "region": "XX"}, "two-letter code"),
        ("not-a-list", {"numbers": "+393471234567"}, "numbers: Input should be a valid list"),
    ]:
        discover(f"numbers={label}", 422, words, json=body)
    for label, params, words in [
        ("1-char", {"q": "a"}, "at least 2"),
        ("NUL", {"q": "ad\x00a"}, "letters, digits"),
        ("page-0", {"q": "ada", "page": "0"}, "page: "),
    ]:
        on("GET", "/api/v1/search")(f"q={label}", 422, words, params=params)
    # Signed in by the browser's cookie, a change needs the X-CSRF-Token header.
    for add, request in [
        (me, {"json": {"display_name": "Grace"}}),
        (delete_me, {"json": {"password": PASSWORD}}),
        (password, {"json": NEW_PASSWORD}),
        (avatar, {"files": {"file": ("ada.png", "png", "image/png")}}),
        (on("DELETE", "/api/v1/me/avatar"), {}),
        (on("DELETE", "/api/v1/tokens/{token_id}"), {}),
    ]:
        for label, headers in [
            ("without-CSRF-header", {}),
            ("wrong-CSRF-header", {"x-csrf-token": "0" * 64}),
        ]:
            add(f"cookie-{label}", 403, "X-CSRF-Token", auth="cookie", **request, headers=headers)


def _request(case: Bad, account: Account) -> tuple[str, dict[str, Any]]:
    """The path and the httpx arguments of a case, for this account."""
    typo = account.number[:-1] + str((int(account.number[-1]) + 1) % 10)
    path = case.path.replace("{token_id}", str(account.token_id)).replace("{typo}", typo)
    path = path.replace("{number}", account.number)
    request = dict(case.request)
    if "files" in request:
        request["files"] = {
            name: (file_name, picture(data) if isinstance(data, str) else data, content_type)
            for name, (file_name, data, content_type) in request["files"].items()
        }
    request["headers"] = dict(request.get("headers", {}))
    return path, request


@pytest.mark.parametrize("case", _table(_api))
async def test_api_refuses_bad_input(
    client: httpx.AsyncClient, db: AsyncSession, account: Account, case: Bad
) -> None:
    before = await snapshot(db)
    path, request = _request(case, account)
    if case.auth != "cookie":
        request["headers"].setdefault("authorization", f"Bearer {account.token}")
    response = await client.request(case.method, path, **request)
    assert 400 <= response.status_code < 500, response.text
    assert response.status_code == case.status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert case.words in response.json()["detail"]
    await assert_nothing_written(db, before)


# --- The web forms -----------------------------------------------------------------------

CSRF_REFUSED = "This form has expired or did not come from this site."
# Every form, filled in so that only its CSRF token stands in the way.
VALID_FORMS: list[tuple[str, dict[str, Any]]] = [
    ("/signup", {"data": SIGNUP}),
    ("/signin", {"data": {"email": EMAIL, "password": PASSWORD}}),
    ("/signout", {}),
    ("/me/profile", {"data": {"display_name": "Grace Hopper", "bio": "Admiral."}}),
    ("/me/avatar", {"files": {"avatar": ("ada.png", "png", "image/png")}}),
    ("/me/avatar/delete", {}),
    ("/me/language", {"data": {"language": "fr"}}),
    ("/me/password", {"data": NEW_PASSWORD}),
    ("/me/delete", {"data": {"password": PASSWORD}}),
    ("/me/tokens", {"data": {"name": "phone", "expires_in_days": "30"}}),
    ("/me/tokens/{token_id}/revoke", {}),
    ("/me/phone", {"data": {"phone": "+393471234567"}}),
    ("/me/phone/confirm", {"data": {"code": "123456"}}),
    ("/me/phone/remove", {}),
    ("/me/phone/region", {"data": {"region": "IT"}}),
    ("/me/discover", {"data": {"numbers": "+393471234567"}}),
]
CSRF_MISTAKES = ["missing", "empty", "wrong", "another-browsers", "without-cookie", "wrong-header"]
PROFILE = {"display_name": "Ada Lovelace", "bio": "Analyst."}


def _web(on: Callable[[str, str], Add]) -> None:
    signup, signin = on("POST", "/signup"), on("POST", "/signin")
    profile, avatar = on("POST", "/me/profile"), on("POST", "/me/avatar")
    password, delete = on("POST", "/me/password"), on("POST", "/me/delete")
    tokens = on("POST", "/me/tokens")
    language = on("POST", "/me/language")

    for label, value, status, words in BAD_NAMES:
        signup(f"display_name={label}", status, words, data={**SIGNUP, "display_name": value})
        profile(f"display_name={label}", status, words, data={**PROFILE, "display_name": value})
        tokens(f"name={label}", status, words, data={"name": value, "expires_in_days": ""})
    for label, value, status, words in BAD_BIOS:
        profile(f"bio={label}", status, words, data={**PROFILE, "bio": value})
    for label, value, status, words in BAD_EMAILS:
        signup(f"email={label}", status, words, data={**SIGNUP, "email": value})
    for label, value, status, words in BAD_PASSWORDS:
        new = value.format(email="GRACE@example.org")
        signup(f"password={label}", status, words, data={**SIGNUP, "password": new})
        new = value.format(email=EMAIL.upper())
        password(f"new_password={label}", status, words, data={**NEW_PASSWORD, "new_password": new})
    for label, days, words in [
        ("zero", "0", "between 1 and 3650 days"),
        ("3651", "3651", "between 1 and 3650 days"),
        ("negative", "-1", "Enter a number of days"),
        ("fraction", "1.5", "Enter a number of days"),
        ("words", "ten", "Enter a number of days"),
        ("full-width-digits", "１０", "Enter a number of days"),
        ("6-digits", "999999", "Enter a number of days"),
        ("NUL", "1\x00", "Enter a number of days"),
    ]:
        tokens(
            f"expires_in_days={label}", 422, words, data={"name": "phone", "expires_in_days": days}
        )
    wrong = "The email address or the password is wrong."
    for label, data, status, words in [
        ("wrong-password", {"email": EMAIL, "password": "nope" * 3}, 401, wrong),
        ("unknown-email", {"email": "bob@example.org", "password": PASSWORD}, 401, wrong),
        ("empty", {"email": "", "password": ""}, 401, wrong),
        ("NUL-in-email", {"email": "ada\x00@example.org", "password": PASSWORD}, 401, wrong),
        ("1025-char-password", {"email": EMAIL, "password": "x" * 1025}, 401, wrong),
        ("1MB-password", {"email": EMAIL, "password": HUGE}, 413, "too large"),
    ]:
        signin(label, status, words, data=data)
    for label, value in [
        ("german", "de"),
        ("region", "it-IT"),
        ("NUL", "it\x00"),
        ("long", "x" * 999),
    ]:
        language(
            f"language={label}", 422, "This language is not available.", data={"language": value}
        )
    profile("valid-name-bad-bio", 422, "(U+0000)", data={"display_name": "Grace", "bio": "\x00"})
    password(
        "wrong-current-password",
        422,
        "Your current password is wrong.",
        data={**NEW_PASSWORD, "current_password": "nope" * 3},
    )
    delete("wrong-password", 422, "Your password is wrong.", data={"password": "nope" * 3})
    delete("empty-password", 422, "Your password is wrong.", data={"password": ""})
    delete("1MB-password", 413, "too large", data={"password": HUGE})
    for label, spec, status, words in BAD_PICTURES:
        avatar(f"avatar={label}", status, words, files={"avatar": spec})
    avatar("no-file", 422, "Choose a picture", data={"other": "x"})
    for label, token_id, status, words in [
        ("letters", "abc", 422, "valid integer"),
        ("zero", "0", 404, "There is no such token."),
        ("20-digits", "9" * 20, 404, "There is no such token."),
    ]:
        on("POST", f"/me/tokens/{token_id}/revoke")(f"id={label}", status, words)
    # htmx sends the token as a header and gets the form back as a fragment.
    profile("NUL-from-htmx", 422, "(U+0000)", auth="htmx", data={**PROFILE, "display_name": "\x00"})
    tokens("empty-name-from-htmx", 422, "Enter a name.", auth="htmx", data={"name": ""})
    avatar(
        "SVG-from-htmx",
        422,
        UNREADABLE,
        auth="htmx",
        files={"avatar": ("a.svg", SVG, "image/svg+xml")},
    )
    # Not a form at all: with the token in a header the fields are missing, without it the token.
    for add, words in [
        (signup, "Enter an email address."),
        (profile, "Enter a name."),
        (tokens, "Enter a name."),
        (avatar, "Choose a picture"),
        (delete, "Your password is wrong."),
    ]:
        add("JSON-body", 422, words, auth="header", json=SIGNUP)
        add("JSON-body-without-token", 403, CSRF_REFUSED, auth="none", json=SIGNUP)
    on("POST", "/me/phone")(
        "phone=national-without-region", 422, "no country code", data={"phone": "0412 345 678"}
    )
    on("POST", "/me/phone/region")("region=unknown", 422, "two-letter code", data={"region": "XX"})
    on("POST", "/me/discover")(
        "numbers=1001", 422, "at most 1000 numbers", data={"numbers": "+393471234567\n" * 1001}
    )
    for path, request in VALID_FORMS:
        for mistake in CSRF_MISTAKES:
            on("POST", path)(f"csrf={mistake}", 403, CSRF_REFUSED, auth=mistake, **request)
    lookup = on("GET", "/lookup")
    for label, number, status, words in [
        *BAD_NUMBERS[:-1],
        ("empty", "", 422, "Enter a portal number."),
        ("NUL", "1234\x00", 422, "only digits"),
        ("10KB", "x" * 10_000, 422, "only digits"),
    ]:
        lookup(f"number={label}", status, words, params={"number": number})
    for label, number, status, words in BAD_NUMBERS:
        on("GET", f"/n/{number}")(f"number={label}", status, words)
        for file in SHARED_FILES:
            on("GET", f"/n/{number}/{file}")(f"number={label}", status, words)
    for file, label, params, words in BAD_SHARING_OPTIONS:
        on("GET", f"/n/{{number}}/{file}")(label, 422, words, params=params)
    on("GET", "/me/share")("as=owner", 422, "Preview your card as one of", params={"as": "owner"})


def _csrf(case: Bad, account: Account) -> tuple[dict[str, str], dict[str, str]]:
    """The form fields and the headers that carry (or fail to carry) the CSRF token."""
    elsewhere = hmac.new(SECRET_KEY.encode(), b"another browser", hashlib.sha256).hexdigest()
    if case.method == "GET" or case.auth in ("none", "missing"):
        return {}, {}
    if case.auth in ("header", "htmx"):
        return {}, {
            "x-csrf-token": account.csrf,
            **({"hx-request": "true"} if case.auth == "htmx" else {}),
        }
    if case.auth == "wrong-header":
        return {}, {"x-csrf-token": "0" * 64}
    token = {"empty": "", "wrong": "0" * 64, "another-browsers": elsewhere}.get(
        case.auth, account.csrf
    )
    return {"csrf_token": token}, {}


@pytest.mark.parametrize("case", _table(_web))
async def test_forms_refuse_bad_input(
    client: httpx.AsyncClient, db: AsyncSession, account: Account, case: Bad
) -> None:
    before = await snapshot(db)
    path, request = _request(case, account)
    fields, headers = _csrf(case, account)
    if fields:
        request["data"] = {**fields, **request.get("data", {})}
    request["headers"] = {**HTML, **headers, **request["headers"]}
    if case.auth == "without-cookie":
        client.cookies.delete(CSRF_COOKIE)
    response = await client.request(case.method, path, **request)
    assert 400 <= response.status_code < 500, response.text
    assert response.status_code == case.status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert case.words in html.unescape(response.text)
    await assert_nothing_written(db, before)
