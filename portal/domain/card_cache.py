"""Cards of numbers looked up often, kept so that a lookup reads one small row, not the card.

A card is kept per (number, relation of the viewer) once it was shown, and only then: a number
nobody has and a hidden one are never kept, so that both still cost the same query and time.

**Kept by whom.** Each application owns its :class:`CardCache` (built by ``create_app``, kept
on ``app.state``, handed to the lookup by a dependency): two applications in one process, on
two databases, never see each other's cards.

**Emptied when.** The database holds one counter, ``card_generation``. Every session that
writes a person, their picture, their accounts, their contacts or their blocks adds one to it
in the same transaction, just before committing (:func:`_before_commit`, wired to every
SQLAlchemy session of every process: a web process, another one behind ``--workers``, the
CLI). Every lookup reads the counter, in the query it runs anyway (the relation of a signed-in
viewer, or the card itself), and a cache that finds it moved drops every card. So a change,
wherever it was made, is seen by every lookup that starts after it committed: a block or a
narrowed audience takes effect at once, in every process.

**Read once for many.** A lookup needs a value of the counter read *after it began*: a change
committed before that is then seen. Lookups that arrive together share one read
(:meth:`CardCache.generation`): while one read is on its way to the database, the lookups that
arrive wait for the next one, which the first of them sends once the read before it is back.
Each waiter began before the read it gets was sent, so each gets a value at least as new as
the one it would have read itself; under load, a thousand lookups cost a few reads, and one
lookup alone still costs one.

Why the database and not a counter in Redis: the count is part of the change's own transaction,
so there is no moment when the change is committed and the count not yet (nor a count lost
when a process dies in between), the CLI and a portal without Redis need nothing more, and a
lookup pays one round trip either way. The row is written last in each transaction, so writers
wait on it only for the moment it takes to commit.

A card is kept with the counter read before its data, and given only to a lookup that read the
same counter: data read after a change committed is never older than the change. A session
that wrote any of those tables itself keeps and takes nothing (what it reads is not committed).

Only writes through a session are seen: SQL sent on a bare connection, and a migration that
changes those tables, must add one to ``card_generation`` themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, UOWTransaction

from portal.storage.models import (
    Avatar,
    Block,
    CardGeneration,
    Contact,
    LinkedAccount,
    PortalNumber,
    User,
)

if TYPE_CHECKING:
    from portal.domain.privacy import Card, Relation

MAX_CARDS = 20_000

_WATCHED = frozenset(
    model.__tablename__ for model in (User, Avatar, LinkedAccount, Contact, Block, PortalNumber)
)
_TOUCHED = "portal_cards_touched"

GENERATION = (
    select(CardGeneration.value).where(CardGeneration.id == 1).scalar_subquery().label("gen")
)
"""The counter, as a column of the query a lookup runs anyway."""
_BUMP = update(CardGeneration).where(CardGeneration.id == 1).values(value=CardGeneration.value + 1)


class _Gone(Exception):
    """The lookup that was to read the counter for others left before it did (it was
    cancelled, or its read failed): each of the others reads it for itself."""


class _SharedRead:
    """One read of the counter for every lookup that arrived before it was sent."""

    def __init__(self) -> None:
        self._open: asyncio.Future[int] | None = None
        """The read that lookups arriving now will share: not sent yet."""
        self._sent: asyncio.Future[int] | None = None
        """The read on its way to the database: the next one is sent when it is back."""

    async def value(self, read: Callable[[], Awaitable[int]]) -> int:
        shared = self._open
        if shared is not None:
            try:
                return await asyncio.shield(shared)
            except _Gone:
                return await read()
        shared = self._open = asyncio.get_running_loop().create_future()
        try:
            while (before := self._sent) is not None:
                await asyncio.wait([before])
            self._open = None  # closed: lookups from now on wait for the next read
            self._sent = shared
            value = await read()
        except BaseException:
            if self._open is shared:
                self._open = None
            self._done(shared, _Gone())
            raise
        self._done(shared, value)
        return value

    def _done(self, shared: asyncio.Future[int], outcome: int | _Gone) -> None:
        if self._sent is shared:
            self._sent = None
        if isinstance(outcome, _Gone):
            shared.set_exception(outcome)
            shared.exception()  # retrieved, whether anyone waited or not
        else:
            shared.set_result(outcome)


class CardCache:
    """The cards one application keeps, valid for one value of the database's counter."""

    def __init__(self, *, max_cards: int = MAX_CARDS) -> None:
        self.max_cards = max_cards
        self._generation: int | None = None
        self._cards: dict[tuple[str, Relation], Card] = {}
        self._owners: dict[str, int] = {}
        self._rendered: dict[tuple[str, Relation, str], tuple[Card, bytes]] = {}
        self._read = _SharedRead()

    async def generation(self, read: Callable[[], Awaitable[int]]) -> int:
        """The counter as read after this call began: by ``read`` (one query), or by the
        read of a lookup that arrived at the same time (see "Read once for many" above)."""
        return await self._read.value(read)

    def owner_of(self, number: str) -> int | None:
        """Whose number it is, when a card of it is kept."""
        return self._owners.get(number)

    def get(self, number: str, relation: Relation, generation: int) -> Card | None:
        """The card kept for this counter, or None: the caller reads it and :meth:`keep`\\ s it."""
        if generation != self._generation:
            self.clear()
            self._generation = generation
            return None
        return self._cards.get((number, relation))

    def keep(self, card: Card, generation: int) -> None:
        """Keep ``card``, read after the counter was ``generation``, unless it moved since."""
        if not self.max_cards:
            return
        if self._generation is None or generation > self._generation:
            self.clear()
            self._generation = generation
        elif generation < self._generation:
            return  # another lookup read a newer value: this card may be from before it
        if len(self._cards) >= self.max_cards:
            self.clear()
        self._cards[(card.number, card.relation)] = card
        self._owners[card.number] = card.user_id

    def rendered(self, card: Card, form: str, render: Callable[[Card], bytes]) -> bytes:
        """``card`` rendered as ``form`` (e.g. the API's JSON for one address), made once for
        each kept card and dropped with it."""
        key = (card.number, card.relation, form)
        done = self._rendered.get(key)
        if done is not None and done[0] is card:
            return done[1]
        body = render(card)
        if self._cards.get((card.number, card.relation)) is card:
            self._rendered[key] = (card, body)
        return body

    def clear(self) -> None:
        self._cards.clear()
        self._owners.clear()
        self._rendered.clear()


def wrote_cards(session: AsyncSession) -> bool:
    """Whether ``session`` changed what cards show, not committed yet: it reads its own change,
    which no card kept for others may hold."""
    return bool(session.info.get(_TOUCHED))


def _tables(statement: Any) -> set[str]:
    table = getattr(statement, "table", None)
    return {table.name} if table is not None else set()


@event.listens_for(Session, "after_flush")
def _on_flush(session: Session, _flush: UOWTransaction) -> None:
    rows = (*session.new, *session.dirty, *session.deleted)
    if any(getattr(row, "__tablename__", None) in _WATCHED for row in rows):
        session.info[_TOUCHED] = True


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: Any) -> None:
    """``insert()``, ``update()`` and ``delete()`` statements change rows without a flush."""
    changes = state.is_insert or state.is_update or state.is_delete
    if changes and _tables(state.statement) & _WATCHED:
        state.session.info[_TOUCHED] = True


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    """Count the change in its own transaction, as its last write (the flush that commit runs
    comes after this event, so it runs here first)."""
    if session.new or session.deleted or session.dirty:
        session.flush()
    if session.info.get(_TOUCHED):
        session.connection().execute(_BUMP)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    session.info.pop(_TOUCHED, None)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_TOUCHED, None)
