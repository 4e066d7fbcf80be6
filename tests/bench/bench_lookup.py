"""How much a lookup costs, as ratios to a baseline measured in the same run (``make bench``).

The portal runs in-process on a fresh SQLite database (or ``PORTAL_BENCH_DATABASE_URL``).
The baseline is ``GET /healthz``: the framework's own cost per request. Each figure is the
median time of a request divided by the baseline's, so the numbers travel between machines.
Cost per item: cards for many people at once, against one person's card. Results go to
``bench/results/latest.json`` (see :mod:`tests.bench.results`).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from portal.app import create_app
from portal.config import Settings
from portal.domain import account, linking, privacy
from portal.domain import number as numbers
from portal.domain.number import AllocationPolicy
from portal.storage import migrate
from portal.storage.models import User
from tests.bench.results import Figure, record, table

PEOPLE = 200
ACCOUNTS = 12
ROUNDS = 300


async def _median(action: Callable[[], Awaitable[object]], rounds: int = ROUNDS) -> float:
    for _ in range(20):  # warm up
        await action()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        await action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    url = os.environ.get("PORTAL_BENCH_DATABASE_URL") or f"sqlite+aiosqlite:///{workdir}/b.db"
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        secret_key="bench-" + "x" * 40,
        base_url="https://portal.bench",
        rate_limits_enabled=False,
    )
    app = create_app(settings)
    await migrate.upgrade(app.state.engine)
    people: list[User] = []
    async with app.state.sessionmaker() as db:
        for i in range(PEOPLE):
            user = await account.sign_up(
                db,
                email=f"{uuid.uuid4().hex[:12]}@example.org",
                password="correct horse battery",
                display_name=f"Person {i}",
                policy=AllocationPolicy(),
            )
            for j in range(ACCOUNTS):
                await linking.add_handle(db, user, "github", f"p{i}a{j}")
            people.append(user)
        await db.commit()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://portal.bench") as http:
        target = people[len(people) // 2].number
        unknown = numbers.generate(8)

        async def get(path: str, **headers: str) -> None:
            response = await http.get(path, headers=headers)
            assert response.status_code in (200, 404), response.status_code

        baseline = await _median(lambda: get("/healthz"))
        figures = {
            "API lookup, 12 accounts": await _median(lambda: get(f"/api/v1/numbers/{target}")),
            "page lookup, 12 accounts": await _median(
                lambda: get(f"/n/{target}", accept="text/html")
            ),
            "API lookup, unknown number": await _median(lambda: get(f"/api/v1/numbers/{unknown}")),
        }
    async with app.state.sessionmaker() as db:
        one = await _median(lambda: privacy.cards_for(db, None, people[:1]), rounds=100)
        many = await _median(lambda: privacy.cards_for(db, None, people[:100]), rounds=30)
    await app.state.engine.dispose()

    results = [
        Figure(f"lookup: {name}", seconds * 1e3, "ms", baseline * 1e3)
        for name, seconds in figures.items()
    ]
    # Cost per card in a batch of 100, against a single card.
    results.append(Figure("lookup: one card in a batch of 100", many / 100 * 1e3, "ms", one * 1e3))
    record(results, "lookup:")
    print(f"baseline GET /healthz: {baseline * 1e3:.2f} ms")
    print(table(results))


if __name__ == "__main__":
    asyncio.run(main())
