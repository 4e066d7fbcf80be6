"""My notifications: the page, marking them read, and the live stream that pushes new ones
to an open page (server-sent events)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from portal import csrf, i18n
from portal.db import write_next
from portal.deps import DB, Sessions, SessionsDep
from portal.domain import notifications
from portal.web import sse
from portal.web.deps import CurrentUser
from portal.web.forms import redirect
from portal.web.templating import render
from portal.web.toast import toast

router = APIRouter(
    prefix="/me/notifications", dependencies=[Depends(csrf.verify)], include_in_schema=False
)

POLL_SECONDS = 3.0
"""How often a stream reads the database, for notifications made by other web processes."""


@router.get("")
async def notifications_page(
    request: Request, db: DB, user: CurrentUser, page: str = "1", unread: bool = False
) -> Response:
    """My notifications, newest first."""
    number = min(int(page), 10_000) if page.isdigit() and len(page) < 6 and page != "0" else 1
    # Only the full list marks what it shows read: marking the unread list as it is paged
    # through would move the next page's notifications under the one just seen.
    found = await notifications.list_notifications(
        db, user, page=number, unread_only=unread, mark_read=not unread
    )
    return render(request, "notifications", {"found": found, "unread_only": unread})


@router.post("/read")
async def read_all(request: Request, db: DB, user: CurrentUser) -> Response:
    """Mark all my notifications read."""
    await notifications.mark_all_read(db, user)
    toast(request, "All your notifications are marked read.")
    return redirect(request, "/me/notifications")


@router.get("/{notification_id:int}")
async def open_one(request: Request, db: DB, user: CurrentUser, notification_id: int) -> Response:
    """Open one notification: it becomes read, and the browser goes where it points."""
    await write_next(db)  # a page opened by a link, and one that writes: a writer from the start
    link = await notifications.open_notification(db, user, notification_id)
    return redirect(request, link)


@router.post("/{notification_id}/read")
async def read_one(request: Request, db: DB, user: CurrentUser, notification_id: int) -> Response:
    """Mark one notification read."""
    await notifications.mark_read(db, user, notification_id)
    toast(request, "The notification is marked read.")
    return redirect(request, "/me/notifications")


async def _stream(
    request: Request,
    sessions: Sessions,
    user_id: int,
    last_id: int,
) -> AsyncIterator[str]:
    language = i18n.negotiate(request)
    wake = notifications.listen(user_id)
    first = True
    try:
        async for line in sse.rhythm(request, poll=POLL_SECONDS, retry_ms=3000, wake=wake):
            if line:
                yield line
                continue
            async with sessions() as session:
                news, unread = await notifications.stream_news(
                    session, user_id, last_id, first=first
                )
            if first:
                yield sse.event("unread", {"unread": unread or 0})
                first = False
            for shown in news:
                last_id = shown.id
                data: dict[str, object] = {
                    "id": shown.id,
                    "kind": shown.kind,
                    "text": i18n.translate(language, shown.message, shown.params),
                    "link": f"/me/notifications/{shown.id}",  # opening it marks it read
                    "created_at": i18n.aware(shown.created_at).isoformat(),
                    "when": i18n.relative_time(shown.created_at, language),
                    "date": i18n.full_date(shown.created_at, language),
                    "unread": unread or 0,
                }
                yield sse.event("notification", data, shown.id)
    finally:
        notifications.stop_listening(user_id, wake)


@router.get("/stream")
async def stream(
    request: Request, db: DB, user: CurrentUser, sessions: SessionsDep, after: str = ""
) -> Response:
    """New notifications as server-sent events, from now (or after ``Last-Event-ID``)."""
    resume = request.headers.get("last-event-id", after)
    if resume.isdigit() and len(resume) < 19:
        last_id = int(resume)
    else:
        last_id = await notifications.latest_id(db, user)
    return sse.response(_stream(request, sessions, user.id, last_id))
