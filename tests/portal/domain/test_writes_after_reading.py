"""Pages that are read and also write (notifications shown become read): on SQLite, a
transaction that read before another writer committed cannot begin to write, so the write
goes in a transaction of its own that begins as a writer."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from connectors import base
from connectors.xmpp import XMPP
from portal.db import session_scope
from portal.deps import link_services
from portal.domain import notifications
from portal.domain.linking import proofs
from portal.storage.models import LinkedAccount, Notification, User
from tests.fixtures.app import make_settings
from tests.fixtures.crash import own_database
from tests.fixtures.database import Databases
from tests.portal.domain import people


async def test_notifications_shown_become_read_after_another_writer_committed(
    databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with own_database(databases, "writes_after_reading") as (_, sessions):
        async with session_scope(sessions, writing=True) as session:
            ada = await people.person(session, "Ada")
            bob = await people.person(session, "Bob")
            session.add(Notification(user_id=ada.id, kind="contact_request", actor_id=bob.id))
        shown = notifications._show
        interleaved: list[bool] = []

        async def shown_while_the_worker_commits(*args: Any) -> Any:
            found = await shown(*args)
            interleaved.append(True)
            async with session_scope(sessions, writing=True) as other:
                await other.execute(update(User).where(User.id == bob.id).values(bio="Busy"))
            return found

        monkeypatch.setattr(notifications, "_show", shown_while_the_worker_commits)
        async with session_scope(sessions) as page:  # a GET's: it begins as one that reads
            me = await page.get(User, ada.id)
            assert me is not None
            listed = await notifications.list_notifications(page, me, mark_read=True)
        assert interleaved == [True], "the other writer never committed in between"
        assert len(listed.items) == 1 and listed.unread == 0
        async with session_scope(sessions) as session:
            read_at = await session.scalar(select(Notification.read_at))
        assert read_at is not None


async def test_an_account_proven_by_signing_in_is_kept_though_another_writer_committed(
    databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Linking by a password reads, asks the account's server, then writes: whoever wrote
    while the server answered does not make the write fail."""
    async with own_database(databases, "linked_after_reading") as (_, sessions):
        async with session_scope(sessions, writing=True) as session:
            ada = await people.person(session, "Ada")
            bob = await people.person(session, "Bob")

        async def signed_in_while_the_worker_commits(
            cls: type[XMPP], handle: str, secret: str, http: Any, **_: Any
        ) -> base.Linked:
            async with session_scope(sessions, writing=True) as other:
                await other.execute(update(User).where(User.id == bob.id).values(bio="Busy"))
            return base.Linked(base.Actor("xmpp", handle, handle), base.Credentials())

        monkeypatch.setattr(XMPP, "sign_in", classmethod(signed_in_while_the_worker_commits))
        services = link_services(make_settings())
        async with session_scope(sessions) as request:  # calls out: it begins as one that reads
            me = await request.get(User, ada.id)
            assert me is not None
            linked = await proofs.link_by_sign_in(
                request, services, me, "xmpp", "ada@example.org", "secret"
            )
        async with session_scope(sessions) as session:
            kept = await session.scalar(select(LinkedAccount.handle))
        assert kept == linked.handle == "ada@example.org"
