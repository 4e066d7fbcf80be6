"""The unified feed and the feeds one follows, through the JSON API, against a real feed server
on this machine: following, listing with health, renaming, refreshing, unfollowing, OPML both
ways, the feed's pages and filters, read and starred; ids of others' sources and entries
answered as unknown ones and counted as lookups."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from portal.config import Settings
from portal.domain.feeds import opml
from portal.storage.models import FeedEntry, FeedSource
from tests.fixtures.app import api_sign_up, api_token, make_settings
from tests.fixtures.feeds import FeedServer, send, serving


@pytest.fixture
def settings() -> Settings:
    return make_settings(connectors_allow_loopback=True)


@dataclass
class Blog:
    items: dict[str, str] = field(default_factory=lambda: {"1": "First chess", "2": "Second"})
    status: str = "200 OK"

    async def answer(self, writer: asyncio.StreamWriter, asked: dict[str, str]) -> None:
        if self.status != "200 OK":
            await send(writer, self.status)
            return
        items = "".join(
            f"<item><guid>{key}</guid><title>{title}</title><description>{title}</description>"
            f"<pubDate>Sun, 0{key} Nov 2026 08:00:00 GMT</pubDate></item>"
            for key, title in self.items.items()
        )
        body = (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>Ada writes</title>'
            f"<link>https://example.org/</link>{items}</channel></rss>"
        ).encode()
        await send(writer, "200 OK", body, {"content-type": "application/rss+xml"})


@pytest.fixture
async def blog() -> AsyncIterator[tuple[FeedServer, Blog]]:
    feed = Blog()
    async with serving({"/rss": feed.answer}) as server:
        yield server, feed


async def _person(client: httpx.AsyncClient, name: str) -> dict[str, str]:
    email = f"{name.lower()}@example.org"
    await api_sign_up(client, email=email, display_name=name)
    return {"authorization": f"Bearer {await api_token(client, email=email)}"}


async def test_follow_a_feed_read_it_rename_refresh_and_leave_it(client, blog, db):
    server, feed = blog
    ada = await _person(client, "Ada")
    added = await client.post(
        "/api/v1/sources", json={"url": server.url("/rss"), "folder": "News"}, headers=ada
    )
    assert added.status_code == 201, added.text
    source = added.json()
    assert source["title"] == "Ada writes" and source["folder"] == "News"
    assert source["health"]["last_error"] is None and source["health"]["paused"] is False
    again = await client.post("/api/v1/sources", json={"url": server.url("/rss")}, headers=ada)
    assert again.status_code == 409 and "already follow" in again.json()["detail"]

    page = (await client.get("/api/v1/feed", headers=ada)).json()
    assert [i["title"] for i in page["items"]] == ["Second", "First chess"]
    assert page["items"][0]["source"] == {
        "id": source["id"],
        "title": "Ada writes",
        "network": "feed",
        "account_id": None,
    }
    assert page["items"][0]["person"] is None and page["next_cursor"] is None

    renamed = await client.patch(
        f"/api/v1/sources/{source['id']}", json={"title": "  Ada's\x00  blog\n"}, headers=ada
    )
    assert renamed.status_code == 200 and renamed.json()["title"] == "Ada's blog"
    assert renamed.json()["folder"] == "News" and renamed.json()["feed_title"] == "Ada writes"
    page = (await client.get("/api/v1/feed?folder=News", headers=ada)).json()
    assert {i["source"]["title"] for i in page["items"]} == {"Ada's blog"}

    feed.items["3"] = "Third"
    refreshed = await client.post(f"/api/v1/sources/{source['id']}/refresh", headers=ada)
    assert refreshed.status_code == 200, refreshed.text
    page = (await client.get("/api/v1/feed?limit=1", headers=ada)).json()
    assert [i["title"] for i in page["items"]] == ["Third"] and page["next_cursor"]
    rest = (await client.get(f"/api/v1/feed?cursor={page['next_cursor']}", headers=ada)).json()
    assert [i["title"] for i in rest["items"]] == ["Second", "First chess"]

    feed.status = "503 Service Unavailable"
    failed = await client.post(
        f"/api/v1/sources/{source['id']}/refresh",
        headers={**ada, "accept-language": "it"},
    )
    health = failed.json()["health"]
    assert health["last_error"] == "Il server al momento non funziona (HTTP 503)."
    assert health["failures"] == 1
    listed = (await client.get("/api/v1/sources", headers=ada)).json()
    assert [s["health"]["last_error"] for s in listed] == [
        "The server is not working right now (HTTP 503)."
    ]

    gone = await client.delete(f"/api/v1/sources/{source['id']}", headers=ada)
    assert gone.status_code == 204
    assert (await client.get("/api/v1/sources", headers=ada)).json() == []
    assert (await client.get("/api/v1/feed", headers=ada)).json()["items"] == []
    # Nobody reads it any more: the source and its entries are gone.
    assert await db.scalar(select(func.count()).select_from(FeedSource)) == 0
    assert await db.scalar(select(func.count()).select_from(FeedEntry)) == 0


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://10.1.2.3/feed", "private network"),
        ("javascript:alert(1)", "Only http and https"),
        ("", "not a web address"),
        ("http://exa\x00mple.org/feed", "not a web address"),
    ],
)
async def test_an_address_that_cannot_be_followed_is_a_422_in_words(client, url, words):
    ada = await _person(client, "Ada")
    refused = await client.post("/api/v1/sources", json={"url": url}, headers=ada)
    assert refused.status_code == 422 and words in refused.json()["detail"]
    assert refused.json()["field"] == "url"


async def test_states_filters_and_search(client, blog):
    server, _ = blog
    ada = await _person(client, "Ada")
    await client.post("/api/v1/sources", json={"url": server.url("/rss")}, headers=ada)
    items = (await client.get("/api/v1/feed", headers=ada)).json()["items"]
    second, first = items
    starred = await client.put(f"/api/v1/feed/{first['id']}/star", headers=ada)
    assert starred.status_code == 204
    only = (await client.get("/api/v1/feed?starred=true", headers=ada)).json()["items"]
    assert [i["id"] for i in only] == [first["id"]] and only[0]["starred"]
    unstarred = await client.delete(f"/api/v1/feed/{first['id']}/star", headers=ada)
    assert unstarred.status_code == 204
    assert (await client.get("/api/v1/feed?starred=true", headers=ada)).json()["items"] == []

    marked = await client.post("/api/v1/feed/read", json={"ids": [first["id"]]}, headers=ada)
    assert marked.json() == {"changed": 1}
    unread = (await client.get("/api/v1/feed?unread=1", headers=ada)).json()["items"]
    assert [i["id"] for i in unread] == [second["id"]]
    again = await client.post(
        "/api/v1/feed/read", json={"ids": [first["id"]], "read": False}, headers=ada
    )
    assert again.json() == {"changed": 1}
    up_to = await client.post(
        "/api/v1/feed/read", json={"up_to": first["cursor"], "q": "chess"}, headers=ada
    )
    assert up_to.json() == {"changed": 1}
    everything = await client.post("/api/v1/feed/read", json={"all": True}, headers=ada)
    assert everything.json() == {"changed": 1}
    assert (await client.get("/api/v1/feed?unread=true", headers=ada)).json()["items"] == []

    found = (await client.get("/api/v1/feed", params={"q": "CHESS"}, headers=ada)).json()
    assert [i["title"] for i in found["items"]] == ["First chess"]
    for hostile in ['"', "*", "AND (", "NEAR(", 'chess" OR "', "^x"]:
        answer = await client.get("/api/v1/feed", params={"q": hostile}, headers=ada)
        assert answer.status_code == 200, (hostile, answer.text)
    for name in ("q", "network", "folder"):  # PostgreSQL refuses a NUL in text
        answer = await client.get("/api/v1/feed", params={name: "a\x00b\x01"}, headers=ada)
        assert answer.status_code == 200 and answer.json()["items"] == [], name
    assert (await client.get("/api/v1/feed?network=feed", headers=ada)).json()["items"]
    assert (await client.get("/api/v1/feed?network=mastodon", headers=ada)).json()["items"] == []


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        ("/api/v1/feed?cursor=nonsense", None, "cursor is not valid"),
        ("/api/v1/feed?number=12", None, "portal number"),
        ("/api/v1/feed?limit=0", None, "limit"),
        ("/api/v1/feed?source=abc", None, "source"),
        ("/api/v1/feed/read", {}, "Send either"),
        ("/api/v1/feed/read", {"ids": [1], "all": True}, "Send either"),
        ("/api/v1/feed/read", {"up_to": "%%%"}, "cursor is not valid"),
        ("/api/v1/feed/read", {"ids": list(range(501))}, "ids"),
        ("/api/v1/sources/opml", b"<html>no</html>", "not an OPML"),
        ("/api/v1/sources/opml", b"", "OPML list"),
    ],
)
async def test_bad_input_is_a_4xx_in_words(client, path, body, words):
    ada = await _person(client, "Ada")
    if body is None:
        answer = await client.get(path, headers=ada)
    elif isinstance(body, bytes):
        answer = await client.post(path, content=body, headers=ada)
    else:
        answer = await client.post(path, json=body, headers=ada)
    assert answer.status_code == 422, answer.text
    assert words in answer.json()["detail"]


async def test_ids_of_others_answer_as_unknown_ones(client, blog):
    server, _ = blog
    ada, bob = await _person(client, "Ada"), await _person(client, "Bob")
    added = await client.post("/api/v1/sources", json={"url": server.url("/rss")}, headers=bob)
    theirs = added.json()["id"]
    entry = (await client.get("/api/v1/feed", headers=bob)).json()["items"][0]["id"]
    unknown_source, unknown_entry = theirs + 1000, entry + 1000
    for method, known, unknown, body in [
        ("PATCH", f"/api/v1/sources/{theirs}", f"/api/v1/sources/{unknown_source}", {}),
        ("DELETE", f"/api/v1/sources/{theirs}", f"/api/v1/sources/{unknown_source}", None),
        (
            "POST",
            f"/api/v1/sources/{theirs}/refresh",
            f"/api/v1/sources/{unknown_source}/refresh",
            None,
        ),
        ("PUT", f"/api/v1/feed/{entry}/star", f"/api/v1/feed/{unknown_entry}/star", None),
        ("DELETE", f"/api/v1/feed/{entry}/star", f"/api/v1/feed/{unknown_entry}/star", None),
    ]:
        other = await client.request(method, known, json=body, headers=ada)
        nothing = await client.request(method, unknown, json=body, headers=ada)
        assert other.status_code == nothing.status_code == 404, (method, known)
        assert other.content == nothing.content
        assert dict(other.headers) == dict(nothing.headers)
    marked = await client.post("/api/v1/feed/read", json={"ids": [entry]}, headers=ada)
    assert marked.json() == {"changed": 0}
    assert (await client.get(f"/api/v1/feed?source={theirs}", headers=ada)).json()["items"] == []
    # Bob's feed is as he left it.
    assert len((await client.get("/api/v1/sources", headers=bob)).json()) == 1


async def test_guessing_ids_spends_the_lookup_budget(client):
    ada = await _person(client, "Ada")
    answers = [
        (await client.patch(f"/api/v1/sources/{n}", json={}, headers=ada)).status_code
        for n in range(1000, 1013)
    ]
    assert answers[:12] == [404] * 12 and answers[12] == 429
    # The same budget as looking numbers up, and as the other routes that take an id.
    assert (await client.get("/api/v1/numbers/12345674", headers=ada)).status_code == 429
    assert (await client.put("/api/v1/feed/1/star", headers=ada)).status_code == 429
    assert (await client.post("/api/v1/sources/1/refresh", headers=ada)).status_code == 429


async def test_opml_in_and_out_without_fetching(client, blog):
    server, _ = blog
    ada = await _person(client, "Ada")
    await client.post("/api/v1/sources", json={"url": server.url("/rss")}, headers=ada)
    fetched = len(server.requests)
    document = opml.write(
        "Mine",
        [
            opml.Outline(server.url("/rss"), "Known", "Old"),
            opml.Outline("https://news.example/feed", "News", "Daily", "https://news.example/"),
            opml.Outline("https://other.example/atom", "", None),
        ],
    ).replace(b"</body>", b'<outline xmlUrl="file:///etc/passwd"/></body>')
    imported = await client.post(
        "/api/v1/sources/opml", content=document, headers={**ada, "content-type": "text/x-opml"}
    )
    assert imported.status_code == 200, imported.text
    assert imported.json() == {"added": 2, "already": 1, "unreadable": 1}
    assert len(server.requests) == fetched  # nothing fetched on the request
    listed = (await client.get("/api/v1/sources", headers=ada)).json()
    assert sorted((s["folder"], s["title"]) for s in listed) == [
        ("", "Ada writes"),
        ("", "https://other.example/atom"),  # the outline's text, until the poller reads it
        ("Daily", "News"),
    ]

    exported = await client.get("/api/v1/sources/opml", headers=ada)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/x-opml")
    back = opml.read(exported.content)
    assert {(f.url, f.folder) for f in back.feeds} == {
        (server.url("/rss"), None),
        ("https://news.example/feed", "Daily"),
        ("https://other.example/atom", None),
    }


async def test_the_feed_needs_a_signed_in_person(client):
    for method, path in [
        ("GET", "/api/v1/feed"),
        ("GET", "/api/v1/sources"),
        ("POST", "/api/v1/sources"),
        ("GET", "/api/v1/sources/opml"),
    ]:
        assert (await client.request(method, path)).status_code == 401


def test_the_openapi_document_has_every_route(app: FastAPI):
    paths = app.openapi()["paths"]
    wanted = {
        "/api/v1/sources": {"get", "post"},
        "/api/v1/sources/{source_id}": {"patch", "delete"},
        "/api/v1/sources/{source_id}/refresh": {"post"},
        "/api/v1/sources/opml": {"get", "post"},
        "/api/v1/feed": {"get"},
        "/api/v1/feed/read": {"post"},
        "/api/v1/feed/{entry_id}/star": {"put", "delete"},
    }
    for path, methods in wanted.items():
        assert set(paths[path]) == methods, path
    page = paths["/api/v1/feed"]["get"]
    assert {p["name"] for p in page["parameters"]} >= {
        "cursor",
        "network",
        "number",
        "source",
        "folder",
        "unread",
        "starred",
        "q",
        "limit",
    }
    assert "EntryOut" in app.openapi()["components"]["schemas"]
    body = paths["/api/v1/sources/opml"]["post"]["requestBody"]["content"]
    assert "text/x-opml" in body


async def test_a_method_no_route_has_is_a_405_not_a_bad_id(client):
    ada = await _person(client, "Ada")
    answer = await client.patch("/api/v1/sources/opml", json={}, headers=ada)
    assert answer.status_code == 405
    assert (await client.delete("/api/v1/feed/read", headers=ada)).status_code == 405
