"""The migrations are the schema: they go up and down, and agree with the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

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
        context = MigrationContext.configure(
            sync_conn, opts={"compare_type": True, "include_name": migrate.include_name}
        )
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


async def test_accounts_made_before_email_confirmation_count_as_confirmed(databases):
    from sqlalchemy import text

    engine = make_engine(await databases.new("confirmed"))
    try:
        await migrate.upgrade(engine, "0003")
        await _an_old_account(engine)
        await migrate.upgrade(engine)
        async with engine.connect() as conn:
            confirmed = (
                await conn.execute(text("SELECT email_confirmed_at FROM users"))
            ).scalar_one()
        assert confirmed is not None
    finally:
        await engine.dispose()


async def test_stored_emails_are_brought_to_their_one_form(databases):
    from sqlalchemy import text

    from portal.domain.text import clean_email

    stored = ["ｂｏｂ@example.org", "ﬁnn@example.org", "ada@example.org", "ａｄａ@example.org"]
    engine = make_engine(await databases.new("emails"))
    try:
        await migrate.upgrade(engine, "0004")
        async with engine.begin() as conn:
            for index, email in enumerate(stored):
                number = f"1234567{index}"
                await conn.execute(
                    text(
                        "INSERT INTO portal_numbers (number, length, allocated_at)"
                        " VALUES (:number, 8, '2026-01-02 03:04:05+00:00')"
                    ),
                    {"number": number},
                )
                await conn.execute(
                    text(
                        "INSERT INTO users (number, email, password_hash, display_name, bio,"
                        " created_at, updated_at, name_audience, avatar_audience, bio_audience,"
                        " phone_audience, find_by_number, find_by_phone, find_by_name, region,"
                        " notify_by_email) VALUES (:number, :email, 'x', 'Old', '',"
                        " '2026-01-02 03:04:05+00:00', '2026-01-02 03:04:05+00:00', 'public',"
                        " 'public', 'public', 'private', true, false, false, '', false)"
                    ),
                    {"number": number, "email": email},
                )
        await migrate.upgrade(engine)
        async with engine.connect() as conn:
            emails = (await conn.execute(text("SELECT email FROM users ORDER BY id"))).scalars()
            after = list(emails)
    finally:
        await engine.dispose()
    # Each address is now what signing in with any of its spellings looks for; the fullwidth
    # twin of an existing address is left alone rather than merged into it.
    assert after == ["bob@example.org", "finn@example.org", "ada@example.org", "ａｄａ@example.org"]
    assert [clean_email(e) for e in after[:3]] == after[:3]


async def test_accounts_made_before_the_guided_start_are_not_sent_through_it(databases):
    from sqlalchemy import text

    engine = make_engine(await databases.new("guide"))
    try:
        await migrate.upgrade(engine, "0006")
        await _an_old_account(engine)
        await migrate.upgrade(engine, "0007")
        async with engine.connect() as conn:
            done = (await conn.execute(text("SELECT guide_done_at FROM users"))).scalar_one()
        assert done is not None
        await migrate.downgrade(engine, "0006")

        def columns(sync_conn):
            return {column["name"] for column in inspect(sync_conn).get_columns("users")}

        async with engine.connect() as conn:
            left = await conn.run_sync(columns)
        assert "guide_done_at" not in left and "email_confirmed_at" in left
        async with engine.connect() as conn:
            kept = (await conn.execute(text("SELECT email FROM users"))).scalar_one()
        assert kept == "old@example.org"
    finally:
        await engine.dispose()


async def _an_old_account(engine: AsyncEngine) -> None:
    """One account as the schema of 0003 to 0006 holds it, written in SQL of that time."""
    from sqlalchemy import text

    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO portal_numbers (number, length, allocated_at)"
                " VALUES ('12345678', 8, '2026-01-02 03:04:05+00:00')"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO users (number, email, password_hash, display_name, bio,"
                " created_at, updated_at, name_audience, avatar_audience, bio_audience,"
                " phone_audience, find_by_number, find_by_phone, find_by_name, region,"
                " notify_by_email) VALUES ('12345678', 'old@example.org', 'x', 'Old', '',"
                " '2026-01-02 03:04:05+00:00', '2026-01-02 03:04:05+00:00', 'public',"
                " 'public', 'public', 'private', true, false, false, '', false)"
            )
        )


async def test_accounts_made_before_the_language_setting_follow_their_browser(databases):
    from sqlalchemy import text

    engine = make_engine(await databases.new("language"))
    try:
        await migrate.upgrade(engine, "0007")
        await _an_old_account(engine)
        await migrate.upgrade(engine, "0008")
        async with engine.connect() as conn:
            language = (await conn.execute(text("SELECT language FROM users"))).scalar_one()
        assert language is None
        await migrate.downgrade(engine, "0007")

        def columns(sync_conn):
            return {column["name"] for column in inspect(sync_conn).get_columns("users")}

        async with engine.connect() as conn:
            left = await conn.run_sync(columns)
        assert "language" not in left and "guide_done_at" in left
    finally:
        await engine.dispose()
