"""Accounts against the real database: numbers, passwords, sessions, tokens, deletion."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from portal.db import make_engine, make_sessionmaker
from portal.domain import account
from portal.domain import number as numbers
from portal.errors import Conflict, InvalidInput, NotAuthenticated, NotFound
from portal.storage import migrate
from portal.storage.models import ApiToken, PortalNumber, User, WebSession, utcnow
from tests.fixtures.database import Databases
from tests.portal.domain import people

POLICY = numbers.AllocationPolicy()
PASSWORD = "correct horse battery"


async def make_user(db, email="ada@example.org", name="Ada Lovelace", policy=POLICY):
    return await account.sign_up(
        db, email=email, password=PASSWORD, display_name=name, policy=policy
    )


async def test_sign_up_hashes_the_password_and_assigns_a_valid_number(db):
    user = await make_user(db)
    assert numbers.is_valid(user.number) and len(user.number) == 8
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    row = await db.get(PortalNumber, user.number)
    assert row is not None and row.retired_at is None


async def test_email_is_unique_whatever_its_case(db):
    await make_user(db, email="Ada@Example.org")
    with pytest.raises(Conflict, match="already exists"):
        await make_user(db, email="ada@EXAMPLE.ORG")


async def test_database_allocation_retries_collisions_and_grows(db):
    """A 4-digit space of 900 numbers with a 10% fill ratio: 90 four-digit numbers, then five."""
    policy = numbers.AllocationPolicy(min_length=4, max_fill=0.1)
    allocated = [await account.allocate_number(db, policy) for _ in range(150)]
    assert len(set(allocated)) == 150
    lengths = dict(
        (
            await db.execute(
                select(PortalNumber.length, func.count()).group_by(PortalNumber.length)
            )
        ).all()
    )
    assert lengths == {4: 90, 5: 60}


class Replay:
    """A "random" source that replays the digits of given numbers, then real randomness."""

    def __init__(self, *wanted: str) -> None:
        self.digits = [int(d) for n in wanted for d in (str(int(n[0]) - 1), *n[1:-1])]

    def randrange(self, stop: int) -> int:
        return self.digits.pop(0) if self.digits else numbers.SYSTEM_RANDOM.randrange(stop)


async def test_a_collision_is_retried_inside_the_same_transaction(db):
    user = await make_user(db)
    # The first two draws hit the number already taken; the third is new.
    fresh = await account.allocate_number(db, POLICY, Replay(user.number, user.number))
    assert fresh != user.number and numbers.is_valid(fresh)
    # The failed claims were rolled back to their savepoints; the session is still usable.
    assert await db.scalar(select(func.count()).select_from(PortalNumber)) == 2


async def test_deleted_accounts_numbers_are_never_reused(db):
    user = await make_user(db)
    number = user.number
    await account.delete_account(db, user, password=PASSWORD)
    assert await db.scalar(select(User).where(User.number == number)) is None
    tombstone = await db.get(PortalNumber, number)
    assert tombstone is not None and tombstone.retired_at is not None
    # The tombstone keeps the primary key taken: a claim of that number fails.
    policy = numbers.AllocationPolicy(min_length=8)
    again = await account.allocate_number(db, policy, Replay(number))
    assert again != number


async def test_delete_needs_the_password(db):
    user = await make_user(db)
    with pytest.raises(InvalidInput, match="password is wrong"):
        await account.delete_account(db, user, password="not it at all")
    assert await db.get(User, user.id) is not None


async def test_authenticate_gives_one_message_for_every_failure(db):
    await make_user(db)
    messages = set()
    for email, password in [
        ("ada@example.org", "wrong password!"),
        ("nobody@example.org", PASSWORD),
        ("not an email", PASSWORD),
        ("ada@example.org", "x" * 5000),
    ]:
        with pytest.raises(NotAuthenticated) as info:
            await account.authenticate(db, email=email, password=password)
        messages.add(info.value.message)
    assert len(messages) == 1
    user = await account.authenticate(db, email=" ADA@example.org ", password=PASSWORD)
    assert user.email == "ada@example.org"


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "at least 10"),
        ("ada@example.org", "cannot be your email"),
        ("x" * 1025, "at most"),
    ],
)
async def test_password_policy(db, password, message):
    with pytest.raises(InvalidInput, match=message):
        await account.sign_up(
            db, email="ada@example.org", password=password, display_name="Ada", policy=POLICY
        )


async def test_sessions_are_stored_hashed_and_expire(db):
    user = await make_user(db)
    secret = await account.start_session(db, user, days=1)
    stored = (await db.scalars(select(WebSession.id_hash))).all()
    assert secret not in stored and len(stored) == 1
    assert (await account.user_for_session(db, secret)).id == user.id
    session_row = (await db.scalars(select(WebSession))).one()
    session_row.expires_at = utcnow() - timedelta(seconds=1)
    await db.flush()
    assert await account.user_for_session(db, secret) is None


async def test_password_change_signs_out_other_sessions(db):
    user = await make_user(db)
    here = await account.start_session(db, user, days=1)
    elsewhere = await account.start_session(db, user, days=1)
    await account.change_password(
        db, user, current=PASSWORD, new="a brand new passphrase", keep_session=here
    )
    assert await account.user_for_session(db, here) is not None
    assert await account.user_for_session(db, elsewhere) is None
    with pytest.raises(NotAuthenticated):
        await account.authenticate(db, email=user.email, password=PASSWORD)
    await account.authenticate(db, email=user.email, password="a brand new passphrase")


async def test_tokens_are_shown_once_stored_hashed_and_revocable(db):
    user = await make_user(db)
    new = await account.create_token(db, user, name="backup script")
    assert new.secret.startswith(account.TOKEN_PREFIX)
    assert (await db.get(ApiToken, new.token.id)).token_hash != new.secret
    assert new.token.hint == new.secret[-4:]
    assert (await account.user_for_token(db, new.secret)).id == user.id
    assert new.token.last_used_at is not None
    await account.revoke_token(db, user, new.token.id)
    assert await account.user_for_token(db, new.secret) is None
    with pytest.raises(NotFound):
        await account.revoke_token(db, user, new.token.id)


async def test_expired_and_foreign_tokens_do_not_work(db):
    ada = await make_user(db)
    bob = await make_user(db, email="bob@example.org", name="Bob")
    new = await account.create_token(db, ada, name="short lived", expires_in_days=1)
    new.token.expires_at = utcnow() - timedelta(minutes=1)
    await db.flush()
    assert await account.user_for_token(db, new.secret) is None
    with pytest.raises(NotFound):
        await account.revoke_token(db, bob, new.token.id)
    assert await account.user_for_token(db, "portal_" + "A" * 43) is None
    assert await account.user_for_token(db, "not-a-portal-token") is None


async def test_deleting_an_account_removes_what_it_owns(db):
    user = await make_user(db)
    await account.start_session(db, user, days=1)
    await account.create_token(db, user, name="x")
    await account.delete_account(db, user, password=PASSWORD)
    for table in ("web_sessions", "api_tokens", "avatars", "users"):
        assert await db.scalar(text(f"SELECT count(*) FROM {table}")) == 0  # noqa: S608


async def test_look_alike_spellings_of_an_email_are_one_account(db):
    user = await make_user(db, email="bob@example.org")
    for spelling in ("\uff42\uff4f\uff42@example.org", "bob@\uff45xample.org.", "BOB@Example.ORG"):
        with pytest.raises(Conflict, match="already exists"):
            await make_user(db, email=spelling)
        assert (await account.authenticate(db, email=spelling, password=PASSWORD)).id == user.id


async def test_a_password_change_can_revoke_the_api_tokens(db):
    user = await make_user(db)
    kept = await account.create_token(db, user, name="kept")
    await account.change_password(
        db, user, current=PASSWORD, new="a brand new passphrase", keep_session=None
    )
    assert await account.user_for_token(db, kept.secret) is not None
    await account.change_password(
        db,
        user,
        current="a brand new passphrase",
        new="another new passphrase",
        keep_session=None,
        revoke_tokens=True,
    )
    assert await account.user_for_token(db, kept.secret) is None
    assert await account.list_tokens(db, user) == []


async def test_password_hashing_leaves_the_event_loop_free(monkeypatch):
    """A hash takes a fraction of a second of a core: other requests go on meanwhile."""
    import asyncio
    import time

    class SlowHasher:
        def hash(self, password: str) -> str:
            time.sleep(0.3)
            return "hashed"

        def verify(self, password_hash: str, password: str) -> bool:
            time.sleep(0.3)
            return True

    monkeypatch.setattr(account, "_hasher", SlowHasher())
    ticks = 0

    async def other_requests() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    running = asyncio.create_task(other_requests())
    try:
        assert await account.hash_password("correct horse battery") == "hashed"
        assert await account.verify_password("hashed", "correct horse battery")
    finally:
        running.cancel()
    assert ticks >= 20


async def test_a_token_used_while_others_write_still_works(databases: Databases):
    """Using a token records when (a write) in a request that began by reading: on SQLite that
    write is refused once another connection committed since the read began. The request is
    answered all the same, and the time recorded by a later use."""
    engine = make_engine(await databases.new("touch"))
    try:
        await migrate.upgrade(engine)
        sessions = make_sessionmaker(engine)
        async with sessions() as db:
            ada, grace = await people.person(db, "Ada"), await people.person(db, "Grace")
            secret = (await account.create_token(db, ada, name="t")).secret
            await db.commit()
        async with sessions() as request, sessions() as other:
            await request.scalar(select(func.count()).select_from(User))  # it began reading
            await account.create_token(other, grace, name="another")  # another request writes
            await other.commit()
            user = await account.user_for_token(request, secret)
            assert user is not None and user.id == ada.id
            await request.commit()
        async with sessions() as db:
            assert (await account.user_for_token(db, secret)) is not None
            await db.commit()
            used = await db.scalar(select(ApiToken.last_used_at).where(ApiToken.user_id == ada.id))
            assert used is not None
    finally:
        await engine.dispose()
