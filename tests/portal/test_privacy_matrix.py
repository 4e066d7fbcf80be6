"""Who sees what: every audience × every kind of viewer × every surface that shows a person.

The expectations are a table written out by hand (not computed by the code under test). The
surfaces are a table too, and a test checks that every route of the application that shows a
number is in it, so a new surface cannot be forgotten.
"""

from __future__ import annotations

import functools
import io
import typing
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from portal.api.schemas import CardOut
from portal.config import Settings
from portal.domain import account as accounts
from portal.domain import linking, profile
from portal.domain.images import ImageWorkers
from portal.domain.number import AllocationPolicy
from portal.storage.models import Block, Contact, ContactRequest, Follow, User, utcnow
from portal.web import contacts as web_contacts
from tests.fixtures.app import get_csrf, make_settings
from tests.portal.doors import DOORS, NOT_DOORS, all_routes, routes_taking_a_number

AUDIENCES = ("public", "members", "contacts", "private")
VIEWERS = ("anonymous", "member", "contact", "blocked", "requested", "blocker", "owner")
"""``requested`` has a request from the owner, and ``blocker`` blocked the owner: to the
owner both are members like any other, and each has the owner in one list of their own."""
SEES_AS = {"requested": "member", "blocker": "member"}

SEES: dict[tuple[str, str], bool] = {
    ("public", "anonymous"): True,
    ("public", "member"): True,
    ("public", "contact"): True,
    ("public", "blocked"): True,
    ("public", "owner"): True,
    ("members", "anonymous"): False,
    ("members", "member"): True,
    ("members", "contact"): True,
    ("members", "blocked"): False,
    ("members", "owner"): True,
    ("contacts", "anonymous"): False,
    ("contacts", "member"): False,
    ("contacts", "contact"): True,
    ("contacts", "blocked"): False,
    ("contacts", "owner"): True,
    ("private", "anonymous"): False,
    ("private", "member"): False,
    ("private", "contact"): False,
    ("private", "blocked"): False,
    ("private", "owner"): True,
}
"""(audience, viewer) → whether the viewer sees what has that audience (for the viewers of
:data:`SEES_AS`, as the viewer they stand for)."""


@pytest.fixture
def settings() -> Settings:
    return make_settings(rate_limits_enabled=False)


@dataclass
class Owner:
    user: User
    audience: str

    def marker(self, field: str) -> str:
        return f"{field}{self.audience}{self.user.id}x"


@dataclass
class Shown:
    """What one surface showed one viewer of one owner."""

    found: bool
    name: bool = False
    bio: bool = False
    avatar: bool = False
    phone: bool = False
    account: bool = False


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


async def _person(db: AsyncSession, name: str) -> User:
    user = await accounts.sign_up(
        db,
        email=f"{uuid.uuid4().hex[:10]}@example.org",
        password="correct horse battery",
        display_name=name,
        policy=AllocationPolicy(),
    )
    user.email_confirmed_at = utcnow()
    await db.flush()
    return user


async def _owner(db: AsyncSession, audience: str, workers: ImageWorkers) -> Owner:
    user = await _person(db, "owner")
    owner = Owner(user, audience)
    user.display_name = owner.marker("name")
    user.bio = owner.marker("bio")
    user.phone = f"+3906{user.id:08d}"
    user.phone_verified_at = utcnow()
    picture = await profile.avatar_picture(_png(), max_bytes=10**6, size=64, workers=workers)
    await profile.set_avatar(db, user, picture)
    await profile.set_privacy(
        db,
        user,
        audiences=dict.fromkeys(("name", "avatar", "bio", "phone"), audience),
        find_by={"number": True, "phone": True, "name": True},
    )
    added = await linking.add_handle(db, user, "github", owner.marker("gh"))
    added.audience = audience
    await db.flush()
    return owner


async def _client(app: FastAPI, db: AsyncSession, user: User | None) -> httpx.AsyncClient:
    cookies = {}
    if user is not None:
        cookies["portal_session"] = await accounts.start_session(db, user, days=1)
        await db.commit()
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="https://portal.test",
        cookies=cookies,
        follow_redirects=False,
    )


def _page(html: str, owner: Owner, status: int) -> Shown:
    if status != 200:
        return Shown(found=False)
    return Shown(
        found=True,
        name=owner.marker("name") in html,
        bio=owner.marker("bio") in html,
        avatar=f"/n/{owner.user.number}/avatar" in html,
        phone=(owner.user.phone or "") in html,
        account=owner.marker("gh") in html,
    )


