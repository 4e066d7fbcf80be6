"""Sharing a number: QR codes, vCards, the share page and the contact button, over HTTP.

Every surface must show exactly what the viewer's card allows, serve nothing where the number
cannot be looked up (a hidden number answers like one nobody has), and the contact button must
be safe to frame and include on any website.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import vobject
import zxingcpp
from fastapi import FastAPI
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import Receive, Scope, Send

from portal.config import Settings
from portal.deps import SESSION_COOKIE
from portal.domain import account as accounts
from portal.domain import number as numbers
from portal.domain.account import allocate_number
from portal.domain.number import AllocationPolicy
from portal.middleware import SecurityHeadersMiddleware
from portal.storage.models import Block, Contact, LinkedAccount, User, utcnow
from tests.fixtures.app import make_settings

BASE = "https://portal.test"
HTML = {"accept": "text/html"}


@pytest.fixture
def settings() -> Settings:
    return make_settings(rate_limits_enabled=False)


# --- People ---------------------------------------------------------------------------------


async def _person(db: AsyncSession, name: str, **fields: object) -> User:
    number = await allocate_number(db, AllocationPolicy(min_length=8, max_fill=0.5))
    user = User(
        email=f"{number}@example.org",
        number=number,
        password_hash="not a hash",
        email_confirmed_at=utcnow(),
        **{"display_name": name, "bio": "", **fields},
    )
    db.add(user)
    await db.flush()
    return user


async def _link(
    db: AsyncSession, owner: User, network: str, handle: str, audience: str, position: int = 0
) -> None:
    db.add(
        LinkedAccount(
            user_id=owner.id, network=network, handle=handle, audience=audience, position=position
        )
    )
    await db.flush()


async def _client_of(app: FastAPI, db: AsyncSession, user: User | None) -> httpx.AsyncClient:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)
    if user is not None:
        secret = await accounts.start_session(db, user, days=1)
        client.cookies.set(SESSION_COOKIE, secret, domain="portal.test")
    return client


@dataclass
class World:
    owner: User
    viewers: dict[str, httpx.AsyncClient]
    """anonymous, member, contact, blocked (a contact the owner blocked), owner."""
    token: str
    """An API token of the member."""


@pytest.fixture
async def world(app: FastAPI, db: AsyncSession) -> AsyncIterator[World]:
    """Ada shows her name to all, her bio to members, her phone and picture to contacts, and
    one account to each audience."""
    owner = await _person(
        db,
        "Ada Lovelace",
        bio="Analyst, of engines.",
        bio_audience="members",
        avatar_etag="f00d",
        avatar_audience="contacts",
        phone="+447400123456",
        phone_verified_at=utcnow(),
        phone_audience="contacts",
    )
    await _link(db, owner, "telegram", "ada_l", "public", 0)
    await _link(db, owner, "xmpp", "ada@example.org", "members", 1)
    await _link(db, owner, "whatsapp", "+447400123456", "contacts", 2)
    await _link(db, owner, "mastodon", "secret@mastodon.social", "private", 3)
    member = await _person(db, "Grace")
    contact = await _person(db, "Charles")
    blocked = await _person(db, "Mallory")
    for other in (contact, blocked):
        db.add_all(
            [
                Contact(owner_id=owner.id, other_id=other.id),
                Contact(owner_id=other.id, other_id=owner.id),
            ]
        )
    db.add(Block(owner_id=owner.id, blocked_id=blocked.id))
    token = await accounts.create_token(db, member, name="tests")
    await db.flush()
    viewers = {
        "anonymous": await _client_of(app, db, None),
        "member": await _client_of(app, db, member),
        "contact": await _client_of(app, db, contact),
        "blocked": await _client_of(app, db, blocked),
        "owner": await _client_of(app, db, owner),
    }
    await db.commit()
    yield World(owner, viewers, token.secret)
    for client in viewers.values():
        await client.aclose()


def _unknown_number() -> str:
    body = "9876543"
    return body + str(numbers.damm_check_digit(body))


def _typo(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 1) % 10)


def _decode(data: bytes) -> list[str]:
    return [found.text for found in zxingcpp.read_barcodes(Image.open(io.BytesIO(data)))]


# What each viewer finds in Ada's vCard (telegram public, xmpp members, whatsapp contacts).
EXPECTED = {
    "anonymous": {"bio": False, "phone": False, "photo": False, "impp": False, "whatsapp": False},
    "member": {"bio": True, "phone": False, "photo": False, "impp": True, "whatsapp": False},
    "contact": {"bio": True, "phone": True, "photo": True, "impp": True, "whatsapp": True},
    "blocked": {"bio": False, "phone": False, "photo": False, "impp": False, "whatsapp": False},
    "owner": {"bio": True, "phone": True, "photo": True, "impp": True, "whatsapp": True},
}


# --- QR codes -------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["/n", "/api/v1/numbers"])
async def test_qr_codes_hold_the_page_address(world: World, prefix: str) -> None:
    number = world.owner.number
    client = world.viewers["anonymous"]
    png = await client.get(f"{prefix}/{number}/qr.png", params={"scale": 4})
    assert png.status_code == 200, png.text
    assert png.headers["content-type"] == "image/png"
    assert _decode(png.content) == [f"{BASE}/n/{number}"]
    assert png.headers["cache-control"].startswith("private")
    again = await client.get(
        f"{prefix}/{number}/qr.png",
        params={"scale": 4},
        headers={"if-none-match": png.headers["etag"]},
    )
    assert again.status_code == 304 and again.content == b""

    svg = await client.get(f"{prefix}/{number}/qr.svg", params={"dark": "1a2b3c", "border": 0})
    assert svg.status_code == 200
    assert svg.headers["content-type"] == "image/svg+xml"
    assert svg.text.startswith("<svg") and 'stroke="#1a2b3c"' in svg.text
    assert svg.headers["etag"] != png.headers["etag"]


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ({"scale": 0}, "scale is between 1 and 20"),
        ({"scale": 21}, "scale is between 1 and 20"),
        ({"scale": "big"}, "scale: Input should be a valid integer"),
        ({"border": 11}, "border is between 0 and 10"),
        ({"dark": "red"}, "dark colour as a hex code"),
        ({"light": "javascript:alert(1)"}, "light colour as a hex code"),
        ({"dark": "000", "light": "#000000"}, "the same"),
        ({"dark": "0" * 21}, "dark: String should have at most 20 characters"),
    ],
)
@pytest.mark.parametrize("prefix", ["/n", "/api/v1/numbers"])
async def test_bad_qr_options_are_refused(
    world: World, prefix: str, query: dict[str, str | int], words: str
) -> None:
    response = await world.viewers["owner"].get(
        f"{prefix}/{world.owner.number}/qr.svg", params=query, headers=HTML
    )
    assert response.status_code == 422
    assert words in html.unescape(response.text)


# --- vCards ---------------------------------------------------------------------------------


@pytest.mark.parametrize("viewer", list(EXPECTED))
@pytest.mark.parametrize("prefix", ["/n", "/api/v1/numbers"])
async def test_each_viewer_gets_the_vcard_their_card_allows(
    world: World, viewer: str, prefix: str
) -> None:
    response = await world.viewers[viewer].get(f"{prefix}/{world.owner.number}/vcard")
    assert response.status_code == 200, response.text
    text = response.text
    card = vobject.readOne(text)
    expected = EXPECTED[viewer]
    assert card.fn.value == "Ada Lovelace"
    assert ("note" in card.contents) is expected["bio"]
    assert ("tel" in card.contents) is expected["phone"]
    assert ("photo" in card.contents) is expected["photo"]
    assert ("impp" in card.contents) is expected["impp"]
    assert ("wa.me" in text) is expected["whatsapp"]
    assert "https://t.me/ada_l" in text  # public: everyone
    # Private: in the owner's own card only.
    assert ("https://mastodon.social/@secret" in text) is (viewer == "owner")


async def test_an_api_token_is_the_viewer(world: World) -> None:
    path = f"/api/v1/numbers/{world.owner.number}/vcard"
    anonymous = world.viewers["anonymous"]
    as_member = await anonymous.get(path, headers={"authorization": f"Bearer {world.token}"})
    assert "IMPP" in as_member.text
    refused = await anonymous.get(path, headers={"authorization": "Bearer portal_nope"})
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"


async def test_vcard_headers_and_versions(world: World) -> None:
    client = world.viewers["anonymous"]
    number = world.owner.number
    response = await client.get(f"/n/{number}/vcard")
    assert response.headers["content-type"] == "text/vcard; charset=utf-8"
    assert response.headers["content-disposition"] == f'attachment; filename="portal-{number}.vcf"'
    assert "VERSION:4.0\r\n" in response.text
    old = await client.get(f"/n/{number}/vcard", params={"version": "3.0"})
    assert "VERSION:3.0\r\n" in old.text and "N:;Ada Lovelace;;;\r\n" in old.text
    same = await client.get(
        f"/n/{number}/vcard", headers={"if-none-match": response.headers["etag"]}
    )
    assert same.status_code == 304
    bad = await client.get(f"/api/v1/numbers/{number}/vcard", params={"version": "2.1"})
    assert bad.status_code == 422
    assert "4.0, or 3.0 for older address books" in bad.json()["detail"]


# --- Where the number cannot be looked up ---------------------------------------------------

SURFACES = [
    "/n/{n}/qr.svg",
    "/n/{n}/qr.png",
    "/n/{n}/vcard",
    "/api/v1/numbers/{n}/qr.svg",
    "/api/v1/numbers/{n}/qr.png",
    "/api/v1/numbers/{n}/vcard",
    "/embed/{n}",
    "/embed/{n}.js",
]


def _shape(response: httpx.Response) -> tuple[object, ...]:
    headers = {k: v for k, v in response.headers.items() if k not in ("date", "content-length")}
    return response.status_code, response.text, sorted(headers.items())


@pytest.mark.parametrize("path", SURFACES)
async def test_hidden_and_unknown_numbers_answer_alike(
    world: World, db: AsyncSession, path: str
) -> None:
    hidden = await _person(db, "Hidden", find_by_number=False)
    await _link(db, hidden, "telegram", "hidden_one", "public")
    silent = await _person(db, "", name_audience="private")  # findable, but shows nothing
    await db.commit()
    client = world.viewers["anonymous"]
    unknown = await client.get(path.format(n=_unknown_number()))
    assert unknown.status_code == 404
    assert "hidden_one" not in unknown.text
    for number in (hidden.number, silent.number):
        response = await client.get(path.format(n=number))
        assert _shape(response) == _shape(unknown)
    typo = await client.get(path.format(n=_typo(hidden.number)))
    assert typo.status_code == 422
    assert "typo" in typo.text


async def test_a_contact_still_finds_a_number_hidden_from_lookups(
    world: World, db: AsyncSession
) -> None:
    world.owner.find_by_number = False
    await db.commit()
    number = world.owner.number
    assert (await world.viewers["member"].get(f"/n/{number}/vcard")).status_code == 404
    assert (await world.viewers["contact"].get(f"/n/{number}/vcard")).status_code == 200
    assert (await world.viewers["owner"].get(f"/n/{number}/qr.svg")).status_code == 200


# --- The contact button ---------------------------------------------------------------------


def _assert_embeddable(response: httpx.Response) -> None:
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors *" in csp and "'none'" in csp  # default-src 'none'
    assert "x-frame-options" not in response.headers
    assert response.headers["cross-origin-resource-policy"] == "cross-origin"
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize("viewer", list(EXPECTED))
async def test_the_button_shows_what_anyone_sees_whoever_loads_it(
    world: World, viewer: str
) -> None:
    response = await world.viewers[viewer].get(f"/embed/{world.owner.number}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    _assert_embeddable(response)
    page = response.text
    links = re.findall(r'<a class="button ([a-z]+)[^"]*" href="([^"]+)" target="([^"]+)"', page)
    assert links == [("telegram", "https://t.me/ada_l", "_blank")]
    assert 'rel="noopener noreferrer"' in page
    for private in ("ada@example.org", "447400123456", "wa.me", "secret", "Analyst"):
        assert private not in page
    assert "Write to us on Telegram" in page
    assert "<script" not in page


async def test_the_button_neither_reads_nor_sets_cookies(world: World) -> None:
    # A session cookie sent along changes nothing, and no CSRF cookie is handed out.
    contact = world.viewers["contact"]
    anonymous = world.viewers["anonymous"]
    for path in (f"/embed/{world.owner.number}", f"/embed/{world.owner.number}.js"):
        as_contact = await contact.get(path)
        as_anyone = await anonymous.get(path)
        assert as_contact.content == as_anyone.content
        assert as_contact.headers["etag"] == as_anyone.headers["etag"]
        assert "set-cookie" not in as_contact.headers
    missing = await anonymous.get("/embed/nothing/here", headers=HTML)
    assert missing.status_code == 404
    assert "set-cookie" not in missing.headers


async def test_the_button_is_cached(world: World) -> None:
    client = world.viewers["anonymous"]
    path = f"/embed/{world.owner.number}"
    first = await client.get(path, headers={"accept-language": "it"})
    assert first.headers["cache-control"] == "public, max-age=300"
    assert first.headers["vary"] == "Accept-Language"
    assert '<html lang="it">' in first.text
    again = await client.get(
        path, headers={"accept-language": "it", "if-none-match": first.headers["etag"]}
    )
    assert again.status_code == 304
    french = await client.get(
        path, params={"lang": "fr"}, headers={"if-none-match": first.headers["etag"]}
    )
    assert french.status_code == 200 and '<html lang="fr">' in french.text


async def test_the_script_inserts_the_frame_and_nothing_else(world: World) -> None:
    number = world.owner.number
    response = await world.viewers["anonymous"].get(f"/embed/{number}.js")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    _assert_embeddable(response)
    script = response.text
    assert f'"src": "{BASE}/embed/{number}"' in script
    assert "insertBefore(frame, here.nextSibling)" in script
    for reach in ("document.cookie", "localStorage", "addEventListener", "innerHTML", "fetch("):
        assert reach not in script
    assert (
        await world.viewers["anonymous"].get(f"/embed/{number}.js", params={"lang": "fr"})
    ).text.count("?lang=fr") == 1


@pytest.mark.parametrize(
    "path", ["/", "/n/{n}", "/n/{n}/qr.svg", "/me/share", "/embed", "/embedded/{n}"]
)
async def test_every_other_page_still_refuses_to_be_framed(world: World, path: str) -> None:
    response = await world.viewers["owner"].get(path.format(n=world.owner.number), headers=HTML)
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "cross-origin-resource-policy" not in response.headers


async def test_walking_numbers_through_the_button_is_slowed_down(
    app: FastAPI, world: World
) -> None:
    app.state.limiter.enabled = True
    client = world.viewers["anonymous"]
    statuses = []
    for serial in range(15):
        body = f"98765{serial:02d}"
        statuses.append(
            (await client.get(f"/embed/{body}{numbers.damm_check_digit(body)}")).status_code
        )
    assert statuses[0] == 404
    assert statuses[-1] == 429


# --- The share page -------------------------------------------------------------------------


async def test_the_share_page(world: World) -> None:
    client = world.viewers["owner"]
    number = world.owner.number
    page = await client.get("/me/share", headers=HTML)
    assert page.status_code == 200
    text = page.text
    assert '<a href="/me/share" aria-current="page">' in text
    assert f'value="{BASE}/n/{number}"' in text
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in text
    assert f"/n/{number}/qr.png" in text
    snippets = {
        key: html.unescape(found)
        for key, found in re.findall(
            r'<textarea id="snippet-(\w+)"[^>]*>(.*?)</textarea>', text, re.S
        )
    }
    assert snippets["script"] == f'<script src="{BASE}/embed/{number}.js" async></script>'
    assert f'src="{BASE}/embed/{number}"' in snippets["iframe"]
    assert 'href="https://t.me/ada_l"' in snippets["links"]
    # The snippets show what anyone sees, whatever the preview.
    for snippet in snippets.values():
        assert "wa.me" not in snippet and "xmpp" not in snippet
    assert 'data-testid="not-shown"' not in text


@pytest.mark.parametrize(
    ("as_", "shown", "hidden"),
    [
        ("anyone", ["Telegram"], ["XMPP", "WhatsApp", "Analyst", "+447400123456"]),
        ("member", ["Telegram", "XMPP", "Analyst"], ["WhatsApp", "+447400123456"]),
        ("contact", ["Telegram", "XMPP", "WhatsApp", "Analyst", "+447400123456"], ["secret"]),
    ],
)
async def test_previewing_the_card_as_someone(
    world: World, as_: str, shown: list[str], hidden: list[str]
) -> None:
    client = world.viewers["owner"]
    page = await client.get("/me/share", params={"as": as_}, headers=HTML)
    preview = re.search(r'data-testid="card-preview">(.*?)</dl>', page.text, re.S)
    assert preview
    for text in shown:
        assert text in preview.group(1)
    for text in hidden:
        assert text not in preview.group(1)
    download = await client.get("/me/share/vcard", params={"as": as_, "version": "3.0"})
    assert download.headers["content-disposition"].startswith("attachment;")
    card = vobject.readOne(download.text)
    assert ("tel" in card.contents) is (as_ == "contact")
    assert ("impp" in card.contents) is (as_ != "anyone")


async def test_the_share_page_warns_when_nobody_can_look_the_number_up(
    world: World, db: AsyncSession
) -> None:
    world.owner.find_by_number = False
    await db.commit()
    page = await world.viewers["owner"].get("/me/share", headers=HTML)
    assert 'data-testid="not-shown"' in page.text


async def test_the_share_page_needs_signing_in_and_a_known_preview(world: World) -> None:
    anonymous = await world.viewers["anonymous"].get("/me/share", headers=HTML)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/signin")
    bad = await world.viewers["owner"].get("/me/share", params={"as": "owner"}, headers=HTML)
    assert bad.status_code == 422
    assert "Preview your card as one of: anyone, member, contact." in html.unescape(bad.text)


async def test_the_middleware_strips_cookies_on_embed_paths_only() -> None:
    seen: dict[str, list[bytes]] = {}

    async def echo(scope: Scope, receive: Receive, send: Send) -> None:
        seen[scope["path"]] = [v for k, v in scope["headers"] if k == b"cookie"]
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"set-cookie", b"portal_csrf=x"), (b"content-type", b"text/plain")],
            }
        )
        await send({"type": "http.response.body", "body": b"ok"})

    wrapped = SecurityHeadersMiddleware(echo, hsts=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=wrapped), base_url=BASE) as c:
        headers = {"cookie": "portal_session=secret"}
        embedded = await c.get("/embed/12345674", headers=headers)
        other = await c.get("/n/12345674", headers=headers)
    assert seen == {"/embed/12345674": [], "/n/12345674": [b"portal_session=secret"]}
    assert "set-cookie" not in embedded.headers
    assert other.headers["set-cookie"] == "portal_csrf=x"
