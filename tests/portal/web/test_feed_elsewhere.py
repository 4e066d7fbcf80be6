"""Reading one's feed elsewhere, from the feeds page: a private address shown once and working,
a Fever password set and stopped, the digest's hour chosen (a wrong one refused in words), and
the digest's page, which says what came since one last opened the feed."""

from __future__ import annotations

import hashlib
import re

import feedparser
from sqlalchemy import select

from portal.storage.models import FeedSubscription, User, utcnow
from tests.fixtures.app import HTML, csrf_from, get_csrf
from tests.portal.domain.feeds.test_read import a_source, add_entries

ADDRESS = re.compile(r'value="https://portal\.test(/feeds/[\w-]+\.atom)"')


async def _me(db) -> User:
    user = await db.scalar(select(User).where(User.email == "ada@example.org"))
    assert user is not None
    return user


async def test_a_private_address_is_shown_once_and_serves_the_feed(signed_in, db):
    me = await _me(db)
    source = await a_source(db, "Chess news")
    db.add(FeedSubscription(user_id=me.id, source_id=source.id))
    await add_entries(db, source, ["Opening", "Endgame"])
    await db.commit()
    token = await get_csrf(signed_in, "/feed/sources")
    made = await signed_in.post("/feed/sources/address", data={"csrf_token": token}, headers=HTML)
    assert made.status_code == 200
    [path] = ADDRESS.findall(made.text)
    assert "shown only once" in made.text
    atom = await signed_in.get(path)
    assert atom.status_code == 200
    assert [e.title for e in feedparser.parse(atom.content).entries] == ["Endgame", "Opening"]
    again = await signed_in.get("/feed/sources", headers=HTML)
    assert path not in again.text  # never shown again
    assert "Make a new private address" in again.text

    ended = await signed_in.post(
        "/feed/sources/address/forget", data={"csrf_token": csrf_from(again.text)}, headers=HTML
    )
    assert ended.status_code == 303
    assert (await signed_in.get(path)).status_code == 404


async def test_a_fever_password_is_set_and_stopped(signed_in, db):
    token = await get_csrf(signed_in, "/feed/sources")
    short = await signed_in.post(
        "/feed/sources/fever", data={"csrf_token": token, "password": "short"}, headers=HTML
    )
    assert short.status_code == 422
    assert "at least 12 characters" in short.text and 'aria-invalid="true"' in short.text
    ok = await signed_in.post(
        "/feed/sources/fever",
        data={"csrf_token": token, "password": "a long fever password"},
        headers=HTML,
    )
    assert ok.status_code == 303
    me = await _me(db)
    key = hashlib.md5(f"{me.number}:a long fever password".encode()).hexdigest()  # noqa: S324
    answer = await signed_in.post("/fever/?api", data={"api_key": key})
    assert answer.json()["auth"] == 1
    page = await signed_in.get("/feed/sources", headers=HTML)
    assert f"username: {me.number}" in page.text
    await signed_in.post(
        "/feed/sources/fever/forget", data={"csrf_token": csrf_from(page.text)}, headers=HTML
    )
    assert (await signed_in.post("/fever/?api", data={"api_key": key})).json()["auth"] == 0


async def test_the_digest_hour_is_chosen_and_a_wrong_one_refused(signed_in, db):
    token = await get_csrf(signed_in, "/feed/sources")
    for wrong in ("25", "seven", "-1"):
        refused = await signed_in.post(
            "/feed/sources/digest", data={"csrf_token": token, "hour": wrong}, headers=HTML
        )
        assert refused.status_code == 422
        assert "Choose an hour from 0 to 23." in refused.text
    chosen = await signed_in.post(
        "/feed/sources/digest", data={"csrf_token": token, "hour": "7"}, headers=HTML
    )
    assert chosen.status_code == 303
    page = await signed_in.get("/feed/sources", headers=HTML)
    assert '<option value="7" selected>' in page.text
    await signed_in.post("/feed/sources/digest", data={"csrf_token": token, "hour": ""})
    assert (await _me(db)).digest_hour is None


async def test_the_digest_page_tells_what_came_since_the_feed_was_opened(signed_in, db):
    me = await _me(db)
    source = await a_source(db, "Chess news")
    db.add(FeedSubscription(user_id=me.id, source_id=source.id))
    await add_entries(db, source, ["Fresh move"], at=utcnow())
    await db.commit()
    page = await signed_in.get("/feed/digest", headers=HTML)
    assert page.status_code == 200
    assert "Chess news" in page.text and "Fresh move" in page.text
    assert "1 new entry since" in page.text

    await signed_in.get("/feed", params={"q": "move"}, headers=HTML)  # a search: not seen
    assert "Fresh move" in (await signed_in.get("/feed/digest", headers=HTML)).text
    await signed_in.get("/feed", headers=HTML)  # opening the feed: seen
    empty = await signed_in.get("/feed/digest", headers=HTML)
    assert "Nothing new since you last looked." in empty.text


async def test_the_forms_want_their_csrf_token(signed_in):
    for path, data in (
        ("/feed/sources/address", {}),
        ("/feed/sources/fever", {"password": "a long fever password"}),
        ("/feed/sources/digest", {"hour": "7"}),
    ):
        response = await signed_in.post(path, data=data, headers=HTML)
        assert response.status_code == 403, path
