"""``portal feeds import``, ``poll`` and ``export`` on a migrated database, the feeds served by
a real server: what an operator types, and what they read back."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from portal import cli
from portal.config import get_settings
from portal.domain.feeds import opml
from tests.fixtures.database import Databases
from tests.fixtures.feeds import FeedServer, Handler, send, serving


def _versioned(name: str, items: int) -> Handler:
    body = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>'
        + "".join(f"<item><guid>{name}{n}</guid><title>{n}</title></item>" for n in range(items))
        + "</channel></rss>"
    ).encode()

    async def answer(writer: asyncio.StreamWriter, asked: dict[str, str]) -> None:
        if asked.get("if-none-match") == '"v1"':
            await send(writer, "304 Not Modified", headers={"etag": '"v1"'})
        else:
            await send(writer, "200 OK", body, {"etag": '"v1"', "content-type": "text/xml"})

    return answer


@contextlib.contextmanager
def _served_in_a_thread(routes: dict[str, Handler]) -> Iterator[FeedServer]:
    """The feed server on a loop of its own: the commands run their own loops."""
    ready = threading.Event()
    box: list[tuple[FeedServer, asyncio.AbstractEventLoop, asyncio.Event]] = []

    async def main() -> None:
        stop = asyncio.Event()
        async with serving(routes) as server:
            box.append((server, asyncio.get_running_loop(), stop))
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    server, loop, stop = box[0]
    try:
        yield server
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)


@pytest.fixture
def portal(
    databases: Databases, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    url = asyncio.run(databases.new("cli"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PORTAL_DATABASE_URL", url)
    monkeypatch.setenv("PORTAL_SECRET_KEY", "k" * 40)
    monkeypatch.setenv("PORTAL_CONNECTORS_ALLOW_LOOPBACK", "true")
    monkeypatch.setenv("PORTAL_FEED_POLLER", "off")
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        assert runner.invoke(cli.app, ["migrate"]).exit_code == 0
        made = runner.invoke(
            cli.app,
            ["create-user", "--email", "ada@example.org", "--name", "Ada", "--password-stdin"],
            input="a long enough password\n",
        )
        assert made.exit_code == 0, made.output
        yield runner
    finally:
        get_settings.cache_clear()


def _ok(result: Result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output.strip()


def test_a_list_is_imported_polled_and_exported(portal: CliRunner, tmp_path: Path) -> None:
    routes = {"/one": _versioned("One", 2), "/two": _versioned("Two", 3)}
    with _served_in_a_thread(routes) as feeds:
        listed = tmp_path / "list.opml"
        listed.write_text(
            '<?xml version="1.0"?><opml version="2.0"><head><title>Mine</title></head><body>'
            f'<outline text="News"><outline text="One" xmlUrl="{feeds.url("/one")}"/></outline>'
            f'<outline text="Two" xmlUrl="{feeds.url("/two")}"/>'
            '<outline text="Local" xmlUrl="file:///etc/passwd"/></body></opml>'
        )
        imported = ["feeds", "import", str(listed), "--email", "ada@example.org"]
        assert _ok(portal.invoke(cli.app, imported)).endswith(
            "Added 2 feeds; skipped 0 already followed and 1 that are not web addresses."
        )
        assert feeds.requests == []  # the poller reads them, not the import
        assert "Added 0 feeds; skipped 2 already followed" in _ok(portal.invoke(cli.app, imported))

        assert _ok(portal.invoke(cli.app, ["feeds", "poll"])).endswith(
            "Polled 2 feeds: 5 new entries, 0 updated, 0 not modified, 0 failed."
        )
        assert _ok(portal.invoke(cli.app, ["feeds", "poll"])).endswith(
            "Polled 0 feeds: 0 new entries, 0 updated, 0 not modified, 0 failed."
        )
        assert _ok(portal.invoke(cli.app, ["feeds", "poll", "--all"])).endswith(
            "Polled 2 feeds: 0 new entries, 0 updated, 2 not modified, 0 failed."
        )

        exported = portal.invoke(cli.app, ["feeds", "export", "--email", "ada@example.org"])
        back = opml.read(_ok(exported).encode())
        assert sorted((f.url, f.title, f.folder) for f in back.feeds) == [
            (feeds.url("/one"), "One", "News"),
            (feeds.url("/two"), "Two", None),
        ]


def test_an_unknown_account_or_a_file_that_is_no_list_is_refused(
    portal: CliRunner, tmp_path: Path
) -> None:
    nobody = portal.invoke(cli.app, ["feeds", "export", "--email", "nobody@example.org"])
    assert nobody.exit_code == 2 and "no account with this email" in nobody.output
    junk = tmp_path / "junk.opml"
    junk.write_text("<html>not a list</html>")
    refused = portal.invoke(cli.app, ["feeds", "import", str(junk), "--email", "ada@example.org"])
    assert refused.exit_code == 2 and "not an OPML subscription list" in refused.output
