"""The unified feed's pages against a real feed server on this machine: the timeline and its
filters, pages without JavaScript and through htmx, read and starred by form and by htmx,
marking all read, the live count of new entries; the feeds page: adding (and a refusal shown on
the form), renaming, unfollowing, fetching now, OPML in and out; forms without their CSRF token
refused."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from portal.config import Settings
from portal.domain.feeds import opml
from portal.domain.feeds import read as feed_read
from portal.storage.models import FeedSource, User
from portal.web import feed as web_feed
from portal.web import sse
from tests.fixtures.app import HTML, csrf_from, get_csrf, make_settings
from tests.fixtures.feeds import FeedServer, send, serving
from tests.portal.domain import people
from tests.portal.domain.feeds.test_read import a_source, add_entries, feed_of, follow

HTMX = {**HTML, "hx-request": "true"}


@pytest.fixture
def settings() -> Settings:
    return make_settings(connectors_allow_loopback=True)


@dataclass
class Blog:
    count: int = 3
    title: str = "Ada writes"
    items: dict[int, str] = field(default_factory=dict)

    async def answer(self, writer: asyncio.StreamWriter, asked: dict[str, str]) -> None:
        items = "".join(
            f"<item><guid>{key}</guid><title>{self.items.get(key, f'Entry {key}')}</title>"
            f"<link>https://example.org/{key}</link>"
            f"<description>&lt;p&gt;Body of entry {key}&lt;/p&gt;</description>"
            f"<pubDate>Sun, {key:02d} Nov 2026 08:00:00 GMT</pubDate></item>"
            for key in range(1, self.count + 1)
        )
        body = (
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>{self.title}</title>'
            f"<link>https://example.org/</link>{items}</channel></rss>"
        ).encode()
        await send(writer, "200 OK", body, {"content-type": "application/rss+xml"})


@pytest.fixture
async def blog() -> AsyncIterator[tuple[FeedServer, Blog]]:
    feed = Blog()
    async with serving({"/rss": feed.answer}) as server:
        server.routes["/page"] = _page(b"<html><head><title>No feed</title></head></html>")
        yield server, feed


def _page(body: bytes):  # type: ignore[no-untyped-def]
    async def answer(writer: asyncio.StreamWriter, asked: dict[str, str]) -> None:
        await send(writer, "200 OK", body, {"content-type": "text/html"})

    return answer


async def _form(client: httpx.AsyncClient, path: str, page: str, **data: str) -> httpx.Response:
    token = await get_csrf(client, page)
    return await client.post(path, data={"csrf_token": token, **data}, headers=HTML)


async def _follow(client: httpx.AsyncClient, url: str, folder: str = "") -> httpx.Response:
    return await _form(client, "/feed/sources", "/feed/sources", url=url, folder=folder)


def _titles(html: str) -> list[str]:
    return re.findall(r"data-open>([^<]+)</a>", html)


def _ids(html: str) -> list[str]:
    return re.findall(r'id="entry-(\d+)" data-entry', html)


def _older(html: str) -> str:
    match = re.search(r'<a href="([^"]+)" class="button secondary" hx-get', html)
    assert match, "no link to older entries"
    return match.group(1).replace("&amp;", "&")


async def test_an_empty_feed_says_what_to_do(signed_in):
    page = await signed_in.get("/feed", headers=HTML)
    assert page.status_code == 200
    assert "Your feed is empty." in page.text
    assert 'href="/feed/sources"' in page.text and 'href="/search"' in page.text
    assert 'href="/feed" aria-current="page"' in page.text  # the place in the header


async def test_the_feed_lists_entries_newest_first_and_filters_them(signed_in, blog):
    server, _ = blog
    added = await _follow(signed_in, server.url("/rss"), folder="News")
    assert added.status_code == 303 and added.headers["location"] == "/feed/sources"

    page = await signed_in.get("/feed", headers=HTML)
    assert _titles(page.text) == ["Entry 3", "Entry 2", "Entry 1"]
    assert 'rel="noopener noreferrer" target="_blank"' in page.text
    assert "<p>Body of entry 3</p>" in page.text  # the sanitised HTML
    assert "<time datetime=" in page.text

    searched = await signed_in.get("/feed", params={"q": "Entry 2"}, headers=HTML)
    assert "Entry 2" in _titles(searched.text) and "Entry 3" not in _titles(searched.text)
    by_folder = await signed_in.get("/feed", params={"folder": "Elsewhere"}, headers=HTML)
    assert _titles(by_folder.text) == [] and "No entries to show." in by_folder.text
    by_network = await signed_in.get("/feed", params={"network": "mastodon"}, headers=HTML)
    assert _titles(by_network.text) == []
    mine = await signed_in.get("/feed", params={"network": "feed", "folder": "News"}, headers=HTML)
    assert len(_titles(mine.text)) == 3
    starred = await signed_in.get("/feed", params={"starred": "1"}, headers=HTML)
    assert _titles(starred.text) == []

    bad = await signed_in.get("/feed", params={"number": "12"}, headers=HTML)
    assert bad.status_code == 422 and 'class="alert"' in bad.text


async def test_older_entries_by_link_without_javascript_and_by_htmx(signed_in, blog, monkeypatch):
    server, feed = blog
    feed.count = 5
    monkeypatch.setattr(web_feed, "PAGE_SIZE", 2)
    await _follow(signed_in, server.url("/rss"))

    first = await signed_in.get("/feed", params={"unread": "1"}, headers=HTML)
    assert _titles(first.text) == ["Entry 5", "Entry 4"]
    older = _older(first.text)
    assert parse_qs(urlsplit(older).query)["unread"] == ["1"]  # the filters go along
    second = await signed_in.get(older, headers=HTML)
    assert _titles(second.text) == ["Entry 3", "Entry 2"]
    assert "<html" in second.text  # a whole page, without JavaScript

    fragment = await signed_in.get(older, headers=HTMX)
    assert "<html" not in fragment.text and _titles(fragment.text) == ["Entry 3", "Entry 2"]
    last = await signed_in.get(_older(fragment.text), headers=HTMX)
    assert _titles(last.text) == ["Entry 1"] and "You have reached the oldest entry." in last.text
    spoiled = await signed_in.get("/feed", params={"cursor": "nonsense"}, headers=HTML)
    assert spoiled.status_code == 422 and "This cursor is not valid" in spoiled.text


async def test_read_and_star_by_form_and_by_htmx(signed_in, blog):
    server, _ = blog
    await _follow(signed_in, server.url("/rss"))
    page = await signed_in.get("/feed", headers=HTML)
    newest, second, _ = _ids(page.text)
    token = csrf_from(page.text)

    read = await signed_in.post(
        f"/feed/{newest}/read",
        data={"csrf_token": token, "read": "1", "next": "/feed?unread=1"},
        headers=HTML,
    )
    assert read.status_code == 303 and read.headers["location"] == "/feed?unread=1"
    unread = await signed_in.get("/feed", params={"unread": "1"}, headers=HTML)
    assert _titles(unread.text) == ["Entry 2", "Entry 1"] and "Marked read." in unread.text

    swapped = await signed_in.post(
        f"/feed/{second}/star", data={"csrf_token": token, "starred": "1"}, headers=HTMX
    )
    assert swapped.status_code == 200 and "<html" not in swapped.text
    assert f'id="actions-{second}"' in swapped.text and 'data-starred="1"' in swapped.text
    starred = await signed_in.get("/feed", params={"starred": "1"}, headers=HTML)
    assert _titles(starred.text) == ["Entry 2"]

    again = await signed_in.post(
        f"/feed/{newest}/read", data={"csrf_token": token, "read": "0"}, headers=HTMX
    )
    assert 'data-read="0"' in again.text
    unread = await signed_in.get("/feed", params={"unread": "1"}, headers=HTML)
    assert len(_titles(unread.text)) == 3

    unknown = await signed_in.post(
        "/feed/999999/star", data={"csrf_token": token, "starred": "1"}, headers=HTML
    )
    assert unknown.status_code == 404
    refused = await signed_in.post(f"/feed/{second}/read", data={"read": "1"}, headers=HTML)
    assert refused.status_code == 403


async def test_mark_all_read_up_to_the_first_shown_within_the_filters(signed_in, blog):
    server, _ = blog
    await _follow(signed_in, server.url("/rss"))
    page = await signed_in.get("/feed", params={"q": "Entry 2"}, headers=HTML)
    up_to = re.search(r'name="up_to" value="([^"]+)"', page.text)
    assert up_to
    done = await signed_in.post(
        "/feed/read",
        data={"csrf_token": csrf_from(page.text), "up_to": up_to.group(1), "q": "Entry 2"},
        headers=HTML,
    )
    assert done.status_code == 303 and done.headers["location"] == "/feed?q=Entry+2"
    unread = await signed_in.get("/feed", params={"unread": "1"}, headers=HTML)
    assert _titles(unread.text) == ["Entry 3", "Entry 1"]

    top = await signed_in.get("/feed", headers=HTML)
    first = re.search(r'name="up_to" value="([^"]+)"', top.text)
    assert first
    everything = await signed_in.post(
        "/feed/read", data={"csrf_token": csrf_from(top.text), "up_to": first.group(1)}
    )
    assert everything.status_code == 303
    unread = await signed_in.get("/feed", params={"unread": "1"}, headers=HTML)
    assert _titles(unread.text) == []
    # Without the place the page showed, nothing is marked: no "everything" by omission.
    bare = await signed_in.post(
        "/feed/read", data={"csrf_token": csrf_from(top.text)}, headers=HTML
    )
    assert bare.status_code == 422


async def test_the_count_of_new_entries(signed_in, blog, db):
    server, _ = blog
    await _follow(signed_in, server.url("/rss"))
    page = await signed_in.get("/feed", headers=HTML)
    stream = re.search(r'id="feed-news" data-stream="([^"]+)"', page.text)
    assert stream and "since=" in stream.group(1)
    since = parse_qs(urlsplit(stream.group(1).replace("&amp;", "&")).query)["since"][0]

    user = (await db.scalars(select(User))).one()
    position = feed_read.position(since)
    assert await feed_read.count_newer(db, user, feed_read.Filters(), position) == 0
    timeline = await feed_read.timeline(db, user)  # the third entry's place: two are newer
    oldest = timeline.items[-1].position
    assert await feed_read.count_newer(db, user, feed_read.Filters(), oldest) == 2
    assert await feed_read.count_newer(db, user, feed_read.Filters(q="Entry 3"), oldest) == 1


async def test_the_stream_says_how_many_came(signed_in, blog, monkeypatch):
    server, feed = blog
    feed.count = 2
    await _follow(signed_in, server.url("/rss"))
    page = await signed_in.get("/feed", headers=HTML)
    stream = re.search(r'id="feed-news" data-stream="([^"]+)"', page.text)
    assert stream
    feed.count = 3
    source_id = re.search(r"source=(\d+)", (await signed_in.get("/feed/sources")).text)
    assert source_id
    fetched = await _form(signed_in, f"/feed/sources/{source_id.group(1)}/refresh", "/feed/sources")
    assert fetched.status_code == 303
    monkeypatch.setattr(sse, "LIFETIME_SECONDS", 0.0)
    answer = await signed_in.get(stream.group(1).replace("&amp;", "&"), headers=HTML)
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert "event: newer" in answer.text and '"count":1' in answer.text
    assert "1 new entry" in answer.text


async def test_sources_page_add_refuse_rename_refresh_unfollow(signed_in, blog, db):
    server, _ = blog
    empty = await signed_in.get("/feed/sources", headers=HTML)
    assert "You follow no feed yet." in empty.text

    refused = await _follow(signed_in, server.url("/page"))
    assert refused.status_code == 422
    assert 'id="url-error"' in refused.text and 'aria-invalid="true"' in refused.text
    assert server.url("/page") in refused.text  # what was typed stays
    private = await _follow(signed_in, "http://10.0.0.1/feed")
    assert private.status_code == 422 and 'id="url-error"' in private.text

    await _follow(signed_in, server.url("/rss"))
    listing = await signed_in.get("/feed/sources", headers=HTML)
    assert "You now follow Ada writes." in listing.text
    again = await _follow(signed_in, server.url("/rss"))
    assert again.status_code == 409 and "already follow" in again.text
    assert "Working" in listing.text and "Last fetched" in listing.text
    source_id = (await db.scalars(select(FeedSource.id))).one()

    renamed = await _form(
        signed_in, f"/feed/sources/{source_id}", "/feed/sources", title="Ada", folder="Friends"
    )
    assert renamed.status_code == 303
    listing = await signed_in.get("/feed/sources", headers=HTML)
    assert "<strong>" in listing.text and "Ada</strong>" in listing.text
    assert '<span class="badge">Friends</span>' in listing.text
    feed_page = await signed_in.get("/feed", headers=HTML)
    assert '<option value="Friends"' in feed_page.text

    fetched = await _form(signed_in, f"/feed/sources/{source_id}/refresh", "/feed/sources")
    assert fetched.status_code == 303
    assert "The feed is fetched." in (await signed_in.get("/feed/sources", headers=HTML)).text

    others = await _form(signed_in, "/feed/sources/999999/unsubscribe", "/feed/sources")
    assert others.status_code == 404
    gone = await _form(signed_in, f"/feed/sources/{source_id}/unsubscribe", "/feed/sources")
    assert gone.status_code == 303
    assert "You follow no feed yet." in (await signed_in.get("/feed/sources", headers=HTML)).text
    no_token = await signed_in.post("/feed/sources", data={"url": server.url("/rss")})
    assert no_token.status_code == 403


async def test_opml_out_and_in(signed_in, blog):
    server, _ = blog
    await _follow(signed_in, server.url("/rss"), folder="News")
    out = await signed_in.get("/feed/sources/opml")
    assert out.status_code == 200 and out.headers["content-type"].startswith("text/x-opml")
    assert "attachment" in out.headers["content-disposition"]
    outlines = opml.read(out.content).feeds
    assert [(o.url, o.folder) for o in outlines] == [(server.url("/rss"), "News")]

    token = await get_csrf(signed_in, "/feed/sources")
    document = opml.write(
        "Mine",
        [
            opml.Outline(server.url("/rss"), "Ada", None, None),
            opml.Outline("https://example.org/other.xml", "Other", "Later", None),
        ],
    )
    imported = await signed_in.post(
        "/feed/sources/opml",
        data={"csrf_token": token},
        files={"opml": ("feeds.opml", document, "text/x-opml")},
        headers=HTML,
    )
    assert imported.status_code == 303
    listing = await signed_in.get("/feed/sources", headers=HTML)
    assert "Imported: 1 new, 1 followed already, 0 unreadable." in listing.text
    assert "https://example.org/other.xml" in listing.text and "Not fetched yet" in listing.text

    bad = await signed_in.post(
        "/feed/sources/opml",
        data={"csrf_token": token},
        files={"opml": ("feeds.opml", b"<html>not a list</html>", "text/html")},
        headers=HTML,
    )
    assert bad.status_code == 422
    assert 'id="opml-error"' in bad.text and "not an OPML subscription list" in bad.text
    none = await signed_in.post("/feed/sources/opml", data={"csrf_token": token}, headers=HTML)
    assert none.status_code == 422 and "Choose an OPML file" in none.text


async def test_another_readers_entries_are_not_mine_to_mark(signed_in, blog, bob):
    """An entry of another reader's feed and one that does not exist answer alike, read or
    star, and each costs a lookup's miss; a form without its state changes nothing."""
    server, _ = blog
    await _follow(signed_in, server.url("/rss"))
    newest = _ids((await signed_in.get("/feed", headers=HTML)).text)[0]
    token = await get_csrf(bob, "/feed")
    for entry in (newest, 999_999):
        for path, name in (("read", "read"), ("star", "starred")):
            answer = await bob.post(
                f"/feed/{entry}/{path}", data={"csrf_token": token, name: "1"}, headers=HTML
            )
            assert answer.status_code == 404
            assert "There is no such entry in your feed." in answer.text
    mine_token = await get_csrf(signed_in, "/feed")
    for path in ("read", "star"):
        bare = await signed_in.post(f"/feed/{newest}/{path}", data={"csrf_token": mine_token})
        assert bare.status_code == 422, path
    mine = await signed_in.get("/feed", params={"unread": "1"}, headers=HTML)
    assert newest in _ids(mine.text)  # still unread: nothing by omission
    # A miss costs LOOKUP_MISS_COST lookups: within nineteen tries the limiter stops Bob.
    tries = [
        (
            await bob.post(f"/feed/{n}/read", data={"csrf_token": token, "read": "1"}, headers=HTML)
        ).status_code
        for n in range(1, 20)
    ]
    assert 429 in tries


async def test_entries_of_someone_followed_name_them_and_link_their_number(signed_in, db):
    ada = (await db.scalars(select(User))).one()
    bob = await people.person(db, "Bob")
    source = await a_source(db, "Bob's toots")
    await add_entries(db, source, ["Hello from Bob"])
    await feed_of(db, bob, "mastodon", source)
    await follow(db, ada, bob)

    page = await signed_in.get("/feed", headers=HTML)
    assert _titles(page.text) == [] and "Hello from Bob" in page.text  # an entry with no link
    assert f'<a href="/n/{bob.number}" class="number">' in page.text and "Bob " in page.text
    assert "#net-mastodon" in page.text
    by_person = await signed_in.get("/feed", params={"number": bob.number}, headers=HTML)
    assert "Hello from Bob" in by_person.text
    by_network = await signed_in.get("/feed", params={"network": "feed"}, headers=HTML)
    assert "Hello from Bob" not in by_network.text