async def _on_page(http: httpx.AsyncClient, owner: Owner) -> Shown:
    response = await http.get(f"/n/{owner.user.number}", headers={"accept": "text/html"})
    return _page(response.text, owner, response.status_code)


async def _on_api(http: httpx.AsyncClient, owner: Owner) -> Shown:
    response = await http.get(f"/api/v1/numbers/{owner.user.number}")
    if response.status_code != 200:
        assert response.status_code == 404, response.text
        return Shown(found=False)
    body = response.json()
    return Shown(
        found=True,
        name=body["display_name"] == owner.marker("name"),
        bio=body["bio"] == owner.marker("bio"),
        avatar=body["avatar_url"] is not None,
        phone=body["phone"] == owner.user.phone,
        account=any(owner.marker("gh") in a["handle"] for a in body["accounts"]),
    )


async def _conversation_api(http: httpx.AsyncClient, owner: Owner) -> Shown:
    """A conversation with someone one never wrote with: their card, as a lookup shows it."""
    response = await http.get(f"/api/v1/conversations/{owner.user.number}")
    if response.status_code != 200:
        assert response.status_code in (401, 404), response.text
        return Shown(found=False)
    body = response.json()
    assert body["entries"] == []
    return _from_card(body["person"], owner)


async def _conversation_page(http: httpx.AsyncClient, owner: Owner) -> Shown:
    """The page of such a conversation names the other person, nothing more."""
    response = await http.get(
        f"/conversations/{owner.user.number}", headers={"accept": "text/html"}
    )
    if response.status_code != 200:
        assert response.status_code in (303, 404), response.text  # 303: sign in first
        return Shown(found=False)
    return Shown(found=True, name=owner.marker("name") in response.text)


async def _avatar(http: httpx.AsyncClient, owner: Owner) -> Shown:
    """The picture alone: found means the picture is served."""
    response = await http.get(f"/n/{owner.user.number}/avatar")
    assert response.status_code in (200, 404), response.text
    seen = response.status_code == 200
    return Shown(found=seen, avatar=seen)


async def _vcard(http: httpx.AsyncClient, owner: Owner, path: str) -> Shown:
    response = await http.get(path.format(number=owner.user.number))
    if response.status_code != 200:
        assert response.status_code == 404, response.text
        return Shown(found=False)
    text = response.text.replace("\r\n ", "")  # unfolded
    return Shown(
        found=True,
        name=owner.marker("name") in text,
        bio=owner.marker("bio") in text,
        avatar="PHOTO" in text,
        phone=(owner.user.phone or "") in text,
        account=owner.marker("gh") in text,
    )


async def _qr(http: httpx.AsyncClient, owner: Owner, path: str) -> Shown:
    """A QR code shows only the number's address: found means it is served."""
    response = await http.get(path.format(number=owner.user.number))
    assert response.status_code in (200, 404), response.text
    return Shown(found=response.status_code == 200)


async def _embed(http: httpx.AsyncClient, owner: Owner, path: str) -> Shown:
    """The contact button for websites shows the accounts alone, to anyone alike."""
    response = await http.get(path.format(number=owner.user.number))
    if response.status_code != 200:
        assert response.status_code == 404, response.text
        return Shown(found=False)
    return Shown(found=True, account=owner.marker("gh") in response.text)


async def _search(http: httpx.AsyncClient, owner: Owner) -> Shown:
    response = await http.get("/api/v1/search", params={"q": owner.marker("name")})
    if response.status_code == 401:  # searching needs a signed-in person
        return Shown(found=False)
    assert response.status_code == 200, response.text
    for card in response.json()["results"]:
        if card["number"] == owner.user.number:
            return _from_card(card, owner)
    return Shown(found=False)


async def _discovery(http: httpx.AsyncClient, owner: Owner) -> Shown:
    if "portal_session" not in http.cookies:
        return Shown(found=False)  # uploading an address book needs a signed-in person
    token = await get_csrf(http, "/me")
    response = await http.post(
        "/api/v1/discovery",
        json={"numbers": [owner.user.phone]},
        headers={"x-csrf-token": token},
    )
    if response.status_code == 401:  # uploading an address book needs a signed-in person
        return Shown(found=False)
    assert response.status_code == 200, response.text
    for found in response.json()["found"]:
        if found["card"]["number"] == owner.user.number:
            return _from_card(found["card"], owner)
    return Shown(found=False)


async def _contacts(http: httpx.AsyncClient, owner: Owner) -> Shown:
    """The viewer's own contact list (only contacts are in it)."""
    response = await http.get("/api/v1/contacts")
    if response.status_code == 401:
        return Shown(found=False)
    assert response.status_code == 200, response.text
    for item in response.json()["items"]:
        if item["person"]["number"] == owner.user.number:
            return _from_card(item["person"], owner)
    return Shown(found=False)


