"""The unified feed for reader apps, with the request shapes of the Fever API's documentation
(https://feedafever.com/api: a form posted to ``?api&…`` with ``api_key``, the MD5 of
``username:password``) and the private Atom and JSON Feed address; what they show is what the
person reads, and keys that open nothing are counted."""

from __future__ import annotations

import hashlib
import json

import feedparser
import httpx
import pytest
from sqlalchemy import select

from portal.config import Settings
from portal.domain.feeds.fever import folder_group
from portal.storage.models import Follow, LinkedAccount, User
from tests.fixtures.app import api_sign_up, api_token, make_settings
from tests.fixtures.feeds import send, serving

PASSWORD = "a fever password"


@pytest.fixture
def settings() -> Settings:
    return make_settings(connectors_allow_loopback=True)


def _rss(title: str, items: dict[str, str]) -> bytes:
    entries = "".join(
        f"<item><guid>{key}</guid><title>{words}</title><link>https://example.org/{key}</link>"
        f"<description>&lt;p&gt;{words}&lt;/p&gt;</description>"
        f"<pubDate>Sun, 0{key} Nov 2026 08:00:00 GMT</pubDate></item>"
        for key, words in items.items()
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>https://example.org/</link>{entries}</channel></rss>"
    ).encode()


@pytest.fixture
async def feeds():
    async def news(writer, asked):
        body = _rss("News", {"1": "One", "2": "Two", "3": "Three"})
        await send(writer, "200 OK", body, {"content-type": "application/rss+xml"})

    async def chess(writer, asked):
        body = _rss("Chess", {"4": "Opening"})
        await send(writer, "200 OK", body, {"content-type": "application/rss+xml"})

    async with serving({"/news": news, "/chess": chess}) as server:
        yield server


async def _person(client: httpx.AsyncClient, name: str) -> tuple[dict[str, str], str]:
    email = f"{name.lower()}@example.org"
    await api_sign_up(client, email=email, display_name=name)
    auth = {"authorization": f"Bearer {await api_token(client, email=email)}"}
    number = (await client.get("/api/v1/me", headers=auth)).json()["number"]
    return auth, number


async def _reader(client, feeds) -> tuple[dict[str, str], str, str]:
    """Ada follows two feeds (one in a folder) and sets a Fever password: her auth, her Fever
    key, her number."""
    ada, number = await _person(client, "Ada")
    for path, folder in (("/news", "Daily"), ("/chess", "")):
        added = await client.post(
            "/api/v1/sources", json={"url": feeds.url(path), "folder": folder}, headers=ada
        )
        assert added.status_code == 201, added.text
    answer = await client.put("/api/v1/me/fever", json={"password": PASSWORD}, headers=ada)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"url": "https://portal.test/fever/", "username": number}
    key = hashlib.md5(f"{number}:{PASSWORD}".encode()).hexdigest()  # noqa: S324
    return ada, key, number


async def _fever(client: httpx.AsyncClient, key: str, query: str, **form: str) -> dict:
    response = await client.post(f"/fever/?api&{query}", data={"api_key": key, **form})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


async def test_a_fever_app_reads_groups_feeds_and_items(client, feeds):
    _, key, _ = await _reader(client, feeds)
    hello = await _fever(client, key, "")
    assert hello["api_version"] == 3 and hello["auth"] == 1
    assert hello["last_refreshed_on_time"] > 0

    groups = await _fever(client, key, "groups")
    assert groups["groups"] == [{"id": folder_group("Daily"), "title": "Daily"}]
    feeds_answer = await _fever(client, key, "feeds")
    by_title = {feed["title"]: feed for feed in feeds_answer["feeds"]}
    assert set(by_title) == {"News", "Chess"}
    assert by_title["News"]["url"] == feeds.url("/news")
    assert feeds_answer["feeds_groups"] == [
        {"group_id": folder_group("Daily"), "feed_ids": str(by_title["News"]["id"])}
    ]

    newest = await _fever(client, key, "items")
    assert newest["total_items"] == 4
    titles = [item["title"] for item in newest["items"]]
    assert sorted(titles) == ["One", "Opening", "Three", "Two"]
    item = next(i for i in newest["items"] if i["title"] == "Two")
    assert item["url"] == "https://example.org/2" and item["html"] == "<p>Two</p>"
    assert item["is_read"] == 0 and item["is_saved"] == 0
    assert item["feed_id"] == by_title["News"]["id"]
    ids = sorted(i["id"] for i in newest["items"])

    forward = await _fever(client, key, "items", since_id=str(ids[1]))
    assert [i["id"] for i in forward["items"]] == ids[2:]
    backward = await _fever(client, key, "items", max_id=str(ids[2]))
    assert [i["id"] for i in backward["items"]] == [ids[1], ids[0]]
    chosen = await _fever(client, key, "items", with_ids=f"{ids[0]},{ids[3]},999999,x")
    assert [i["id"] for i in chosen["items"]] == [ids[0], ids[3]]

    nothing = await _fever(client, key, "favicons&links")
    assert nothing["favicons"] == [] and nothing["links"] == []


