"""People made straight in the database, quickly (no password hashing), for finding tests."""

from __future__ import annotations

import csv
import itertools
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from portal.domain.account import allocate_number
from portal.domain.number import AllocationPolicy
from portal.storage.models import Block, Contact, LinkedAccount, User, utcnow

CORPUS = Path("/work/shared/corpus/phones")
_serial = itertools.count(1)


async def person(
    db: AsyncSession,
    name: str = "Someone",
    *,
    phone: str | None = None,
    verified: bool = True,
    find_by_phone: bool = False,
    find_by_name: bool = False,
    region: str = "",
    **fields: object,
) -> User:
    number = await allocate_number(db, AllocationPolicy(min_length=8, max_fill=0.5))
    user = User(
        email=f"person{next(_serial)}@example.org",
        number=number,
        password_hash="not a hash",
        display_name=name,
        phone=phone,
        phone_verified_at=utcnow() if phone and verified else None,
        find_by_phone=find_by_phone,
        find_by_name=find_by_name,
        region=region,
        **{"bio": "", "email_confirmed_at": utcnow(), **fields},
    )
    db.add(user)
    await db.flush()
    return user


async def account(
    db: AsyncSession, owner: User, network: str, handle: str, audience: str = "public"
) -> LinkedAccount:
    linked = LinkedAccount(user_id=owner.id, network=network, handle=handle, audience=audience)
    db.add(linked)
    await db.flush()
    return linked


async def block(db: AsyncSession, owner: User, blocked: User) -> None:
    db.add(Block(owner_id=owner.id, blocked_id=blocked.id))
    await db.flush()


async def befriend(db: AsyncSession, a: User, b: User) -> None:
    db.add_all([Contact(owner_id=a.id, other_id=b.id), Contact(owner_id=b.id, other_id=a.id)])
    await db.flush()


@dataclass(frozen=True)
class Example:
    region: str
    type: str
    raw: str
    e164: str


def examples() -> list[Example]:
    with (CORPUS / "examples.csv").open(newline="", encoding="utf-8") as file:
        return [Example(**row) for row in csv.DictReader(file)]


def tricky_inputs() -> list[dict[str, str]]:
    with (CORPUS / "tricky_inputs.csv").open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


class QueryCounter:
    """Counts the statements a session sends to the database."""

    def __init__(self, db: AsyncSession) -> None:
        self.engine = db.get_bind()
        self.count = 0

    def _count(self, *_args: object) -> None:
        self.count += 1

    def __enter__(self) -> QueryCounter:
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)
