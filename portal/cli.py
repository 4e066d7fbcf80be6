"""The ``portal`` command: serve, worker, migrate, create-user, feeds (poll, import, export),
generate-key, rotate-keys, version."""

from __future__ import annotations

import asyncio
import logging
import logging.config
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import uvicorn
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal import __version__, crypto
from portal.config import Settings, get_settings
from portal.db import make_engine, make_sessionmaker, session_scope
from portal.deps import feed_poller, job_worker
from portal.domain import account, jobs, linking, recovery
from portal.domain import number as numbers
from portal.domain.feeds import opml, poller, sources
from portal.errors import PortalError
from portal.logs import log_config
from portal.storage import migrate as migrations
from portal.storage.models import utcnow

app = typer.Typer(
    help="Portal: one short number for all of a person's accounts.", no_args_is_help=True
)
feeds = typer.Typer(help="Poll the feeds now; import and export subscription lists (OPML).")
app.add_typer(feeds, name="feeds", no_args_is_help=True)

T = TypeVar("T")
log = logging.getLogger("portal.worker")


def _refused(exc: PortalError) -> typer.Exit:
    typer.secho(exc.message, err=True, fg="red")
    return typer.Exit(2)


def _run(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """``work`` to its end, a Portal error as its message on standard error and exit code 2."""
    try:
        return asyncio.run(work())
    except PortalError as exc:
        raise _refused(exc) from None


async def _with_database(settings: Settings, work: Callable[..., Awaitable[T]]) -> T:
    engine = make_engine(settings.database_url)
    try:
        return await work(make_sessionmaker(engine))
    finally:
        await engine.dispose()


def served_url(host: str, port: int) -> str:
    """The address of a portal served on ``host``:``port``, as a browser there reaches it."""
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 - every interface, this one among them
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", envvar="PORT")] = 8000,
    workers: Annotated[int, typer.Option(help="Web processes (needs PostgreSQL and Redis).")] = 1,
    reload: Annotated[bool, typer.Option(help="Restart when the code changes.")] = False,
) -> None:
    """Serve the web portal and the API."""
    settings = get_settings()
    if "base_url" not in settings.model_fields_set:
        # The links the portal hands out (share page, QR codes, vCards, invitations, emails)
        # point at where it is served. The web processes read it from the environment.
        os.environ["PORTAL_BASE_URL"] = served_url(host, port)
        get_settings.cache_clear()
        settings = get_settings()
    uvicorn.run(
        "portal.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        proxy_headers=True,
        server_header=False,
        # Live notification streams stay open; on shutdown they are cut after a few seconds
        # (browsers reconnect to another process) instead of holding the process.
        timeout_graceful_shutdown=3,
        log_config=log_config(settings.log_level, as_json=settings.log_json),
    )


@app.command()
def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, max=200, help="Jobs run at once (default: PORTAL_JOBS_CONCURRENCY)."),
    ] = None,
) -> None:
    """Run the background work until stopped (SIGINT or SIGTERM): publish posts, poll feeds.

    Start as many as you like, on as many machines: on PostgreSQL they share the jobs, and
    a job whose worker died is taken up by another when its lease ends."""
    settings = get_settings()
    logging.config.dictConfig(log_config(settings.log_level, as_json=settings.log_json))
    for name, mode in (("PORTAL_FEED_POLLER", settings.feed_poller_mode),
                       ("PORTAL_JOBS", settings.jobs_mode)):  # fmt: skip
        if mode == "inline":
            log.warning("the web server does this work too (%s=inline): both share it", name)

    def show(what: str, job: jobs.Claimed, _: str) -> None:
        done = {"start": "started", "done": "done", "later": "put off"}[what]
        log.info("job %s: %s %s %s (attempt %d)", job.id, job.kind, job.subject, done, job.attempts)

    async def run(sessions: async_sessionmaker[AsyncSession]) -> None:
        polling = feed_poller(settings, sessions)
        working = job_worker(settings, sessions, concurrency=concurrency, polling=polling)
        working.on_change = show
        await poller.schedule(sessions)
        tasks = [asyncio.create_task(working.run_forever())]
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, lambda: [task.cancel() for task in tasks])
        log.info(
            "worker %s started: polling feeds, running up to %d jobs at once",
            working.name,
            working.concurrency,
        )
        await asyncio.gather(*tasks, return_exceptions=True)
        polling.close()
        log.info("worker stopped")

    asyncio.run(_with_database(settings, run))


@app.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    down: Annotated[bool, typer.Option("--down", help="Downgrade to REVISION instead.")] = False,
) -> None:
    """Bring the database schema to the newest version (or another revision)."""

    async def run() -> tuple[str | None, str | None]:
        engine = make_engine(get_settings().database_url)
        try:
            if down:
                await migrations.downgrade(engine, revision)
            else:
                await migrations.upgrade(engine, revision)
            return await migrations.revisions(engine)
        finally:
            await engine.dispose()

    current, _head = asyncio.run(run())
    typer.echo(f"Database schema at revision {current or 'base'}.")