async def test_a_fever_app_marks_items_feeds_and_groups(client, feeds):
    ada, key, _ = await _reader(client, feeds)
    ids = sorted(i["id"] for i in (await _fever(client, key, "items"))["items"])
    unread = await _fever(client, key, "unread_item_ids")
    assert unread["unread_item_ids"] == ",".join(map(str, ids))

    answer = await _fever(client, key, "", mark="item", id=str(ids[0]), **{"as": "read"})
    assert answer["unread_item_ids"] == ",".join(map(str, ids[1:]))
    answer = await _fever(client, key, "", mark="item", id=str(ids[0]), **{"as": "saved"})
    assert answer["saved_item_ids"] == str(ids[0])
    page = (await client.get("/api/v1/feed", headers=ada)).json()
    first = next(i for i in page["items"] if i["id"] == ids[0])
    assert first["read"] is True and first["starred"] is True  # the same state as the portal's

    await _fever(client, key, "", mark="item", id=str(ids[0]), **{"as": "unread"})
    await _fever(client, key, "", mark="item", id=str(ids[0]), **{"as": "unsaved"})
    states = await _fever(client, key, "unread_item_ids&saved_item_ids")
    assert states["unread_item_ids"] == ",".join(map(str, ids))
    assert states["saved_item_ids"] == ""

    daily = str(folder_group("Daily"))
    answer = await _fever(
        client, key, "", mark="group", id=daily, before="4102444800", **{"as": "read"}
    )
    news_ids = [
        i["id"] for i in (await _fever(client, key, "items"))["items"] if i["title"] != "Opening"
    ]
    assert answer["unread_item_ids"] == ",".join(str(i) for i in ids if i not in news_ids)
    feeds_answer = await _fever(client, key, "feeds")
    chess = next(f["id"] for f in feeds_answer["feeds"] if f["title"] == "Chess")
    answer = await _fever(
        client, key, "", mark="feed", id=str(chess), before="4102444800", **{"as": "read"}
    )
    assert answer["unread_item_ids"] == ""


async def test_a_fever_app_sees_nothing_of_another_persons_feed(client, feeds):
    _, ada_key, _ = await _reader(client, feeds)
    ada_ids = [i["id"] for i in (await _fever(client, ada_key, "items"))["items"]]
    grace, grace_number = await _person(client, "Grace")
    await client.put("/api/v1/me/fever", json={"password": PASSWORD}, headers=grace)
    grace_key = hashlib.md5(f"{grace_number}:{PASSWORD}".encode()).hexdigest()  # noqa: S324
    theirs = await _fever(
        client,
        grace_key,
        "items&feeds&groups&unread_item_ids",
        with_ids=",".join(map(str, ada_ids)),
    )
    assert theirs["items"] == [] and theirs["feeds"] == [] and theirs["groups"] == []
    assert theirs["unread_item_ids"] == "" and theirs["total_items"] == 0
    marked = await _fever(client, grace_key, "", mark="item", id=str(ada_ids[0]), **{"as": "saved"})
    assert marked["saved_item_ids"] == ""
    assert (await _fever(client, ada_key, "saved_item_ids"))["saved_item_ids"] == ""


@pytest.mark.parametrize("key", ["", "0" * 32, "not-a-key", "x" * 5000])
async def test_a_key_that_opens_nothing_is_answered_auth_0(client, key):
    response = await client.post("/fever/?api&items", data={"api_key": key})
    assert response.status_code == 200
    assert response.json() == {"api_version": 3, "auth": 0}


async def test_keys_that_open_nothing_are_counted_per_client(client):
    answers = [
        (await client.post("/fever/?api", data={"api_key": f"{n:032x}"})).status_code
        for n in range(25)
    ]
    assert answers[:20] == [200] * 20
    assert answers[-1] == 429


async def test_a_forgotten_fever_password_opens_nothing(client, feeds):
    ada, key, _ = await _reader(client, feeds)
    assert (await client.delete("/api/v1/me/fever", headers=ada)).status_code == 204
    assert (await _fever(client, key, "items")) == {"api_version": 3, "auth": 0}
    short = await client.put("/api/v1/me/fever", json={"password": "short"}, headers=ada)
    assert short.status_code == 422 and "12" in short.text


