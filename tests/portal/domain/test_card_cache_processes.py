"""Kept cards belong to one application and follow its database: two applications in one
process never share them, and a change made by another process (a second web process, the
CLI) is seen by the very next lookup."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from portal.app import create_app
from portal.db import make_engine, make_sessionmaker
from portal.domain import account, profile
from portal.storage import migrate
from portal.storage.models import PortalNumber, User, utcnow
from tests.fixtures.app import make_settings
from tests.fixtures.database import Databases
from tests.portal.domain import people


@asynccontextmanager
async def _portal(url: str) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An application of its own on ``url``, as a web process runs it."""
    app = create_app(make_settings(database_url=url, rate_limits_enabled=False))
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="https://portal.test") as http:
            yield app, http
    finally:
        app.state.images.close()
        await app.state.limiter.close()
        await app.state.engine.dispose()


@asynccontextmanager
async def _database(databases: Databases, label: str) -> AsyncIterator[tuple[str, AsyncSession]]:
    """A new migrated database, and a session on it from an engine of its own (another
    process's, such as the CLI's)."""
    url = await databases.new(label)
    engine = make_engine(url)
    try:
        await migrate.upgrade(engine)
        async with make_sessionmaker(engine)() as session:
            yield url, session
    finally:
        await engine.dispose()


async def _name(http: httpx.AsyncClient, number: str) -> str | None:
    response = await http.get(f"/api/v1/numbers/{number}")
    assert response.status_code in (200, 404), response.text
    return response.json()["display_name"] if response.status_code == 200 else None


async def test_two_applications_keep_their_own_cards(databases: Databases):
    async with (
        _database(databases, "cards_a") as (url_a, db_a),
        _database(databases, "cards_b") as (url_b, db_b),
    ):
        ada = await people.person(db_a, "Ada in A")
        await db_a.commit()
        # The same number in the other database, someone else's.
        db_b.add(PortalNumber(number=ada.number, length=len(ada.number)))
        db_b.add(
            User(
                number=ada.number,
                email="grace@example.org",
                password_hash="not a hash",
                display_name="Grace in B",
                email_confirmed_at=utcnow(),
            )
        )
        await db_b.commit()
        async with _portal(url_a) as (app_a, http_a), _portal(url_b) as (app_b, http_b):
            assert await _name(http_a, ada.number) == "Ada in A"
            assert app_a.state.cards.owner_of(ada.number) is not None  # A keeps it
            assert app_b.state.cards.owner_of(ada.number) is None
            assert await _name(http_b, ada.number) == "Grace in B"
            assert await _name(http_a, ada.number) == "Ada in A"
            assert await _name(http_b, ada.number) == "Grace in B"


async def test_a_change_made_by_another_process_is_seen_at_once(databases: Databases):
    """Two web processes on one database, and a change committed by a third (the CLI): each
    process's next lookup sees it, though both kept the card."""
    async with _database(databases, "cards_shared") as (url, cli):
        ada = await people.person(cli, "Ada")
        viewer = await people.person(cli, "Viewer")
        token = (await account.create_token(cli, viewer, name="test")).secret
        await profile.set_privacy(cli, ada, audiences={"name": "members"})
        await cli.commit()
        signed_in = {"authorization": f"Bearer {token}"}

        async def shown(http: httpx.AsyncClient) -> str | None:
            response = await http.get(f"/api/v1/numbers/{ada.number}", headers=signed_in)
            return response.json()["display_name"] if response.status_code == 200 else None

        async with _portal(url) as (app_1, http_1), _portal(url) as (app_2, http_2):
            for http in (http_1, http_2, http_1, http_2):
                assert await shown(http) == "Ada"
            assert app_1.state.cards.owner_of(ada.number) == ada.id
            assert app_2.state.cards.owner_of(ada.number) == ada.id
            await profile.update_profile(cli, ada, display_name="Ada L", bio=None)
            await cli.commit()
            assert await shown(http_2) == "Ada L"
            assert await shown(http_1) == "Ada L"
            await profile.set_privacy(cli, ada, audiences={"name": "contacts"})
            await cli.commit()
            assert await shown(http_1) is None
            assert await shown(http_2) is None
