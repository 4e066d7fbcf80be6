"""The unified feed's pages: the timeline with its filters, read and starred buttons, paging
and marking all read; the live notice of new entries (server-sent events).

The routes call the domain functions the JSON API calls (:mod:`portal.domain.feeds.read`), so
there is one path to the data. Every action is a form that works without JavaScript (a 303
back to the page it came from); through htmx the same form swaps its entry's buttons in place.
Pages go by the domain's opaque cursor: the "Older entries" link carries it, and with htmx the
same link loads the next page when it is revealed, appended where it stood. An entry's id is
guessable: the buttons count as lookups (:func:`portal.domain.lookup.counted`), and an entry
that is not the reader's answers as one that does not exist.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from portal import csrf, i18n
from portal.db import write_next
from portal.deps import DB, LimiterDep, Sessions, SessionsDep, client_address
from portal.domain import lookup
from portal.domain.feeds import digest, sources
from portal.domain.feeds import read as feed
from portal.errors import N_, InvalidInput
from portal.storage.models import MAX_ID, User, utcnow
from portal.web import sse
from portal.web.deps import CurrentUser
from portal.web.forms import path_id, redirect, safe_next
from portal.web.templating import is_htmx, render
from portal.web.toast import toast

router = APIRouter(prefix="/feed", dependencies=[Depends(csrf.verify)], include_in_schema=False)

Text = Annotated[str, Form()]

PAGE_SIZE = 20
"""Entries a page shows: a phone's screenful or three, so that the next comes soon."""
EXCERPT = 320
"""Characters of an entry's text shown before "Read more"."""
POLL_SECONDS = 20.0
"""How often the live notice counts the entries newer than the page's first."""
FILTER_NAMES = ("network", "number", "source", "folder", "unread", "starred", "q")


def _text(value: str, size: int) -> str:
    return value.strip()[:size]


def _filters_in(
    network: str = "",
    number: str = "",
    source: str = "",
    folder: str = "",
    unread: str = "",
    starred: str = "",
    q: str = "",
) -> dict[str, str]:
    """The filters as typed, kept to their sizes: what the form shows and the links carry."""
    source_id = source if source.isdigit() and 0 < int(source[:12]) <= MAX_ID else ""
    return {
        "network": _text(network, 40),
        "number": _text(number, 100),
        "source": source_id,
        "folder": _text(folder, 200),
        "unread": "1" if unread else "",
        "starred": "1" if starred else "",
        "q": _text(q, feed.MAX_QUERY),
    }


def _filters(shown: dict[str, str]) -> feed.Filters:
    return feed.Filters(
        network=shown["network"] or None,
        number=shown["number"] or None,
        source_id=int(shown["source"]) if shown["source"] else None,
        folder=shown["folder"] or None,
        unread=bool(shown["unread"]),
        starred=bool(shown["starred"]),
        q=shown["q"] or None,
    )


def _query(shown: dict[str, str], **more: str) -> str:
    """The page's address with its filters (and ``more``), for links and forms."""
    pairs = [(k, v) for k, v in shown.items() if v] + [(k, v) for k, v in more.items() if v]
    return "/feed" + ("?" + urlencode(pairs) if pairs else "")


async def _page_context(
    db: DB, user: User, shown: dict[str, str], cursor: str, *, whole: bool = True
) -> dict[str, Any]:
    """The context of a page of the timeline: its entries, the next page's link, the form."""
    error = None
    try:
        after = feed.position(cursor) if cursor else None
        page = await feed.timeline(db, user, _filters(shown), after=after, limit=PAGE_SIZE)
    except InvalidInput as exc:
        # A mistyped number or a spoiled cursor: said above an empty page, not a bare 422.
        page = feed.Page((), None)
        error = exc
    # The form's choices are for a whole page; a next page's entries alone need none.
    followed = await sources.list_sources(db, user) if whole else []
    folders = sorted({s.folder for s in followed if s.folder}, key=str.casefold)
    filtering = any(shown[name] for name in FILTER_NAMES)
    first = page.items[0].position.cursor() if page.items and not cursor else ""
    return {
        "page": page,
        "filters": shown,
        "filtering": filtering,
        "followed": followed,
        "folders": folders,
        "networks": list(feed.network_labels().items()),
        "cursor": cursor,
        "first": first,
        "here": _query(shown, cursor=cursor),
        "top": _query(shown),
        "more": _query(shown, cursor=page.next_cursor) if page.next_cursor else "",
        "stream": "/feed/stream?" + urlencode({**shown, "since": first}) if first else "",
        "excerpt": EXCERPT,
        "problem": error,
    }