def _from_card(card: dict[str, object], owner: Owner) -> Shown:
    accounts = card.get("accounts") or []
    assert isinstance(accounts, list)
    return Shown(
        found=True,
        name=card.get("display_name") == owner.marker("name"),
        bio=card.get("bio") == owner.marker("bio"),
        avatar=card.get("avatar_url") is not None,
        phone=card.get("phone") == owner.user.phone,
        account=any(owner.marker("gh") in a["handle"] for a in accounts),
    )


async def _api_list(
    http: httpx.AsyncClient,
    owner: Owner,
    path: str,
    people: Callable[[Any], list[dict[str, object]]],
) -> Shown:
    """One of the viewer's own lists through the API (requests, blocks)."""
    response = await http.get(path)
    if response.status_code == 401:
        return Shown(found=False)
    assert response.status_code == 200, response.text
    for card in people(response.json()):
        if card["number"] == owner.user.number:
            return _from_card(card, owner)
    return Shown(found=False)


def _requesters(body: dict[str, list[dict[str, Any]]]) -> list[dict[str, object]]:
    return [item["person"] for item in body["incoming"] + body["outgoing"]]


def _blocked(body: list[dict[str, Any]]) -> list[dict[str, object]]:
    return [item["person"] for item in body]


async def _web_list(http: httpx.AsyncClient, owner: Owner, path: str) -> Shown:
    """One of the viewer's own list pages: the owner's item in it, if there is one."""
    response = await http.get(path.format(q=owner.marker("name")), headers={"accept": "text/html"})
    if response.status_code != 200:  # signing in comes first
        return Shown(found=False)
    html = response.text
    at = html.find(f'href="/n/{owner.user.number}"')
    if at < 0:
        return Shown(found=False)
    begin = max(html.rfind("<article", 0, at), html.rfind("<li data-number", 0, at))
    ends = [i for i in (html.find("<article", at), html.find("<li data-number", at)) if i > 0]
    item = html[begin : min(ends) if ends else len(html)]
    return Shown(
        found=True,
        name=owner.marker("name") in item,
        bio=owner.marker("bio") in item,
        avatar=f"/n/{owner.user.number}/avatar" in item,
        phone=(owner.user.phone or "") in item,
        account=owner.marker("gh") in item,
    )


Surface = Callable[[httpx.AsyncClient, Owner], Awaitable[Shown]]

SURFACES: dict[str, Surface] = {
    "/n/{number}": _on_page,
    "/api/v1/numbers/{number}": _on_api,
    "/n/{number}/avatar": _avatar,
    **{
        path: functools.partial(_vcard, path=path)
        for path in ("/n/{number}/vcard", "/api/v1/numbers/{number}/vcard")
    },
    **{
        path: functools.partial(_qr, path=path)
        for path in (
            "/n/{number}/qr.svg",
            "/n/{number}/qr.png",
            "/api/v1/numbers/{number}/qr.svg",
            "/api/v1/numbers/{number}/qr.png",
        )
    },
    **{
        path: functools.partial(_embed, path=path)
        for path in ("/embed/{number}", "/embed/{number}.js")
    },
    "/api/v1/conversations/{number}": _conversation_api,
    "/conversations/{number}": _conversation_page,
    "search": _search,
    "discovery": _discovery,
    "contact list": _contacts,
    "/api/v1/contact-requests": functools.partial(
        _api_list, path="/api/v1/contact-requests", people=_requesters
    ),
    "/api/v1/blocks": functools.partial(_api_list, path="/api/v1/blocks", people=_blocked),
    "/api/v1/follows": functools.partial(_api_list, path="/api/v1/follows", people=_blocked),
    **{
        path: functools.partial(_web_list, path=path + query)
        for path, query in (
            ("/me/contacts", ""),
            ("/me/contacts/blocked", ""),
            ("/search", "?q={q}"),
        )
    },
}
"""Every way to see something of a person, and how to read what it showed."""

ONLY_AVATAR = {"/n/{number}/avatar"}
ONLY_FOUND = {path for path in SURFACES if "/qr." in path or path.endswith(".js")}
AS_ANONYMOUS = {"/embed/{number}", "/embed/{number}.js"}
"""The contact button is the same for everybody: what an anonymous visitor sees."""
CONVERSATIONS = {"/api/v1/conversations/{number}", "/conversations/{number}"}
NOT_SURFACES = {
    "/me/contacts/{number}/actions": "the viewer's own contact buttons, nothing of the owner",
}
LISTS = {"/api/v1/search", "/api/v1/contacts"}
"""The routes of the surfaces named for what they are (``search``, ``contact list``)."""
NOT_LISTS = {
    "/api/v1/conversations": (
        "the people one wrote with: each card as a lookup shows it "
        "(tests/portal/api/test_conversations.py)"
    ),
    "/api/v1/notifications": "who did what: the actor's card as any other card of theirs",
}


