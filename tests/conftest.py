import pytest

from tests.fixtures.app import app, bob, cheap_password_hashes, client, settings, signed_in
from tests.fixtures.atproto import atproto_appview, atproto_network
from tests.fixtures.browser import browser, console, context, page, server, server_env, shots
from tests.fixtures.database import (
    connection,
    databases,
    db,
    engine,
    postgres_url,
    sessionmaker,
)
from tests.fixtures.imap import imap_server
from tests.fixtures.live import live_server
from tests.fixtures.matrix import homeserver_http, matrix_homeserver
from tests.fixtures.oidc import oidc_provider, oidc_redirect_uris
from tests.fixtures.publishing import instance
from tests.fixtures.smtp import mailbox, smtp_server, submission_server
from tests.fixtures.xmpp import xmpp_server

__all__ = [
    "app",
    "atproto_appview",
    "atproto_network",
    "bob",
    "browser",
    "cheap_password_hashes",
    "client",
    "connection",
    "console",
    "context",
    "databases",
    "db",
    "engine",
    "homeserver_http",
    "imap_server",
    "instance",
    "live_server",
    "mailbox",
    "matrix_homeserver",
    "oidc_provider",
    "oidc_redirect_uris",
    "page",
    "server",
    "server_env",
    "sessionmaker",
    "settings",
    "shots",
    "signed_in",
    "smtp_server",
    "submission_server",
    "xmpp_server",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with a ``slow`` test first, each kept whole and in its order: under pytest-xdist a
    long file that starts last keeps one worker busy alone at the end of the run.

    On PostgreSQL, the ``presentation`` tests (accessibility, layout in each language) are
    skipped: what they check is the same HTML and CSS whatever the database, and they ran on
    SQLite."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)
    if postgres_url():
        skip = pytest.mark.skip(reason="how pages look does not depend on the database")
        for item in items:
            if item.get_closest_marker("presentation"):
                item.add_marker(skip)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """A failed test's report ends with the last lines each running ``portal serve`` of the
    tests wrote: what the server saw is what a browser test's timeout does not say."""
    from tests.fixtures.live import SERVERS

    report = yield
    if report.failed and call.when == "call":
        for url, server in list(SERVERS.items()):
            lines = server.log.read_text(errors="replace").splitlines()[-60:]
            if lines:
                report.sections.append((f"portal serve at {url}", "\n".join(lines)))
    return report
