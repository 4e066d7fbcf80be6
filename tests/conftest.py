from tests.fixtures.app import app, cheap_password_hashes, client, settings, signed_in
from tests.fixtures.atproto import atproto_network
from tests.fixtures.database import connection, databases, db, engine, sessionmaker
from tests.fixtures.live import live_server
from tests.fixtures.matrix import matrix_homeserver
from tests.fixtures.oidc import oidc_provider, oidc_redirect_uris
from tests.fixtures.smtp import mailbox, smtp_server
from tests.fixtures.xmpp import xmpp_server

__all__ = [
    "app",
    "atproto_network",
    "cheap_password_hashes",
    "client",
    "connection",
    "databases",
    "db",
    "engine",
    "live_server",
    "mailbox",
    "matrix_homeserver",
    "oidc_provider",
    "oidc_redirect_uris",
    "sessionmaker",
    "settings",
    "signed_in",
    "smtp_server",
    "xmpp_server",
]