@app.command("create-user")
def create_user(
    email: Annotated[str, typer.Option(prompt=True, help="Email address to sign in with.")],
    name: Annotated[str, typer.Option(prompt="Display name", help="Display name.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create an account and print its portal number."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    settings = get_settings()

    async def run() -> str:
        engine = make_engine(settings.database_url)
        try:
            async with session_scope(make_sessionmaker(engine)) as session:
                user = await account.sign_up(
                    session,
                    email=email,
                    password=password,
                    display_name=name,
                    policy=settings.number_policy,
                )
                # The operator vouches for the address: no confirmation link is needed.
                await recovery.mark_confirmed(session, user)
                return user.number
        finally:
            await engine.dispose()

    try:
        number = asyncio.run(run())
    except PortalError as exc:
        typer.secho(exc.message, err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from None
    typer.echo(f"Created {email} with portal number {numbers.display(number)}")


@app.command("generate-key")
def generate_key() -> None:
    """Print a new key for PORTAL_ENCRYPTION_KEYS."""
    typer.echo(crypto.generate_key())


@app.command("rotate-keys")
def rotate_keys() -> None:
    """Re-encrypt every stored secret under the first key of PORTAL_ENCRYPTION_KEYS.

    Put a new key first, run this, then remove the old key once it has finished.
    """
    settings = get_settings()
    vault = crypto.Vault(settings.secret_keys)

    async def run() -> int:
        engine = make_engine(settings.database_url)
        try:
            with Progress(
                TextColumn("Re-encrypting"), BarColumn(), MofNCompleteColumn(), transient=True
            ) as bar:
                task = bar.add_task("secrets", total=None)

                def advance(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                async with session_scope(make_sessionmaker(engine)) as session:
                    return await linking.rotate_secrets(session, vault, advance)
        finally:
            await engine.dispose()

    try:
        count = asyncio.run(run())
    except crypto.SecretUnreadable:
        typer.secho(
            "A stored secret cannot be decrypted with these keys: keep the old key in "
            "PORTAL_ENCRYPTION_KEYS (after the new one) until the rotation has finished.",
            err=True,
            fg=typer.colors.RED,
        )
        raise typer.Exit(2) from None
    typer.echo(f"Re-encrypted {count} secrets under the newest key.")


@feeds.command("poll")
def feeds_poll(
    every: Annotated[
        bool, typer.Option("--all", help="Every source not paused, not only those due.")
    ] = False,
) -> None:
    """Poll the feeds that are due now, and say what came of it."""
    settings = get_settings()

    async def run(sessions: async_sessionmaker[AsyncSession]) -> poller.Round:
        async with session_scope(sessions) as session:
            total = await poller.count(session, utcnow(), every=every)
        polling = feed_poller(settings, sessions)
        with Progress(
            TextColumn("Polling"), BarColumn(), MofNCompleteColumn(), transient=True
        ) as bar:
            task = bar.add_task("feeds", total=total)
            polling.on_polled = lambda _polled: bar.advance(task)
            try:
                return await polling.round(every=every)
            finally:
                polling.close()

    done = _run(lambda: _with_database(settings, run))
    typer.echo(
        f"Polled {done.polled} feeds: {done.new} new entries, {done.updated} updated, "
        f"{done.not_modified} not modified, {done.failed} failed"
        + (f", {done.paused} paused ({done.told} readers told)." if done.paused else ".")
    )


@feeds.command("import")
def feeds_import(
    file: Annotated[
        Path, typer.Argument(help="An OPML subscription list.", exists=True, dir_okay=False)
    ],
    email: Annotated[str, typer.Option(help="The account that follows the feeds.")],
) -> None:
    """Follow every feed of an OPML file for an account; the poller reads them next."""
    settings = get_settings()
    try:
        with file.open("rb") as opened:
            listed = opml.read(opened.read(opml.MAX_BYTES + 1))
    except PortalError as exc:
        raise _refused(exc) from None

    async def run(sessions: async_sessionmaker[AsyncSession]) -> sources.ImportReport:
        with Progress(
            TextColumn("Importing"), BarColumn(), MofNCompleteColumn(), transient=True
        ) as bar:
            task = bar.add_task("feeds", total=len(listed.feeds))

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            async with session_scope(sessions, writing=True) as session:
                user = await account.with_email(session, email)
                return await sources.import_outlines(session, user, listed, progress=advance)

    report = _run(lambda: _with_database(settings, run))
    typer.echo(
        f"Added {report.added} feeds; skipped {report.already} already followed"
        f" and {report.unreadable} that are not web addresses."
    )


@feeds.command("export")
def feeds_export(
    email: Annotated[str, typer.Option(help="The account whose feeds are written.")],
) -> None:
    """Write the feeds an account follows as an OPML file, to standard output."""
    settings = get_settings()

    async def run(sessions: async_sessionmaker[AsyncSession]) -> bytes:
        async with session_scope(sessions) as session:
            user = await account.with_email(session, email)
            title = f"Feeds of {numbers.display(user.number)} on Portal"
            return await sources.export_opml(session, user, title=title)

    sys.stdout.buffer.write(_run(lambda: _with_database(settings, run)) + b"\n")
    sys.stdout.buffer.flush()


@app.command()
def version() -> None:
    """Print Portal's version."""
    typer.echo(__version__)


if __name__ == "__main__":  # pragma: no cover
    app()
