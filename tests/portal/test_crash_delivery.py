"""A ``portal worker`` killed with SIGKILL again and again as it delivers 200 copies of
posts to the local PDS and Synapse, and started again each time: afterwards every post is on
each network exactly once, as the receiving servers count them (the PDS's records of the
account, the messages of the Synapse room), and every delivery says so."""

from __future__ import annotations

import collections
import random
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import func, select

from portal.db import session_scope
from portal.deps import link_services
from portal.domain.linking import proofs
from portal.domain.posts import compose
from portal.storage.posts import Delivery
from tests.fixtures.app import make_settings
from tests.fixtures.atproto import AtprotoNetwork
from tests.fixtures.crash import Sessions, Worker, crash_until_done, own_database, worker_env
from tests.fixtures.database import Databases
from tests.fixtures.matrix import MatrixHomeserver, MatrixUser
from tests.portal.domain import people

pytestmark = pytest.mark.slow

POSTS = 100
"""Each to a Bluesky account and a Matrix room: 200 deliveries."""
KILLS = 8
SEED = 20261207
LEASE = 2.0
"""Seconds a killed worker's jobs wait before the next worker takes them up."""


@dataclass
class Place:
    """Where the posts go: the Bluesky repository and the Matrix room, and who reads them."""

    did: str
    room_id: str
    reader: MatrixUser


@pytest.fixture
async def sessions(databases: Databases) -> AsyncIterator[tuple[str, Sessions]]:
    async with own_database(databases, "crash") as made:
        yield made


@pytest.fixture
def worker(
    sessions: tuple[str, Sessions], atproto_network: AtprotoNetwork, tmp_path: Path
) -> Iterator[Worker]:
    env = worker_env(
        sessions[0],
        LEASE,
        PORTAL_ATPROTO_PLC_URL=atproto_network.plc_url,
        PORTAL_ATPROTO_RESOLVER_URL=atproto_network.pds_url,
    )
    running = Worker(env, tmp_path)
    yield running
    if running.process is not None:
        running.kill()


async def _posts(
    sessions: Sessions,
    atproto_network: AtprotoNetwork,
    homeserver: MatrixHomeserver,
    http: httpx.AsyncClient,
) -> tuple[Place, list[str]]:
    """Ada, her Bluesky account and her Matrix account linked as people link them (an app
    password, a Matrix password), and POSTS posts to both, the Matrix ones into a room."""
    settings = make_settings(
        connectors_allow_loopback=True,
        atproto_plc_url=atproto_network.plc_url,
        atproto_resolver_url=atproto_network.pds_url,
    )
    services = link_services(settings)
    bluesky = await atproto_network.create_account("ada")
    app_password = await atproto_network.create_app_password(bluesky)
    ada = await homeserver.register(http, displayname="Ada")
    reader = await homeserver.register(http)
    made = await http.post(
        f"{homeserver.base_url}/_matrix/client/v3/createRoom",
        json={"name": "Crash test", "preset": "public_chat"},
        headers=ada.headers,
    )
    made.raise_for_status()
    room_id: str = made.json()["room_id"]
    joined = await http.post(
        f"{homeserver.base_url}/_matrix/client/v3/join/{quote(room_id)}",
        json={},
        headers=reader.headers,
    )
    joined.raise_for_status()

    async with session_scope(sessions) as session:
        user = await people.person(session, "Ada")
        on_bluesky = await proofs.link_by_sign_in(
            session, services, user, "bluesky", bluesky.handle, app_password
        )
        on_matrix = await proofs.link_by_sign_in(
            session, services, user, "matrix", ada.user_id, ada.password
        )
    run = secrets.token_hex(3)
    texts = [f"Crash test {run}, post {n:03d}" for n in range(POSTS)]
    async with session_scope(sessions, writing=True) as session:
        for text in texts:
            targets = [
                compose.Target(on_bluesky.id),
                compose.Target(on_matrix.id, destination=room_id),
            ]
            await compose.save(
                session, user, compose.Composed(text, targets), base_url=settings.base_url
            )
    return Place(bluesky.did, room_id, reader), texts


async def _count(sessions: Sessions, *where: Any) -> int:
    async with session_scope(sessions) as session:
        found = await session.scalar(select(func.count()).select_from(Delivery).where(*where))
    return int(found or 0)


async def _records(network: AtprotoNetwork, did: str) -> list[str]:
    """The text of every post record in the repository, page by page."""
    texts: list[str] = []
    cursor = ""
    async with httpx.AsyncClient(base_url=network.pds_url, timeout=20) as http:
        while True:
            params = {"repo": did, "collection": "app.bsky.feed.post", "limit": "100"}
            if cursor:
                params["cursor"] = cursor
            page = await http.get("/xrpc/com.atproto.repo.listRecords", params=params)
            page.raise_for_status()
            body = page.json()
            texts += [record["value"]["text"] for record in body["records"]]
            cursor = body.get("cursor") or ""
            if not body["records"] or not cursor:
                return texts


async def _messages(
    homeserver: MatrixHomeserver, http: httpx.AsyncClient, place: Place
) -> list[str]:
    """The body of every message in the room, from the newest back to its creation."""
    bodies: list[str] = []
    start = ""
    while True:
        params = {"dir": "b", "limit": "100"}
        if start:
            params["from"] = start
        page = await http.get(
            f"{homeserver.base_url}/_matrix/client/v3/rooms/{quote(place.room_id)}/messages",
            params=params,
            headers=place.reader.headers,
        )
        page.raise_for_status()
        body = page.json()
        bodies += [
            event["content"].get("body", "")
            for event in body["chunk"]
            if event["type"] == "m.room.message"
        ]
        start = body.get("end") or ""
        if not body["chunk"] or not start:
            return bodies


async def test_a_worker_killed_again_and_again_delivers_every_post_exactly_once(
    sessions: tuple[str, Sessions],
    atproto_network: AtprotoNetwork,
    matrix_homeserver: MatrixHomeserver,
    worker: Worker,
) -> None:
    _, db = sessions
    rng = random.Random(SEED)
    async with httpx.AsyncClient(timeout=20) as http:
        place, texts = await _posts(db, atproto_network, matrix_homeserver, http)
    total = 2 * len(texts)
    sent = Delivery.status == compose.SENT

    kills = await crash_until_done(worker, lambda: _count(db, sent), total, kills=KILLS, rng=rng)

    assert kills == KILLS, f"the worker delivered everything before it was killed {KILLS} times"
    resumed = await _count(db, Delivery.attempts > 1)
    assert resumed > 0, "no kill caught a delivery on its way"

    on_bluesky = collections.Counter(await _records(atproto_network, place.did))
    async with httpx.AsyncClient(timeout=20) as http:
        in_room = collections.Counter(await _messages(matrix_homeserver, http, place))
    assert {text: on_bluesky[text] for text in texts} == dict.fromkeys(texts, 1)
    assert {text: in_room[text] for text in texts} == dict.fromkeys(texts, 1)
    assert sum(on_bluesky.values()) == sum(in_room.values()) == len(texts)