def test_every_route_showing_a_number_is_in_the_matrix(app):
    """A new page or endpoint about a number must join :data:`SURFACES`."""
    routes = {route.path for route in all_routes(app.routes) if "GET" in route.methods}
    about_numbers = {path for path in routes if "{number}" in path}
    assert len(about_numbers) >= 8  # the walk does find the routes
    missing = about_numbers - set(SURFACES) - set(NOT_SURFACES)
    assert not missing, sorted(missing)


def test_every_route_taking_a_number_is_a_counted_door(app):
    """Every route that takes a portal number, whatever its method and wherever the number
    is (path, query, form, JSON body), must be a door of :data:`tests.portal.doors.DOORS`:
    ``tests/portal/test_lookup.py`` then checks that it is counted as a lookup and answers a
    number nobody has, a hidden one, and one outside the relation it is about alike."""
    taking = routes_taking_a_number(app)
    assert len(taking) >= 20  # the walk does find the routes
    assert ("POST", "/api/v1/contacts") in taking  # and numbers in bodies
    doors = {(door.method, door.route) for door in DOORS}
    missing = taking - doors - set(NOT_DOORS)
    assert not missing, sorted(missing)
    buttons = {door.action for door in DOORS if "{action}" in door.route}
    assert buttons == set(web_contacts.ACTIONS)


def _shows_cards(model: Any, seen: set[Any] | None = None) -> bool:
    """Whether an API response model holds a person's card, however deep."""
    seen = seen if seen is not None else set()
    if model in seen:
        return False
    seen.add(model)
    if model is CardOut:
        return True
    if isinstance(model, type) and issubclass(model, BaseModel):
        return any(_shows_cards(f.annotation, seen) for f in model.model_fields.values())
    return any(_shows_cards(arg, seen) for arg in typing.get_args(model))


def test_every_list_showing_people_is_in_the_matrix(app):
    """An API list whose answer holds people's cards must join :data:`SURFACES`."""
    lists = {
        route.path
        for route in all_routes(app.routes)
        if "GET" in route.methods and "{" not in route.path and _shows_cards(route.response_model)
    }
    assert {"/api/v1/contacts", "/api/v1/search"} <= lists  # the walk does find them
    covered = set(SURFACES) | LISTS | set(NOT_LISTS)
    assert not lists - covered, sorted(lists - covered)


async def test_every_page_listing_people_is_in_the_matrix(world, app):
    """A page that shows the owners to a signed-in viewer must join :data:`SURFACES`."""
    owners: dict[str, Owner] = world["owners"]  # type: ignore[assignment]
    viewers: dict[str, httpx.AsyncClient] = world["viewers"]  # type: ignore[assignment]
    pages = {
        route.path
        for route in all_routes(app.routes)
        if "GET" in route.methods and "{" not in route.path and not route.path.startswith("/api/")
    } - {"/me/notifications/stream"}  # a stream that never ends
    showing = set()
    for path in sorted(pages):
        for viewer in VIEWERS[1:-1]:
            response = await viewers[viewer].get(path, headers={"accept": "text/html"})
            if any(f'href="/n/{o.user.number}"' in response.text for o in owners.values()):
                showing.add(path)
    assert {"/me/contacts", "/me/contacts/blocked"} <= showing  # the walk does find them
    assert not showing - set(SURFACES), sorted(showing - set(SURFACES))


