"""The ``portal`` command: serve, migrate, create-user, generate-key, rotate-keys, version."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Annotated

import typer
import uvicorn
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from portal import __version__, crypto
from portal.config import get_settings
from portal.db import make_engine, make_sessionmaker, session_scope
from portal.domain import account, linking, recovery
from portal.domain import number as numbers
from portal.errors import PortalError
from portal.logs import log_config
from portal.storage import migrate as migrations

app = typer.Typer(
    help="Portal: one short number for all of a person's accounts.", no_args_is_help=True
)


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


@app.command()
def version() -> None:
    """Print Portal's version."""
    typer.echo(__version__)


if __name__ == "__main__":  # pragma: no cover
    app()
