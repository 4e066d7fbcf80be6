"""The migrations are the schema: they go up and down, and agree with the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from portal.db import make_engine
from portal.storage import migrate
from portal.storage.models import Base


def _tables(sync_conn):
    return set(inspect(sync_conn).get_table_names())


async def test_upgrade_downgrade_upgrade(databases):
    engine = make_engine(await databases.new("migrations"))
    try:
        await migrate.upgrade(engine)
        async with engine.connect() as conn:
            assert set(Base.metadata.tables) <= await conn.run_sync(_tables)
        await migrate.downgrade(engine, "base")
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) <= {"alembic_version"}
        assert (await migrate.revisions(engine))[0] is None
        await migrate.upgrade(engine)
        assert await migrate.revisions(engine) == (migrate.head_revision(),) * 2
    finally:
        await engine.dispose()


async def test_models_and_migrations_agree(engine):
    """Autogenerate against the migrated database finds nothing left to do."""

    def diff(sync_conn):
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_readiness_reports_a_schema_behind_head(databases):
    import httpx

    from portal.app import create_app
    from tests.fixtures.app import make_settings

    url = await databases.new("readyz")
    app = create_app(make_settings(database_url=url))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://portal.test") as client:
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert "expected" in response.json()["detail"]
        await migrate.upgrade(app.state.engine)
        response = await client.get("/readyz")
        assert response.status_code == 200, response.text
        assert (await client.get("/healthz")).json() == {"status": "ok", "detail": None}
    await app.state.engine.dispose()
