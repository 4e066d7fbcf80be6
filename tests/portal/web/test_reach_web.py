"""The page where I say who may message me and on which messengers, in which order: a form
that works without script (its buttons move a messenger up or down) and with htmx."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.storage.models import User
from tests.fixtures.app import HTML, get_csrf, my_number
from tests.portal.domain import people


async def _mine(client: httpx.AsyncClient, db: AsyncSession) -> dict[str, int]:
    """Three messengers and a code forge linked to the signed-in person: their ids."""
    number = await my_number(client)
    user = await db.scalar(select(User).where(User.number == number))
    assert user is not None
    found = {}
    for position, (network, handle) in enumerate(
        [
            ("matrix", "@me:matrix.org"),
            ("github", "me"),
            ("xmpp", "me@jabber.example"),
            ("telegram", "me_on_telegram"),
        ]
    ):
        linked = await people.account(db, user, network, handle)
        linked.position = position
        found[network] = linked.id
    await db.commit()
    return found


def _listed(html: str) -> list[tuple[str, bool]]:
    """The messengers of the form, in order, and whether each is ticked."""
    return [
        (network, bool(checked))
        for checked, network in re.findall(
            r'<input type="checkbox" name="on" value="\d+"( checked)?>.*?#net-(\w+)', html, re.S
        )
    ]


async def _post(
    client: httpx.AsyncClient, fields: list[tuple[str, str]], htmx: bool = False
) -> httpx.Response:
    """Post the form as a browser does, each field in the order given (repeated ones too)."""
    token = await get_csrf(client, "/me/reach")
    headers = {**HTML, "hx-request": "true"} if htmx else HTML
    data: dict[str, list[str]] = {"csrf_token": [token]}
    for name, value in fields:
        data.setdefault(name, []).append(value)
    return await client.post("/me/reach", data=data, headers=headers)


async def test_messengers_are_ticked_moved_and_saved(
    signed_in: httpx.AsyncClient, db: AsyncSession
) -> None:
    ids = await _mine(signed_in, db)
    page = await signed_in.get("/me/reach", headers=HTML)
    assert page.status_code == 200
    assert "How people reach me" in page.text
    assert _listed(page.text) == [("matrix", True), ("xmpp", True), ("telegram", True)]
    order = [("order", str(ids[n])) for n in ("matrix", "xmpp", "telegram")]

    # Without script: the button pressed moves Telegram up; XMPP is unticked.
    ticked = [("on", str(ids["matrix"])), ("on", str(ids["telegram"]))]
    saved = await _post(
        signed_in,
        [("messages_from", "members"), *order, *ticked, ("up", str(ids["telegram"]))],
    )
    assert saved.status_code == 200, saved.text
    assert _listed(saved.text) == [("matrix", True), ("telegram", True), ("xmpp", False)]
    shown = await signed_in.get("/api/v1/me/reach")
    assert shown.json()["messages_from"] == "members"
    assert [(c["network"], c["rank"]) for c in shown.json()["channels"]] == [
        ("matrix", 1),
        ("telegram", 2),
        ("xmpp", None),
    ]

    # With htmx the form alone comes back; moving the first one up keeps it first.
    order = [("order", str(ids[n])) for n in ("matrix", "telegram", "xmpp")]
    again = await _post(
        signed_in,
        [("messages_from", "contacts"), *order, *ticked, ("up", str(ids["matrix"]))],
        htmx=True,
    )
    assert again.status_code == 200
    assert "<html" not in again.text and 'id="reach-form"' in again.text
    assert _listed(again.text)[:2] == [("matrix", True), ("telegram", True)]


async def test_a_wrong_form_is_refused_with_words_and_changes_nothing(
    signed_in: httpx.AsyncClient, db: AsyncSession
) -> None:
    ids = await _mine(signed_in, db)
    refused = await _post(signed_in, [("messages_from", "everyone"), ("on", str(ids["github"]))])
    assert refused.status_code == 422
    assert "Choose who may message you" in refused.text
    shown = await signed_in.get("/api/v1/me/reach")
    assert shown.json()["messages_from"] == "contacts"
    # An account that is not a messenger of mine, ticked by a hand-made form.
    refused = await _post(signed_in, [("order", str(ids["github"])), ("on", str(ids["github"]))])
    assert refused.status_code == 422
    assert "not a messenger account of yours" in refused.text


async def test_the_form_needs_its_csrf_token(signed_in: httpx.AsyncClient) -> None:
    refused = await signed_in.post("/me/reach", data={"messages_from": "nobody"}, headers=HTML)
    assert refused.status_code == 403


async def test_without_messengers_the_page_says_where_to_link_one(
    signed_in: httpx.AsyncClient,
) -> None:
    page = await signed_in.get("/me/reach", headers=HTML)
    assert "You have linked no messenger yet" in page.text
    assert 'href="/me/accounts"' in page.text