async def test_the_private_address_serves_the_feed_as_atom_and_json(client, feeds):
    ada, _, _ = await _reader(client, feeds)
    made = await client.post("/api/v1/me/feed-address", headers=ada)
    assert made.status_code == 201
    atom_url, json_url = made.json()["atom"], made.json()["json_feed"]
    assert atom_url.startswith("https://portal.test/feeds/") and atom_url.endswith(".atom")

    atom = await client.get(atom_url.removeprefix("https://portal.test"))
    assert atom.status_code == 200
    assert atom.headers["content-type"].startswith("application/atom+xml")
    assert atom.headers["cache-control"] == "private, max-age=300"
    parsed = feedparser.parse(atom.content)
    assert not parsed.bozo
    assert sorted(e.title for e in parsed.entries) == ["One", "Opening", "Three", "Two"]
    document = json.loads((await client.get(json_url.removeprefix("https://portal.test"))).content)
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert len(document["items"]) == 4

    again = await client.post("/api/v1/me/feed-address", headers=ada)
    assert (await client.get(atom_url.removeprefix("https://portal.test"))).status_code == 404
    assert (
        await client.get(again.json()["atom"].removeprefix("https://portal.test"))
    ).status_code == 200
    assert (await client.delete("/api/v1/me/feed-address", headers=ada)).status_code == 204
    assert (
        await client.get(again.json()["atom"].removeprefix("https://portal.test"))
    ).status_code == 404


@pytest.mark.parametrize("secret", ["nothing", "a" * 43, "..", "x" * 300])
async def test_an_address_that_opens_nothing_is_an_unknown_one(client, secret):
    response = await client.get(f"/feeds/{secret}.atom")
    assert response.status_code == 404
    assert response.json()["detail"] == "There is no feed at this address."


async def test_the_digest_lists_what_is_new_and_its_hour_is_chosen(client):
    async def undated(writer, asked):
        body = (
            b'<?xml version="1.0"?><rss version="2.0"><channel><title>Fresh</title>'
            b"<item><guid>a</guid><title>Just in</title><link>https://example.org/a</link></item>"
            b"</channel></rss>"
        )
        await send(writer, "200 OK", body, {"content-type": "application/rss+xml"})

    async with serving({"/fresh": undated}) as server:
        ada, _ = await _person(client, "Ada")
        added = await client.post(
            "/api/v1/sources", json={"url": server.url("/fresh")}, headers=ada
        )
        assert added.status_code == 201, added.text
    found = await client.get("/api/v1/feed/digest", headers=ada)
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["total_new"] == 1 and body["hour"] is None
    [group] = body["groups"]
    assert group["title"] == "Fresh" and group["number"] is None and group["networks"] == ["feed"]
    assert [e["title"] for e in group["entries"]] == ["Just in"]

    chosen = await client.put("/api/v1/me/digest", json={"hour": 7}, headers=ada)
    assert chosen.status_code == 200 and chosen.json() == {"hour": 7}
    assert (await client.get("/api/v1/feed/digest", headers=ada)).json()["hour"] == 7
    for wrong in (24, -1, False, True, "7", 7.5):
        answer = await client.put("/api/v1/me/digest", json={"hour": wrong}, headers=ada)
        assert answer.status_code == 422, wrong
    whole = await client.put("/api/v1/me/digest", json={"hour": 9.0}, headers=ada)
    assert whole.json() == {"hour": 9}
    stopped = await client.put("/api/v1/me/digest", json={"hour": None}, headers=ada)
    assert stopped.json() == {"hour": None}


@pytest.mark.parametrize(
    ("query", "form"),
    [
        ("items", {"since_id": "9" * 18}),
        ("items", {"max_id": "9" * 18}),
        ("", {"mark": "feed", "as": "read", "id": "9" * 18, "before": "9" * 18}),
        ("", {"mark": "group", "as": "read", "id": "0", "before": "253402300800"}),
        ("", {"mark": "group", "as": "read", "id": "9" * 18}),
        ("", {"mark": "item", "as": "saved", "id": "9" * 18}),
    ],
)
async def test_numbers_out_of_range_are_no_server_error(client, feeds, query, form):
    _, key, _ = await _reader(client, feeds)
    answer = await _fever(client, key, query, **form)
    assert answer["auth"] == 1


async def test_a_fever_app_reads_and_marks_the_people_it_follows_as_groups(client, feeds, db):
    _, key, _ = await _reader(client, feeds)
    grace, grace_number = await _person(client, "Grace")
    added = await client.post(
        "/api/v1/me/accounts",
        json={"network": "github", "handle": "grace"},
        headers=grace,
    )
    assert added.status_code == 201, added.text
    ada_id = await db.scalar(select(User.id).where(User.email == "ada@example.org"))
    grace_id = await db.scalar(select(User.id).where(User.number == grace_number))
    account = await db.scalar(select(LinkedAccount).where(LinkedAccount.user_id == grace_id))
    assert account is not None and account.feed_source_id is not None
    db.add(Follow(user_id=ada_id, owner_id=grace_id))
    await db.commit()

    groups = await _fever(client, key, "groups")
    assert {"id": int(grace_number), "title": "Grace"} in groups["groups"]
    member = next(g for g in groups["feeds_groups"] if g["group_id"] == int(grace_number))
    assert member["feed_ids"] == str(account.feed_source_id)
    marked = await _fever(
        client, key, "", mark="group", id=grace_number, before="4102444800", **{"as": "read"}
    )
    assert "unread_item_ids" in marked


async def test_fever_is_spoken_by_post_alone(client, feeds):
    _, key, _ = await _reader(client, feeds)
    assert (await client.get(f"/fever/?api&items&api_key={key}")).status_code == 405
