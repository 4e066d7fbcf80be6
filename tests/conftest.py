from tests.fixtures.app import app, client, settings
from tests.fixtures.database import connection, databases, db, engine, sessionmaker
from tests.fixtures.live import live_server

__all__ = [
    "app",
    "client",
    "connection",
    "databases",
    "db",
    "engine",
    "live_server",
    "sessionmaker",
    "settings",
]
