"""A ``portal worker`` killed with SIGKILL again and again as it sends 60 messages from
Ada to Bea, each on Matrix and on XMPP, and started again each time: afterwards Bea has every
message exactly once on each messenger, as her own side counts them (her Matrix client in
the direct rooms Ada invited her to, the archive her XMPP server keeps of what it delivered
to her), and every copy says it was sent."""

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
from slixmpp import JID
from sqlalchemy import func, select

from connectors._addresses import AddressPolicy
from connectors._xmpp_archive import archived
from connectors.xmpp import _session
from portal.db import session_scope
from portal.deps import link_services
from portal.domain.linking import proofs
from portal.domain.messages import send
from portal.storage.messages import MessageCopy
from portal.storage.models import User
from portal.storage.posts import Job
from tests.fixtures.crash import Sessions, Worker, crash_until_done, own_database, worker_env
from tests.fixtures.database import Databases
from tests.fixtures.matrix import MatrixHomeserver, MatrixUser
from tests.fixtures.messaging import messaging_settings
from tests.fixtures.xmpp import XMPPServer
from tests.portal.domain import people

pytestmark = pytest.mark.slow

MESSAGES = 60
"""Each on Matrix and on XMPP: 120 copies."""
KILLS = 8
SEED = 20261208
LEASE = 2.0
"""Seconds a killed worker's jobs wait before the next worker takes them up."""


@dataclass
class Side:
    """One person's accounts, as their own clients sign in to them."""

    user: User
    matrix: MatrixUser
    jid: str
    password: str


@pytest.fixture
async def sessions(databases: Databases) -> AsyncIterator[tuple[str, Sessions]]:
    async with own_database(databases, "crash-messages") as made:
        yield made


@pytest.fixture
def worker(
    sessions: tuple[str, Sessions], xmpp_server: XMPPServer, tmp_path: Path
) -> Iterator[Worker]:
    env = worker_env(
        sessions[0],
        LEASE,
        PORTAL_XMPP_SERVER=f"{xmpp_server.host}:{xmpp_server.port}",
        PORTAL_XMPP_CA_FILE=str(xmpp_server.ca_file),
    )
    running = Worker(env, tmp_path)
    yield running
    if running.process is not None:
        running.kill()


async def _messages(
    sessions: Sessions,
    homeserver: MatrixHomeserver,
    xmpp: XMPPServer,
    http: httpx.AsyncClient,
) -> tuple[Side, Side, list[str]]:
    """Ada and Bea, contacts, each with a Matrix and an XMPP account linked by signing in,
    and MESSAGES messages from Ada to Bea on both, queued."""
    services = link_services(messaging_settings(xmpp))
    sides: list[Side] = []
    async with session_scope(sessions) as session:
        for name in ("Ada", "Bea"):
            user = await people.person(session, name)
            matrix = await homeserver.register(http, displayname=name)
            password = f"correct horse {name} battery"
            jid = xmpp.register(f"{name.lower()}-{secrets.token_hex(4)}", password)
            on_matrix = await proofs.link_by_sign_in(
                session, services, user, "matrix", matrix.user_id, matrix.password
            )
            on_xmpp = await proofs.link_by_sign_in(session, services, user, "xmpp", jid, password)
            on_matrix.position, on_xmpp.position = 0, 1
            sides.append(Side(user, matrix, jid, password))
        ada, bea = sides
        await people.befriend(session, ada.user, bea.user)
    run = secrets.token_hex(3)
    texts = [f"Crash test {run}, message {n:03d}" for n in range(MESSAGES)]
    async with session_scope(sessions, writing=True) as session:
        sender = await session.get(User, ada.user.id)
        assert sender is not None
        for text in texts:
            await send.send(session, sender, bea.user.number, text, bot=send.has_bot(services))
    return ada, bea, texts


async def _count(sessions: Sessions, *where: Any) -> int:
    async with session_scope(sessions) as session:
        found = await session.scalar(select(func.count()).select_from(MessageCopy).where(*where))
    return int(found or 0)


