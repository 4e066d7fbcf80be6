"""Cards of numbers looked up often, kept for a moment so that a lookup costs no query.

A card is kept per (number, relation of the viewer) once it was shown, and only then: a number
nobody has and a hidden one are never kept, so that both still cost the same queries and time.

Every committed change to a person, their picture, their accounts, their contacts or their
blocks empties the cache of this process (:func:`_on_commit`, wired to every SQLAlchemy
session): whatever a person changes is seen by their next lookup. A lookup that read the
database while such a change was committed does not keep what it read (the generation moved
on in between). Another process (a second web process, the worker, the CLI) cannot empty this
one's cache, so nothing is kept longer than :data:`SECONDS` (and :data:`REFRESH` while one
lookup reads it again).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.orm import Session, UOWTransaction

from portal.storage.models import Avatar, Block, Contact, LinkedAccount, PortalNumber, User

if TYPE_CHECKING:
    from portal.domain.privacy import Card, Relation

SECONDS = 2.0
"""How long a card is kept at most: how late a change made by another process is seen."""
REFRESH = 0.5
"""How long the others are still given a due card while one caller reads it again."""
MAX_CARDS = 20_000

_WATCHED = frozenset(
    model.__tablename__ for model in (User, Avatar, LinkedAccount, Contact, Block, PortalNumber)
)
_TOUCHED = "portal_cards_touched"

_cards: dict[tuple[str, str], tuple[float, Card]] = {}
_owners: dict[str, int] = {}
_generation = 0


def generation() -> int:
    """Taken before reading a card from the database, and given back to :func:`keep`."""
    return _generation


def get(number: str, relation: Relation) -> Card | None:
    """The card kept, or None: the caller reads it from the database and keeps it.

    When a card is due, one caller is sent to read it again while the others are still given
    the kept one for :data:`REFRESH` seconds: they do not all read it at once.
    """
    kept = _cards.get((number, relation))
    if kept is None:
        return None
    now = time.monotonic()
    if kept[0] < now:
        if kept[0] < now - REFRESH:  # the caller sent to read it again did not come back
            del _cards[(number, relation)]
            return None
        _cards[(number, relation)] = (now + REFRESH, kept[1])
        return None
    return kept[1]


def forget(number: str) -> None:
    """The number is hidden or gone, as seen by a lookup that read the database."""
    for relation in [key for key in _cards if key[0] == number]:
        del _cards[relation]
    _owners.pop(number, None)


def owner_of(number: str) -> int | None:
    """Whose number it is, when a card of it is kept."""
    return _owners.get(number)


def keep(card: Card, since: int) -> None:
    """Keep ``card``, unless something changed since ``since`` (a :func:`generation`)."""
    if since != _generation:
        return
    if len(_cards) >= MAX_CARDS:
        clear()
    _cards[(card.number, card.relation)] = (time.monotonic() + SECONDS, card)
    _owners[card.number] = card.user_id


def clear() -> None:
    """Forget every card, and let no lookup under way keep what it read."""
    global _generation
    _generation += 1
    _cards.clear()
    _owners.clear()


def _tables(statement: Any) -> set[str]:
    table = getattr(statement, "table", None)
    return {table.name} if table is not None else set()


@event.listens_for(Session, "after_flush")
def _on_flush(session: Session, _flush: UOWTransaction) -> None:
    rows = (*session.new, *session.dirty, *session.deleted)
    if any(getattr(row, "__tablename__", None) in _WATCHED for row in rows):
        session.info[_TOUCHED] = True
        clear()


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: Any) -> None:
    """``update()`` and ``delete()`` statements change rows without a flush."""
    if (state.is_update or state.is_delete) and _tables(state.statement) & _WATCHED:
        state.session.info[_TOUCHED] = True
        clear()


@event.listens_for(Session, "after_commit")
def _on_commit(session: Session) -> None:
    if session.info.pop(_TOUCHED, False):
        clear()


@event.listens_for(Session, "after_rollback")
def _on_rollback(session: Session) -> None:
    if session.info.pop(_TOUCHED, False):
        clear()
