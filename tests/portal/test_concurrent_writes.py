"""Requests that read, then write, sent at once to a real server on its own database."""

from __future__ import annotations

import asyncio

import httpx

from portal.db import make_engine, make_sessionmaker, session_scope
from portal.domain import account
from tests.portal.domain import people


async def test_moves_sent_at_once_are_all_done(live_server):
    """Each move reads the list of accounts, then writes it. On SQLite a transaction that read
    first is refused its writes when another committed meanwhile ("database is locked"):
    moves that cross (a double click) must wait their turn, not fail."""
    engine = make_engine(live_server.database_url)
    try:
        # As the portal writes: from the first statement (the server writes meanwhile).
        async with session_scope(make_sessionmaker(engine), writing=True) as db:
            owner = await people.person(db, "Ada")
            token = (await account.create_token(db, owner, name="t")).secret
            await db.commit()
    finally:
        await engine.dispose()
    me = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30, headers=me) as http:
        created = []
        for handle in ("ada-one", "ada-two", "ada-three"):
            response = await http.post(
                "/api/v1/me/accounts", json={"network": "github", "handle": handle}
            )
            assert response.status_code == 201, response.text
            created.append(response.json()["id"])
        answers = await asyncio.gather(
            *(
                http.patch(f"/api/v1/me/accounts/{created[i % 3]}", json={"position": i % 2})
                for i in range(12)
            )
        )
        assert [answer.status_code for answer in answers] == [200] * 12, [
            answer.text for answer in answers if answer.status_code != 200
        ]
        listing = (await http.get("/api/v1/me/accounts")).json()
    assert sorted(account["id"] for account in listing) == sorted(created)