async def _left(sessions: Sessions) -> int:
    """The ``send_message`` jobs still queued."""
    async with session_scope(sessions) as session:
        found = await session.scalar(
            select(func.count()).select_from(Job).where(Job.kind == send.SEND)
        )
    return int(found or 0)


async def _in_rooms(
    homeserver: MatrixHomeserver, http: httpx.AsyncClient, reader: MatrixUser, sender: str
) -> tuple[int, list[str]]:
    """What ``reader``'s client shows of ``sender``: the direct rooms they were invited to,
    joined, and the body of every message of ``sender`` in them, each room read from its
    newest event back to its creation."""
    synced = await http.get(
        f"{homeserver.base_url}/_matrix/client/v3/sync",
        params={"timeout": "0"},
        headers=reader.headers,
    )
    synced.raise_for_status()
    invited = list(synced.json().get("rooms", {}).get("invite", {}))
    for room_id in invited:
        await homeserver.join(http, reader, room_id)
    bodies: list[str] = []
    for room_id in invited:
        start = ""
        while True:
            params = {"dir": "b", "limit": "100"}
            if start:
                params["from"] = start
            page = await http.get(
                f"{homeserver.base_url}/_matrix/client/v3/rooms/{quote(room_id)}/messages",
                params=params,
                headers=reader.headers,
            )
            page.raise_for_status()
            body = page.json()
            bodies += [
                event["content"].get("body", "")
                for event in body["chunk"]
                if event["type"] == "m.room.message" and event["sender"] == sender
            ]
            start = body.get("end") or ""
            if not body["chunk"] or not start:
                break
    return len(invited), bodies


async def _in_archive(xmpp: XMPPServer, reader: Side, sender: str) -> list[str]:
    """The body of every message from ``sender`` that ``reader``'s server took in for them,
    as it keeps them in their archive (XEP-0313), oldest first."""
    bodies: list[str] = []
    async with _session(
        reader.jid, reader.password, xmpp.server, AddressPolicy(allow_loopback=True)
    ) as client:
        client.register_plugin("xep_0313")
        results = client.plugin["xep_0313"].iterate(with_jid=JID(sender), rsm={"max": 100})
        async for result in results:
            entry = archived(result["mam_result"])
            if entry is not None and entry.sender == sender:
                bodies.append(entry.body)
    return bodies


async def test_a_worker_killed_again_and_again_sends_every_message_exactly_once(
    sessions: tuple[str, Sessions],
    matrix_homeserver: MatrixHomeserver,
    xmpp_server: XMPPServer,
    worker: Worker,
) -> None:
    _, db = sessions
    rng = random.Random(SEED)
    async with httpx.AsyncClient(timeout=20) as http:
        ada, bea, texts = await _messages(db, matrix_homeserver, xmpp_server, http)
    total = 2 * len(texts)
    sent = MessageCopy.status == send.SENT

    kills = await crash_until_done(worker, lambda: _count(db, sent), total, kills=KILLS, rng=rng)

    assert kills == KILLS, f"the worker sent everything before it was killed {KILLS} times"
    assert await _left(db) == 0
    resumed = await _count(db, MessageCopy.attempts > 1)
    assert resumed > 0, "no kill caught a copy on its way"

    async with httpx.AsyncClient(timeout=20) as http:
        rooms, on_matrix = await _in_rooms(matrix_homeserver, http, bea.matrix, ada.matrix.user_id)
    on_xmpp = await _in_archive(xmpp_server, bea, ada.jid)
    assert rooms >= 1
    for network, received in (("Matrix", on_matrix), ("XMPP", on_xmpp)):
        counted = collections.Counter(received)
        wrong = {text: counted[text] for text in texts if counted[text] != 1}
        assert not wrong, f"on {network}, messages not received exactly once: {wrong}"
        assert sum(counted.values()) == len(texts)
