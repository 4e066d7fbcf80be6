"""Feeds: an RSS, Atom or JSON Feed address, linked as a source of posts.

Why it looks like this:

- The handle is the feed's address, in the one canonical spelling of a website's address
  (:func:`connectors._profile.normalize_web_url`): a public ``http`` or ``https`` address,
  lowercase host, no user name or password, no fragment. Feed readers and browsers also write
  ``feed:`` addresses, ``feed://example.org/rss`` (the host follows) and
  ``feed:https://example.org/rss`` (a whole address follows); both are read as the address they
  stand for (the feed URI scheme, draft-obasanjo-feed-uri-scheme-03).
- The link people follow is the feed itself; a reader opens it.
- RSS 2.0 (https://www.rssboard.org/rss-specification), Atom (RFC 4287) and JSON Feed 1.1
  (https://www.jsonfeed.org/version/1.1/) are all addressed the same way, so one network
  covers the three.
"""

from __future__ import annotations

from connectors.base import PUBLIC, Context, InvalidHandle, clean
from connectors.links import Website

__all__ = ["Feed"]


class Feed(Website):
    NAME = "feed"
    LABEL = "Feed (RSS, Atom, JSON Feed)"
    HANDLE_LABEL = "Feed address"
    HANDLE_EXAMPLE = "https://example.org/feed.xml"

    @classmethod
    def normalize_handle(cls, raw: str, *, context: Context = PUBLIC) -> str:
        text = clean(raw, max_length=2048)
        if text[:5].lower() == "feed:":
            text = text[5:]
            if text.startswith("//"):
                text = "https:" + text
            elif not text[:8].lower().startswith(("http://", "https://")):
                raise InvalidHandle("Give the feed's address, starting with https:// or http://.")
        return super().normalize_handle(text, context=context)
