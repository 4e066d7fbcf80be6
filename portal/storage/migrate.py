"""Alembic, driven from Python: ``portal migrate``, the test suite and ``/readyz`` use this."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


SEARCH_OBJECTS = frozenset({"feed_entries_search", "ix_feed_entries_search"})
"""Full-text search of feed entries, made by migration 0010 outside the models: an FTS5 table
(and the tables SQLite keeps for it) or a PostgreSQL expression index."""


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """For autogenerate: the search objects are not the models' business."""
    return not (name and (name in SEARCH_OBJECTS or name.startswith("feed_entries_search_")))


@cache
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


# Any fixed number: PostgreSQL advisory lock taken while migrating, so that two processes
# started at once (several containers) migrate one after the other.
_MIGRATION_LOCK = 7_301_944_180


def _run(connection: Connection, action: str, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
    getattr(command, action)(alembic_config(connection), revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_run, "upgrade", revision)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_run, "downgrade", revision)


async def revisions(engine: AsyncEngine) -> tuple[str | None, str | None]:
    """The database's revision and the newest one this code knows."""
    async with engine.connect() as conn:
        current = await conn.run_sync(
            lambda c: MigrationContext.configure(c).get_current_revision()
        )
    return current, head_revision()