@router.get("")
async def feed_page(
    request: Request,
    db: DB,
    user: CurrentUser,
    cursor: str = "",
    network: str = "",
    number: str = "",
    source: str = "",
    folder: str = "",
    unread: str = "",
    starred: str = "",
    q: str = "",
) -> Response:
    """My unified feed, newest first; with htmx, a next page's entries alone."""
    shown = _filters_in(network, number, source, folder, unread, starred, q)
    context = await _page_context(db, user, shown, cursor[:200], whole=not is_htmx(request))
    whole_feed = not (cursor or context["filtering"] or context["problem"] or is_htmx(request))
    if whole_feed:
        # Written in a transaction of its own: the one that read the page may be older than
        # the poller's last commit, and on SQLite could then not write.
        await write_next(db)
        user.feed_seen_at = utcnow()  # the morning digest tells what comes after this
    if context["problem"] is not None:
        context["error"] = i18n.error_text(request, context["problem"])
    status = 422 if context["problem"] is not None else 200
    return render(request, "feed", context, fragment="feed_entries", status_code=status)


@router.get("/digest")
async def digest_page(request: Request, db: DB, user: CurrentUser) -> Response:
    """What came since I last opened my feed, by person and by feed, the most read first."""
    found = await digest.digest(db, user)
    return render(request, "feed_digest", {"digest": found, "hour": user.digest_hour})


_TOASTS = {
    ("read", True): N_("Marked read."),
    ("read", False): N_("Marked unread."),
    ("starred", True): N_("Starred."),
    ("starred", False): N_("The star is taken off."),
}


async def _set(
    request: Request,
    db: DB,
    user: User,
    limiter: LimiterDep,
    entry_id: str,
    next_: str,
    *,
    read: bool | None = None,
    starred: bool | None = None,
) -> Response:
    """Set one entry's read or starred state, counted as a lookup (an entry not in the
    reader's feed is a miss, answered as one that does not exist); with htmx, its buttons as
    they are now, else back to the page with a toast."""
    chosen = path_id(entry_id, feed.NO_ENTRY)
    now_read, now_starred = await lookup.counted(
        limiter,
        user,
        client_address(request),
        feed.set_state(db, user, chosen, read=read, starred=starred),
    )
    back = safe_next(next_, "/feed")
    if is_htmx(request):
        context = {"entry": {"id": chosen, "read": now_read, "starred": now_starred}}
        return render(request, "feed", {**context, "here": back}, fragment="feed_entry_actions")
    toast(request, _TOASTS[("read", read) if read is not None else ("starred", bool(starred))])
    return redirect(request, back)


@router.post("/{entry_id}/read")
async def mark_read(
    request: Request,
    db: DB,
    user: CurrentUser,
    limiter: LimiterDep,
    entry_id: str,
    read: Annotated[Literal["0", "1"], Form()],
    next: Text = "",
) -> Response:
    """Mark one entry of my feed read, or unread again."""
    return await _set(request, db, user, limiter, entry_id, next, read=read == "1")


@router.post("/{entry_id}/star")
async def star(
    request: Request,
    db: DB,
    user: CurrentUser,
    limiter: LimiterDep,
    entry_id: str,
    starred: Annotated[Literal["0", "1"], Form()],
    next: Text = "",
) -> Response:
    """Star one entry of my feed, or take its star off."""
    return await _set(request, db, user, limiter, entry_id, next, starred=starred == "1")


@router.post("/read")
async def mark_all_read(
    request: Request,
    db: DB,
    user: CurrentUser,
    up_to: Text,
    network: Text = "",
    number: Text = "",
    source: Text = "",
    folder: Text = "",
    unread: Text = "",
    starred: Text = "",
    q: Text = "",
) -> Response:
    """Mark read every entry the filters keep, from the first one shown down."""
    shown = _filters_in(network, number, source, folder, unread, starred, q)
    # Up to the first entry the page showed: what came since is left unread.
    position = feed.position(up_to[:200], field="up_to")
    changed = await feed.mark_all_read(db, user, _filters(shown), up_to=position)
    count = i18n.number(changed, i18n.negotiate(request))
    toast(request, "Marked read: %(count)s.", {"count": count})
    # The unread filter would show the page empty: the reader goes back to the top.
    return redirect(request, _query(shown))


# --- the live notice ------------------------------------------------------------------------


async def _stream(
    request: Request,
    sessions: Sessions,
    user_id: int,
    filters: feed.Filters,
    since: feed.Position,
) -> AsyncIterator[str]:
    catalog = i18n.translations(i18n.negotiate(request))
    told = 0
    async for line in sse.rhythm(request, poll=POLL_SECONDS, retry_ms=10_000):
        if line:
            yield line
            continue
        async with sessions() as session:
            viewer = await session.get(User, user_id)
            if viewer is None:
                return
            newer = await feed.count_newer(session, viewer, filters, since)
        if newer != told:
            told = newer
            text = catalog.ngettext("%(count)s new entry", "%(count)s new entries", newer)
            yield sse.event("newer", {"count": newer, "text": text % {"count": newer}})


@router.get("/stream")
async def stream(
    request: Request,
    user: CurrentUser,
    sessions: SessionsDep,
    since: str = "",
    network: str = "",
    number: str = "",
    source: str = "",
    folder: str = "",
    unread: str = "",
    starred: str = "",
    q: str = "",
) -> Response:
    """How many entries came since the page's first, as server-sent events."""
    shown = _filters_in(network, number, source, folder, unread, starred, q)
    position = feed.position(since[:200], field="since")
    return sse.response(_stream(request, sessions, user.id, _filters(shown), position))
