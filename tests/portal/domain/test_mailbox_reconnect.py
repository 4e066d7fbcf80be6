"""A mailbox that stopped taking its password, found while sending from it: the address is
still its owner's, and connecting the mailbox again (or disconnecting it) makes it whole,
against a real IMAP server (Dovecot) and a real SMTP submission server (aiosmtpd)."""

from __future__ import annotations

import itertools

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from connectors._mailbox import MailboxSettings, MailServer
from portal.config import Settings
from portal.domain import linking
from portal.domain.linking import mailbox, oauth
from portal.errors import Conflict
from portal.storage.models import LinkedAccount, User
from tests.fixtures.app import make_settings
from tests.fixtures.imap import IMAPServer
from tests.fixtures.smtp import Submission
from tests.portal.domain import people

_numbers = itertools.count(1)


@pytest.fixture
def settings() -> Settings:
    """The test servers listen on loopback, which the portal reaches only when allowed."""
    return make_settings(connectors_allow_loopback=True)


async def _address(
    db: AsyncSession, app: FastAPI, imap_server: IMAPServer, submission_server: Submission
) -> tuple[LinkedAccount, MailboxSettings, str]:
    """A proven address whose mailbox was connected, then refused its password."""
    number = next(_numbers)
    password = f"correct horse {number}"
    login = imap_server.add_user(f"reconnect{number}", password)
    submission_server.add_user(login, password)
    settings = MailboxSettings(
        MailServer(imap_server.host, imap_server.port, "none"),
        MailServer(submission_server.host, submission_server.port, "none"),
        login,
    )
    owner = await people.person(db, "Ada")
    account = await people.account(db, owner, "email", login)
    linking.mark_verified(account, "code")
    services = app.state.links
    await mailbox.connect(db, services, owner, account.id, settings, password)
    await oauth.connection_lost(db, services, account)
    assert account.status == linking.NEEDS_RECONNECT
    return account, settings, password


async def test_a_mailbox_connected_again_makes_the_address_whole(
    db: AsyncSession, app: FastAPI, imap_server: IMAPServer, submission_server: Submission
) -> None:
    account, settings, password = await _address(db, app, imap_server, submission_server)
    owner = await db.get(User, account.user_id)
    assert owner is not None

    await mailbox.connect(db, app.state.links, owner, account.id, settings, password)

    assert account.status == linking.VERIFIED
    assert account.problem == ""
    assert mailbox.connected(account)


async def test_a_mailbox_disconnected_leaves_the_address_proven(
    db: AsyncSession, app: FastAPI, imap_server: IMAPServer, submission_server: Submission
) -> None:
    account, _, _ = await _address(db, app, imap_server, submission_server)
    owner = await db.get(User, account.user_id)
    assert owner is not None

    await mailbox.disconnect(db, app.state.links, owner, account.id)

    assert account.status == linking.VERIFIED
    assert not mailbox.connected(account)


async def test_an_address_never_proven_still_has_no_mailbox_to_connect(
    db: AsyncSession, app: FastAPI, imap_server: IMAPServer, submission_server: Submission
) -> None:
    account, settings, password = await _address(db, app, imap_server, submission_server)
    owner = await db.get(User, account.user_id)
    assert owner is not None
    account.verified_by = ""

    with pytest.raises(Conflict):
        await mailbox.connect(db, app.state.links, owner, account.id, settings, password)
    assert account.status == linking.NEEDS_RECONNECT
