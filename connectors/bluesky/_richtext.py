"""Rich text: the links, mentions and hashtags of a post's text as facets. Pure functions.

Why it looks like this (https://docs.bsky.app/docs/advanced-guides/post-richtext, the
``app.bsky.richtext.facet`` lexicon):

- Bluesky's text carries no markup. A *facet* points at a slice of the text and says what it
  is: a link (``#link``, its full ``uri``), a mention (``#mention``, the account's ``did``), a
  hashtag (``#tag``, the tag without its ``#``). The slice is counted in **bytes of the UTF-8
  text**, start inclusive and end exclusive, so every offset here is turned from a position
  in the string into a byte offset at the end.
- What becomes a facet follows the detection of Bluesky's own client (``detectFacets`` of
  ``@atproto/api``, ``rich-text/detection.ts``), so a post written here reads as one written
  in the app:

  - a link is ``http://`` or ``https://`` and what follows up to a space, or a bare domain
    (``example.com/page``) whose last label is a real top-level domain (the IANA list in
    ``tlds.txt``, as the client checks it), linked as ``https://``;
  - a mention is ``@`` and a handle (a domain name with a real top-level domain, or one under
    ``.test`` in development); only a handle that resolves to a DID gets a facet;
  - a hashtag is ``#`` (or the full-width ``＃``) and at least one character that is not a
    digit, a space or punctuation; it ends at a space, loses trailing punctuation, and is at
    most 64 graphemes (the lexicon's ``maxGraphemes``) and 640 bytes (its ``maxLength``).

  Each starts the text, follows a space, or follows an opening bracket or quote (or, as
  CJK text puts no space after its punctuation, ``。、！？`` and their full-width kin).
- Where the client would take in too much, the punctuation a sentence puts after a link is
  left out: any run of ``.,;:!?'`` and closing brackets that are not closed inside the link
  (``https://en.wikipedia.org/wiki/Bracket_(disambiguation)`` keeps its own), and a link
  ends before characters no address holds unescaped (quotes, ``<>``, CJK punctuation and the
  full-width forms of ``U+FF00``-``U+FFEF``), so ``「https://example.com」`` or a link followed
  by ``。`` in Japanese text links just the address.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

import regex

from connectors.atproto import is_valid_handle
from connectors.base import count_text

LINK = "app.bsky.richtext.facet#link"
MENTION = "app.bsky.richtext.facet#mention"
TAG = "app.bsky.richtext.facet#tag"

TAG_MAX_GRAPHEMES = 64
TAG_MAX_BYTES = 640

_BEFORE = r"(?:^|(?<=[\s\p{Ps}\p{Pi}\p{Pf}\"'<\u3001\u3002\uff01\uff0c\uff0e\uff1a\uff1b\uff1f]))"
"""Where a facet may start: the text's start, or after a space, an opening bracket or quote,
or the punctuation of CJK text, which puts no space after it (``。、！？``, full-width)."""
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_FIRST_LABEL = r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?"
"""A bare domain starts with a letter, as in the client, so ``3.14`` is never one."""
_NOT_IN_LINK = r"\s\"<>\p{Pi}\p{Pf}\u3000-\u303f\uff00-\uffef"
_LINKS = regex.compile(
    _BEFORE
    + rf"(?:(?P<url>https?://[^{_NOT_IN_LINK}]+)"
    + rf"|(?P<domain>{_FIRST_LABEL}(?:\.{_LABEL})+)(?![a-z0-9-])"
    + rf"(?P<path>[/:?#][^{_NOT_IN_LINK}]*)?)",
    regex.IGNORECASE,
)
_AFTER_LINK = ".,;:!?'"
_CLOSING = {")": "(", "]": "[", "}": "{"}
_MENTIONS = regex.compile(
    _BEFORE + rf"@(?P<handle>{_LABEL}(?:\.{_LABEL})+)(?![a-z0-9_-]|\.[a-z0-9])",
    regex.IGNORECASE,
)
_INVISIBLE = r"\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2"
_TAGS = regex.compile(
    _BEFORE
    + rf"[#＃](?P<tag>(?!\ufe0f)[^\s{_INVISIBLE}]*[^\d\s\p{{P}}{_INVISIBLE}]+[^\s{_INVISIBLE}]*)"
)
_TRAILING_PUNCTUATION = regex.compile(r"\p{P}+$")


@cache
def top_level_domains() -> frozenset[str]:
    """The DNS root zone's top-level domains (``tlds.txt``), lowercase, IDN ones as xn--."""
    text = resources.files(__package__).joinpath("tlds.txt").read_text(encoding="utf-8")
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def _is_domain(name: str) -> bool:
    return name.rsplit(".", 1)[-1].lower() in top_level_domains()


def mentioned_handles(text: str) -> list[str]:
    """The handles a text mentions (``@ada.bsky.social``), lowercase, each once, in order:
    the ones to resolve to DIDs before :func:`facets` can make them mentions."""
    found: dict[str, None] = {}
    for match in _MENTIONS.finditer(text):
        handle = match["handle"].lower()
        if is_valid_handle(handle) and (_is_domain(handle) or handle.endswith(".test")):
            found[handle] = None
    return list(found)


def facets(text: str, dids: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """The ``app.bsky.richtext.facet`` objects of a text, in the order of the text.

    ``dids`` maps each lowercase handle of :func:`mentioned_handles` to its DID; a handle it
    does not name gets no facet (it stays plain text, as in the app when a handle does not
    resolve). Slices never overlap: where two would, the one that starts first is kept.
    """
    found: list[tuple[int, int, dict[str, str]]] = []
    for match in _LINKS.finditer(text):
        start = match.start()
        if match["url"]:
            end = start + _link_length(match["url"])
            uri = text[start:end]
        else:
            if not _is_domain(match["domain"]):
                continue
            end = start + len(match["domain"]) + _link_length(match["path"] or "")
            uri = "https://" + text[start:end]
        if uri.endswith("://"):
            continue
        found.append((start, end, {"$type": LINK, "uri": uri}))
    known = {handle.lower(): did for handle, did in (dids or {}).items()}
    for match in _MENTIONS.finditer(text):
        did = known.get(match["handle"].lower())
        if did:
            found.append((match.start(), match.end(), {"$type": MENTION, "did": did}))
    for match in _TAGS.finditer(text):
        tag = _TRAILING_PUNCTUATION.sub("", match["tag"])
        if not tag or count_text(tag, "graphemes") > TAG_MAX_GRAPHEMES:
            continue
        if len(tag.encode("utf-8")) > TAG_MAX_BYTES:
            continue
        found.append((match.start(), match.start() + 1 + len(tag), {"$type": TAG, "tag": tag}))
    found.sort(key=lambda item: (item[0], -item[1]))
    result: list[dict[str, Any]] = []
    taken = 0
    for start, end, feature in found:
        if start < taken:
            continue
        taken = end
        result.append(
            {
                "index": {"byteStart": _byte(text, start), "byteEnd": _byte(text, end)},
                "features": [feature],
            }
        )
    return result


def _link_length(link: str) -> int:
    """How much of ``link`` is the address: without the punctuation a sentence puts after
    it, and without closing brackets that close nothing opened inside it."""
    end = len(link)
    while end:
        last = link[end - 1]
        opening = _CLOSING.get(last)
        unclosed = opening is not None and link.count(opening, 0, end) < link.count(last, 0, end)
        if last not in _AFTER_LINK and not unclosed:
            break
        end -= 1
    return end


def _byte(text: str, index: int) -> int:
    """The UTF-8 byte offset of the character at ``index`` (code points)."""
    return len(text[:index].encode("utf-8", "surrogatepass"))
