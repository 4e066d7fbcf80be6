"""Server-sent events, for the live parts of pages (the notifications' badge, the feed's notice
of new entries): one way to write an event, and one rhythm for a stream.

A stream tells the browser how long to wait before it reconnects, looks for news every
``poll`` seconds (or at once when ``wake`` is set, for news made in this process), sends a
comment now and then so that proxies keep the connection open, and ends after
:data:`LIFETIME_SECONDS` or as soon as the browser has gone; ``EventSource`` reconnects on its
own. Each stream reads the database in a session of its own, only while it looks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import StreamingResponse

HEARTBEAT_SECONDS = 15.0
LIFETIME_SECONDS = 300.0
"""A stream ends after this; the browser's EventSource reconnects on its own."""
KEEP_ALIVE = ": keep-alive\n\n"


def event(name: str, data: dict[str, object], event_id: int | None = None) -> str:
    """One event, its data as compact JSON."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def rhythm(
    request: Request,
    *,
    poll: float,
    retry_ms: int,
    wake: asyncio.Event | None = None,
) -> AsyncIterator[str]:
    """The stream's own lines: the reconnection delay first, then, each time it is time to
    look for news, ``""`` (the caller looks, and yields its events), with a keep-alive comment
    when one is due; it ends when the stream's life is over or the browser has gone."""
    started = last_beat = time.monotonic()
    ends = LIFETIME_SECONDS
    yield f"retry: {retry_ms}\n\n"
    while True:
        if wake is not None:
            wake.clear()  # news made from here on wakes the next look
        yield ""
        now = time.monotonic()
        if now - last_beat >= HEARTBEAT_SECONDS:
            yield KEEP_ALIVE
            last_beat = now
        if now - started >= ends or await request.is_disconnected():
            return
        if wake is None:
            await asyncio.sleep(poll)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=poll)


def response(lines: AsyncIterator[str]) -> StreamingResponse:
    """The answer that streams ``lines``, kept by no cache or proxy."""
    return StreamingResponse(
        lines,
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )
