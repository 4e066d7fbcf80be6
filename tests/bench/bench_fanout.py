"""Fan-out of one post to ten networks, over real HTTP: the worker delivers the ten at once, so
the whole post takes about as long as its slowest network, not the sum of them.

Ten Mastodon instances run on this machine (one port each, in a process of their own), every
one taking 200 ms to answer a new status. The baseline is the same post to one of them alone,
delivered by the same worker in the same run; the figure is the ratio of the ten to the one
(target ≤ 1.2). Best of three trials each, on SQLite.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import tempfile
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors import base
from portal.config import Settings
from portal.db import make_engine, make_sessionmaker, session_scope
from portal.deps import job_worker, link_services
from portal.domain import linking
from portal.domain.linking.services import LinkServices
from portal.domain.posts import compose
from portal.storage import migrate
from portal.storage.models import LinkedAccount, User
from portal.storage.posts import Delivery
from tests.bench.results import Figure, record, table
from tests.portal.domain import people

TARGETS = 10
DELAY = 0.2
"""How long each instance takes to answer a new status."""
TRIALS = 3

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _instance() -> Handler:
    statuses = iter(range(1, 10**9))

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        line = head.split(b"\r\n", 1)[0].decode()
        length = 0
        for header in head.split(b"\r\n")[1:]:
            name, _, value = header.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length:
            await reader.readexactly(length)
        if line.startswith("POST /api/v1/statuses"):
            await asyncio.sleep(DELAY)
            number = next(statuses)
            body = {"id": str(number), "url": f"http://127.0.0.1/@ada/{number}"}
        else:  # GET /api/v2/instance
            body = {"configuration": {"statuses": {"max_characters": 500}}}
        data = json.dumps(body).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n"
            b"content-length: %d\r\n\r\n%s" % (len(data), data)
        )
        await writer.drain()
        writer.close()

    return answer


def _serve(ready: Connection) -> None:
    """Run the instances until the bench ends: in a process of their own, so that their work
    is not done by the worker's event loop, as a network's would not be."""

    async def serve() -> None:
        servers = [await asyncio.start_server(_instance(), "127.0.0.1", 0) for _ in range(TARGETS)]
        ready.send([server.sockets[0].getsockname()[1] for server in servers])
        await asyncio.Event().wait()

    asyncio.run(serve())


async def _people(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, ports: list[int]
) -> tuple[User, list[int]]:
    services = link_services(settings)
    async with session_scope(sessions, writing=True) as session:
        user = await people.person(session, "Ada")
        accounts = []
        for port in ports:
            account = LinkedAccount(
                user_id=user.id,
                network="mastodon",
                handle=f"ada@127.0.0.1:{port}",
                server=f"127.0.0.1:{port}",
                status=linking.VERIFIED,
            )
            session.add(account)
            linking.store_credentials(services, account, base.Credentials(access_token="t"))
            accounts.append(account)
        await session.flush()
        return user, [account.id for account in accounts]


async def _post(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    services: LinkServices,
    user: User,
    accounts: list[int],
) -> float:
    """Seconds from a post written to every delivery sent, by a worker of the portal's
    services (which keep what they learned of the instances, as a running worker does)."""
    worker = job_worker(settings, sessions, services, concurrency=TARGETS)
    async with session_scope(sessions, writing=True) as session:
        await compose.save(
            session,
            user,
            compose.Composed("Hello, ten networks", [compose.Target(a) for a in accounts]),
            base_url=settings.base_url,
        )
    started = time.perf_counter()
    ran = await worker.run_due()
    took = time.perf_counter() - started
    async with sessions() as session:
        waiting = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.status != compose.SENT)
        )
    if ran != len(accounts) or waiting:
        raise RuntimeError(f"{ran} deliveries ran for {len(accounts)} targets")
    return took


async def measure(folder: Path) -> list[Figure]:
    ours, theirs = multiprocessing.Pipe()
    instances = multiprocessing.get_context("spawn").Process(target=_serve, args=(theirs,))
    instances.start()
    ports: list[int] = ours.recv()
    url = f"sqlite+aiosqlite:///{folder / 'fanout.db'}"
    settings = Settings(
        _env_file=None,
        database_url=url,
        secret_key="bench-secret-key-" + "x" * 32,
        base_url="http://127.0.0.1:8000",
        connectors_allow_loopback=True,
        jobs="off",
        feed_poller="off",
    )
    engine = make_engine(url)
    try:
        await migrate.upgrade(engine)
        sessions = make_sessionmaker(engine)
        user, accounts = await _people(sessions, settings, ports)
        services = link_services(settings)
        one = min(
            [await _post(sessions, settings, services, user, accounts[:1]) for _ in range(TRIALS)]
        )
        ten = min(
            [await _post(sessions, settings, services, user, accounts) for _ in range(TRIALS)]
        )
    finally:
        await engine.dispose()
        instances.terminate()
        instances.join()
    return [
        Figure("fanout:ten targets of 200 ms, to the slowest one alone", ten, "s", one, 1.2),
    ]


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        figures = asyncio.run(measure(Path(folder)))
    record(figures, "fanout:")
    print(table(figures))


if __name__ == "__main__":
    main()