@pytest.fixture
async def world(app: FastAPI, db: AsyncSession) -> AsyncIterator[dict[str, object]]:
    owners = {audience: await _owner(db, audience, app.state.images) for audience in AUDIENCES}
    member = await _person(db, "member")
    contact = await _person(db, "contact")
    blocked = await _person(db, "blocked")
    requested = await _person(db, "requested")
    blocker = await _person(db, "blocker")
    for owner in owners.values():
        db.add_all(
            [
                Contact(owner_id=owner.user.id, other_id=contact.id),
                Contact(owner_id=contact.id, other_id=owner.user.id),
                # A blocked contact is still blocked: the block wins.
                Contact(owner_id=owner.user.id, other_id=blocked.id),
                Contact(owner_id=blocked.id, other_id=owner.user.id),
                Block(owner_id=owner.user.id, blocked_id=blocked.id),
                # Lists: a request from each owner, and a block of each owner.
                ContactRequest(sender_id=owner.user.id, recipient_id=requested.id),
                Block(owner_id=blocker.id, blocked_id=owner.user.id),
                # Following: a member and a contact follow each owner.
                Follow(user_id=member.id, owner_id=owner.user.id),
                Follow(user_id=contact.id, owner_id=owner.user.id),
            ]
        )
    await db.commit()
    viewers: dict[str, httpx.AsyncClient] = {
        "anonymous": await _client(app, db, None),
        "member": await _client(app, db, member),
        "contact": await _client(app, db, contact),
        "blocked": await _client(app, db, blocked),
        "requested": await _client(app, db, requested),
        "blocker": await _client(app, db, blocker),
    }
    yield {"owners": owners, "viewers": viewers}
    for http in viewers.values():
        await http.aclose()


def _expected(surface: str, audience: str, viewer: str) -> Shown:
    """What a surface should show a viewer of an owner whose every field has ``audience``."""
    seen_as = "anonymous" if surface in AS_ANONYMOUS else SEES_AS.get(viewer, viewer)
    sees = SEES[(audience, seen_as)]
    fields = Shown(True, name=sees, bio=sees, avatar=sees, phone=sees, account=sees)
    if surface in CONVERSATIONS:
        # Signed-in people only, and never with oneself; the page names the other alone.
        if viewer in ("anonymous", "owner") or not sees:
            return Shown(found=False)
        return Shown(True, name=True) if surface.startswith("/conversations") else fields
    if surface == "discovery":
        # Whoever allows finding by phone is listed to signed-in people who have the number,
        # never to themselves or to someone they blocked; each field as its audience says.
        return fields if seen_as in ("member", "contact") else Shown(found=False)
    if surface == "contact list":
        # One's own list holds one's contacts (here the blocked viewer still has the rows).
        return fields if viewer in ("contact", "blocked") else Shown(found=False)
    if surface == "/api/v1/contact-requests":
        return fields if viewer == "requested" else Shown(found=False)
    if surface == "/api/v1/blocks":
        return fields if viewer == "blocker" else Shown(found=False)
    if surface == "/api/v1/follows":
        return fields if viewer in ("member", "contact") else Shown(found=False)
    # The list pages show a person's name and picture; the contact list their accounts too.
    listed = Shown(True, name=sees, avatar=sees)
    if surface == "/me/contacts":
        if viewer == "requested":  # the request from the owner
            return listed
        if viewer in ("contact", "blocked"):  # the owner among the contacts
            return Shown(True, name=sees, avatar=sees, account=sees)
        return Shown(found=False)
    if surface == "/me/contacts/blocked":
        return listed if viewer == "blocker" else Shown(found=False)
    if surface == "/search":
        if sees and seen_as in ("member", "contact"):
            return Shown(True, name=sees, avatar=sees, account=sees)
        return Shown(found=False)
    if surface == "search":
        # Signed-in people find others by what they may see of them, never themselves, and
        # never someone who blocked them.
        return fields if sees and seen_as in ("member", "contact") else Shown(found=False)
    if surface in ONLY_AVATAR:
        return Shown(found=sees, avatar=sees)
    if surface in ONLY_FOUND:
        return Shown(found=sees)
    if surface in AS_ANONYMOUS:
        return Shown(found=sees, account=sees)
    # Nothing to show: the same answer as a number nobody has.
    return fields if sees else Shown(found=False)


@pytest.mark.parametrize("surface", sorted(SURFACES))
async def test_each_viewer_sees_exactly_what_each_audience_allows(surface, world, app, db):
    owners: dict[str, Owner] = world["owners"]  # type: ignore[assignment]
    viewers: dict[str, httpx.AsyncClient] = world["viewers"]  # type: ignore[assignment]
    read = SURFACES[surface]
    failures = []
    for audience, owner in owners.items():
        for viewer in VIEWERS:
            if viewer == "owner":
                http = await _client(app, db, owner.user)
            else:
                http = viewers[viewer]
            shown = await read(http, owner)
            if "{number}" in surface:
                # Again, from the cards kept by the first lookup: the same answer.
                again = await read(http, owner)
                if again != shown:
                    failures.append(f"{audience} owner, {viewer} viewer, again: {again}")
            if viewer == "owner":
                await http.aclose()
            expected = _expected(surface, audience, viewer)
            if shown != expected:
                failures.append(f"{audience} owner, {viewer} viewer: {shown} != {expected}")
    assert not failures, "\n".join(failures)
