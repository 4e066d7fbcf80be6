"""Finding people by name or by the handle of a linked account.

Only people the searcher may find by name are searched, and a match counts only on what the
searcher may see: a name shown to contacts only does not match for a stranger, and neither does
the handle of an account they cannot see. Both rules are :mod:`portal.domain.privacy`'s
(:func:`~portal.domain.privacy.found_by_sql`, :func:`~portal.domain.privacy.sees_sql`).

Matching ignores case and accents the same way on SQLite and PostgreSQL: both sides are folded
with one table of letters (``É`` → ``e``, ``Ж`` → ``ж``), applied in SQL by ``translate()`` on
PostgreSQL and by the same table in a function given to SQLite, and to the query in Python.
A letter outside the table is compared as it is. Wildcards typed in the query (``%``, ``_``)
are plain text.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.domain import privacy
from portal.domain.privacy import Card
from portal.errors import InvalidInput
from portal.storage.models import LinkedAccount, User

PAGE_SIZE = 20
MAX_PAGE = 50
MIN_QUERY = 2
MAX_QUERY = 100

_RANGES = (
    (0x41, 0x5A),  # A-Z
    (0xC0, 0x24F),  # Latin-1 Supplement, Latin Extended-A and -B
    (0x1E00, 0x1EFF),  # Latin Extended Additional (Vietnamese)
    (0x386, 0x3CE),  # Greek, with its accented vowels
    (0x400, 0x45F),  # Cyrillic, Ѐ to џ
)


# Letters with a stroke have no decomposition, but people type them without it.
_STROKES = {"ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ŧ": "t", "ı": "i", "ƀ": "b", "ɨ": "i"}


def _base(ch: str) -> str:
    base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
    base = base.lower()
    return _STROKES.get(base, base)


@cache
def _table() -> tuple[str, str]:
    """The folding table as two strings of the same length: letters, and what each becomes."""
    sources, targets = [], []
    for start, end in _RANGES:
        for point in range(start, end + 1):
            ch = chr(point)
            if not unicodedata.category(ch).startswith("L"):
                continue
            base = _base(ch)
            if len(base) == 1 and base != ch and base.isalpha():
                sources.append(ch)
                targets.append(base)
    # No letter is folded twice, so that the order of replace() calls does not matter.
    assert not set(sources) & set(targets)
    return "".join(sources), "".join(targets)


@cache
def _translation() -> dict[int, int]:
    sources, targets = _table()
    return str.maketrans(sources, targets)


def fold(text: str) -> str:
    """Text as it is compared: NFKC (as names are stored), then the folding table."""
    return unicodedata.normalize("NFKC", text).translate(_translation())


def _fold_stored(text: str | None) -> str | None:
    """The folding of what is stored (already NFKC), as SQLite's ``portal_fold()``."""
    return None if text is None else text.translate(_translation())


async def _prepare(session: AsyncSession) -> str:
    """The database's dialect; on SQLite, ``portal_fold()`` is made known to the connection."""
    connection = await session.connection()
    dialect = connection.dialect.name
    if dialect == "sqlite":

        def register(sync: Any) -> None:
            sync.connection.dbapi_connection.create_function(
                "portal_fold", 1, _fold_stored, deterministic=True
            )

        await connection.run_sync(register)
    return dialect


def _folded(column: Any, dialect: str) -> ColumnElement[str]:
    if dialect == "postgresql":
        sources, targets = _table()
        return func.translate(column, literal(sources), literal(targets))
    return func.portal_fold(column)


def _binary(expression: ColumnElement[str], dialect: str) -> ColumnElement[str]:
    """Ordered by code point on both databases (SQLite's default, PostgreSQL's "C")."""
    return expression.collate("C") if dialect == "postgresql" else expression


def clean_query(text: str) -> str:
    """The query as it is matched, or a clear error: 2 to 100 characters, no control codes."""
    query = " ".join(text.split())
    query = query.removeprefix("@").strip()
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") for ch in query):
        raise InvalidInput("Search for letters, digits and punctuation only.", field="q")
    if len(query) < MIN_QUERY:
        raise InvalidInput("Type at least %(min)d characters to search.", field="q", min=MIN_QUERY)
    if len(query) > MAX_QUERY:
        raise InvalidInput("Search for at most %(max)d characters.", field="q", max=MAX_QUERY)
    return fold(query)


def _like(query: str) -> str:
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(frozen=True)
class Results:
    query: str
    page: int
    cards: list[Card]
    has_more: bool


async def search(session: AsyncSession, viewer: User, text: str, page: int = 1) -> Results:
    """People whose visible name or visible handle contains ``text``, a page at a time."""
    query = clean_query(text)
    if not 1 <= page <= MAX_PAGE:
        raise InvalidInput("Choose a page from 1 to %(max)d.", field="page", max=MAX_PAGE)
    dialect = await _prepare(session)
    pattern = _like(query)
    name = _folded(User.display_name, dialect)
    name_shown = privacy.sees_sql(viewer, User.name_audience)
    by_name = and_(name.like(pattern, escape="\\"), name_shown)
    by_handle = exists().where(
        LinkedAccount.user_id == User.id,
        _folded(LinkedAccount.handle, dialect).like(pattern, escape="\\"),
        privacy.sees_sql(viewer, LinkedAccount.audience),
    )
    # Names that start with the query first, then by name, then by account age: stable.
    # A name the viewer may not see plays no part in the order either.
    shown = case((name_shown, name), else_=literal(""))
    starts = shown.like(_like(query)[1:], escape="\\")
    stmt = (
        select(User)
        .where(privacy.found_by_sql("name", viewer))
        .where(or_(by_name, by_handle))
        .order_by(case((starts, 0), else_=1), _binary(shown, dialect), User.id)
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    )
    users = list((await session.scalars(stmt)).all())
    cards = await privacy.cards_for(session, viewer, users[:PAGE_SIZE])
    return Results(query=query, page=page, cards=cards, has_more=len(users) > PAGE_SIZE)
