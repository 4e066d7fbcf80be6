"""A Mastodon home timeline's statuses read into entries: pure functions, tested on the
recorded answers of a real server (https://docs.joinmastodon.org/entities/Status/).

- The entry is the status as Mastodon shows it: its content's HTML (through
  :func:`.sanitize.clean`, like every feed's), its address as the link, its author's display
  name, its first picture. A content warning (``spoiler_text``) folds the content away in a
  ``<details>`` whose summary is the warning, as Mastodon does.
- A boost is an entry of its own (it is known by the boost's own ``uri``): the post boosted,
  under a line naming who boosted it (🔁, no words, so that it reads in every language).
- Private mentions (``direct``) are messages, not reading: they are left out.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from connectors._http import json_object, json_text
from portal.domain.feeds.parse import ParsedEntry, ParsedFeed, make_entry

HOME = "home"
"""The kind of a home timeline's source and feed."""
_SHOWN = frozenset({"public", "unlisted", "private"})


def home_feed(statuses: Sequence[Mapping[str, Any]], site: str) -> ParsedFeed:
    """A home timeline's statuses as a feed; private mentions are left out."""
    entries = [entry for status in statuses if (entry := status_entry(status)) is not None]
    return ParsedFeed(
        kind=HOME,
        title="",  # the source keeps the account's name
        site=site,
        entries=tuple(entries),
        error=None,
        error_params={},
        poll_hint=None,
    )


def status_entry(status: Mapping[str, Any]) -> ParsedEntry | None:
    """One status of a timeline as an entry: its content (a content warning folds it away,
    as Mastodon does), its address, its author's name, its first picture. A boost shows the
    post boosted, under the name of who boosted it; it is an entry of its own."""
    if status.get("visibility") not in _SHOWN:
        return None
    shown = status.get("reblog") if isinstance(status.get("reblog"), Mapping) else status
    assert isinstance(shown, Mapping)
    content = json_text(shown.get("content"))
    warning = json_text(shown.get("spoiler_text")).strip()
    if warning:
        content = f"<details><summary>{html.escape(warning)}</summary>{content}</details>"
    if shown is not status:
        booster = _account_name(status.get("account"))
        where = json_text(json_object(status.get("account")).get("url"))
        name = (
            f'<a href="{html.escape(where)}">{html.escape(booster)}</a>'
            if where
            else html.escape(booster)
        )
        content = f"<p>🔁 {name}</p>{content}"
    link = json_text(shown.get("url")) or json_text(shown.get("uri"))
    return make_entry(
        guid=json_text(status.get("uri")) or json_text(status.get("id")) or None,
        link=link or None,
        title="",
        html=content,
        base=link or "https://invalid/",
        author=_account_name(shown.get("account")) or None,
        published=_moment(status.get("created_at")),
        updated=_moment(shown.get("edited_at")),
        image=_first_image(shown.get("media_attachments")),
        url=link or "https://invalid/",
    )


def _account_name(value: Any) -> str:
    account = json_object(value)
    return (
        json_text(account.get("display_name")).strip()
        or json_text(account.get("acct"))
        or json_text(account.get("username"))
    )


def _first_image(value: Any) -> str | None:
    for item in value if isinstance(value, list) else []:
        media = json_object(item)
        if media.get("type") == "image":
            return json_text(media.get("url")) or json_text(media.get("preview_url")) or None
    return None


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def newest_id(statuses: Sequence[Mapping[str, Any]], before: str | None) -> str | None:
    """The newest status id (Mastodon's ids grow with time; they are compared as numbers
    where they are, by length then text)."""
    ids = [status.get("id") for status in statuses]
    known = [value for value in ids if isinstance(value, str) and value]
    if before:
        known.append(before)
    return max(known, key=lambda value: (len(value), value)) if known else None
