"""The previews and the check of a saved post go by the limits a Mastodon instance sets itself
(``GET /api/v2/instance``), as the delivery does, asked once and kept a while; an instance that
does not answer leaves the documented rules."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
import respx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from connectors import base
from connectors.mastodon import Mastodon
from portal.domain import linking
from portal.domain.posts.server_rules import KEEP, KEEP_DEFAULTS, RulesCache
from portal.storage.models import LinkedAccount
from tests.fixtures.network import FakeDNS, connection_attempts
from tests.fixtures.publishing import DATA, INSTANCE, ROOT, Instance, post_worker, publisher

INSTANCE_URL = f"{ROOT}/api/v2/instance"
TEXT = " ".join(["lorem"] * 100)  # 599 characters
LONG = " ".join(["lorem"] * 990)  # 5,939 characters: 12 posts of 500, more than a thread holds


def _settings(max_characters: int, max_media: int = 4) -> httpx.Response:
    info = json.loads((DATA / "instance_v2.json").read_text())
    info["configuration"]["statuses"]["max_characters"] = max_characters
    info["configuration"]["statuses"]["max_media_attachments"] = max_media
    return httpx.Response(200, json=info)


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    """The faked instance (:class:`Instance`); its ``/api/v2/instance`` is set by each test."""
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as mocked:
        Instance(mocked)
        yield mocked


@pytest.fixture
async def ada(db: AsyncSession, app: FastAPI) -> dict[str, Any]:
    return await publisher(db, app)


async def _preview(client: httpx.AsyncClient, ada: dict[str, Any], text: str) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/previews",
        json={"text": text, "targets": [{"account_id": ada["account"]}]},
        headers=ada["headers"],
    )
    assert response.status_code == 200, response.text
    (shown,) = response.json()
    assert isinstance(shown, dict)
    return shown


async def test_the_preview_goes_by_the_instance_s_own_limit(client, ada, router) -> None:
    router.get(INSTANCE_URL).mock(return_value=_settings(5000))
    shown = await _preview(client, ada, TEXT)
    assert shown["parts"] == [TEXT]
    assert (shown["limit"], shown["problems"]) == (5000, [])


async def test_an_instance_of_500_shows_a_numbered_thread(client, ada, router) -> None:
    router.get(INSTANCE_URL).mock(return_value=_settings(500))
    shown = await _preview(client, ada, TEXT)
    assert len(shown["parts"]) == 2
    assert shown["parts"][0].endswith(" 1/2") and shown["parts"][1].endswith(" 2/2")
    assert shown["limit"] == 500


async def test_an_instance_of_400_is_stricter_than_the_documented_500(client, ada, router) -> None:
    router.get(INSTANCE_URL).mock(return_value=_settings(400))
    shown = await _preview(client, ada, " ".join(["lorem"] * 75))  # 449 characters
    assert len(shown["parts"]) == 2
    assert shown["limit"] == 400


async def test_the_instance_is_asked_once_for_previews_in_a_row(client, ada, router) -> None:
    asked = router.get(INSTANCE_URL).mock(return_value=_settings(5000))
    first = await _preview(client, ada, TEXT)
    second = await _preview(client, ada, TEXT + " more")
    assert len(first["parts"]) == len(second["parts"]) == 1
    assert asked.call_count == 1


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500, text="<html>oops</html>"),
        httpx.Response(200, text="not json"),
        httpx.ConnectTimeout("slow"),
    ],
    ids=["500", "not-json", "timeout"],
)
async def test_an_instance_that_fails_leaves_the_documented_rule(
    client, ada, router, failure
) -> None:
    asked = router.get(INSTANCE_URL)
    if isinstance(failure, Exception):
        asked.mock(side_effect=failure)
    else:
        asked.mock(return_value=failure)
    shown = await _preview(client, ada, TEXT)
    assert len(shown["parts"]) == 2
    assert shown["limit"] == Mastodon.POST_RULES.max_length == 500
    await _preview(client, ada, TEXT)
    assert asked.call_count == 1  # remembered for a while: a dead instance is not asked again


async def test_a_slow_instance_holds_a_preview_no_longer_than_the_timeout(
    client, ada, router, app
) -> None:
    app.state.server_rules = RulesCache(timeout=0.2)

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(10)
        return _settings(5000)

    router.get(INSTANCE_URL).mock(side_effect=slow)
    shown = await asyncio.wait_for(_preview(client, ada, TEXT), 5)
    assert len(shown["parts"]) == 2


async def _create_long(client: httpx.AsyncClient, ada: dict[str, Any]) -> httpx.Response:
    return await client.post(
        "/api/v1/posts",
        json={"text": LONG, "targets": [{"account_id": ada["account"]}]},
        headers=ada["headers"],
    )


async def test_a_post_that_fits_the_instance_is_saved_and_goes_out_whole(
    client, ada, router, app, sessionmaker
) -> None:
    router.get(INSTANCE_URL).mock(return_value=_settings(6000))
    created = await _create_long(client, ada)
    assert created.status_code == 201, created.text
    posted = router.post(f"{ROOT}/api/v1/statuses")
    assert await post_worker(app, sessionmaker).run_due() == 1
    assert posted.call_count == 1
    assert httpx.QueryParams(posted.calls.last.request.content.decode())["status"] == LONG


async def test_a_post_too_long_for_the_instance_is_refused_when_saved(client, ada, router) -> None:
    router.get(INSTANCE_URL).mock(return_value=_settings(500))
    created = await _create_long(client, ada)
    assert created.status_code == 422, created.text
    assert "a thread has at most 10" in created.json()["detail"]


async def test_an_instance_at_a_private_address_is_not_asked(
    client, ada, app, db, monkeypatch
) -> None:
    services = app.state.links
    dns = FakeDNS(hosts={"inside.example": ["10.1.2.3"]})
    policy = replace(services.addresses, resolver=dns)
    app.state.links = replace(services, context=replace(services.context, addresses=policy))
    inside = LinkedAccount(
        user_id=ada["user"],
        network="mastodon",
        handle="ada@inside.example",
        server="inside.example",
        status=linking.VERIFIED,
    )
    db.add(inside)
    linking.store_credentials(app.state.links, inside, base.Credentials(access_token="secret"))
    await db.commit()
    with connection_attempts(monkeypatch) as attempts:
        shown = await _preview(client, {**ada, "account": inside.id}, TEXT)
    assert attempts == []
    assert len(shown["parts"]) == 2


# -- the cache itself ------------------------------------------------------------------------------


def _account(server: str, account_id: int = 1) -> LinkedAccount:
    return LinkedAccount(id=account_id, network="mastodon", handle=f"ada@{server}", server=server)


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_previews_at_once_share_one_question(app) -> None:
    cache = RulesCache()
    with respx.mock(assert_all_mocked=True) as mocked:

        async def answer(request: httpx.Request) -> httpx.Response:
            await asyncio.sleep(0.05)
            return _settings(5000)

        asked = mocked.get(INSTANCE_URL).mock(side_effect=answer)
        account = _account(INSTANCE)
        found = await asyncio.gather(*(cache.of(app.state.links, [account]) for _ in range(5)))
    assert asked.call_count == 1
    assert {rules[account.id].max_length for rules in found} == {5000}


async def test_an_answer_is_kept_an_hour_and_a_failure_five_minutes(app) -> None:
    clock = _Clock()
    cache = RulesCache(clock=clock)
    good, bad = _account(INSTANCE, 1), _account("down.example", 2)
    with respx.mock(assert_all_mocked=True) as mocked:
        ok = mocked.get(INSTANCE_URL).mock(return_value=_settings(5000))
        down = mocked.get("https://down.example/api/v2/instance").mock(
            return_value=httpx.Response(503)
        )
        for _ in range(2):
            await cache.of(app.state.links, [good, bad])
        assert (ok.call_count, down.call_count) == (1, 1)
        clock.now += KEEP_DEFAULTS + 1
        found = await cache.of(app.state.links, [good, bad])
        assert (ok.call_count, down.call_count) == (1, 2)
        assert (found[good.id].max_length, found[bad.id].max_length) == (5000, 500)
        clock.now += KEEP
        # The connector keeps the instance's limits for an hour too, by the real clock.
        kept = app.state.links.context.kept
        assert kept is not None
        kept.clear()
        await cache.of(app.state.links, [good])
        assert ok.call_count == 2


async def test_the_cache_keeps_a_bounded_number_of_servers(app) -> None:
    cache = RulesCache(max_servers=2)
    servers = ["one.example", "two.example", "three.example"]
    with respx.mock(assert_all_mocked=True) as mocked:
        for server in servers:
            mocked.get(f"https://{server}/api/v2/instance").mock(return_value=_settings(700))
        for server in servers:
            await cache.of(app.state.links, [_account(server)])
    assert len(cache) == 2
    assert cache.asks([_account("one.example")])
    assert not cache.asks([_account("three.example")])


async def test_a_network_of_documented_rules_asks_nothing(app) -> None:
    cache = RulesCache()
    bluesky = LinkedAccount(id=1, network="bluesky", handle="ada.bsky.social", server="bsky.social")
    with respx.mock(assert_all_mocked=True):
        assert await cache.of(app.state.links, [bluesky]) == {}
    assert not cache.asks([bluesky])
