"""One text made to fit one network: as written, as a numbered thread, or shortened.

Every network takes a text of at most so many characters, counted in its own way (Bluesky
counts what a reader sees as one character, Mastodon counts any link as 23 and a mention
``@user@domain`` as ``@user``), with at most so many pictures. A text that fits goes as
written; a longer one becomes a thread of numbered posts (:func:`split_thread`), or is cut
short and followed by a link to the whole of it (:func:`shorten`). :func:`adapt` chooses, and
says what a person must know: *problems* that keep the post from going, *notes* that do not.

Texts are cut where a reader would break them: at a paragraph, else at the end of a sentence,
else between words, and inside a word only when the word alone is longer than a post. A link,
a mention, a hashtag and a character written with several code points (an emoji family, a
flag, a letter with its accent, a Hangul syllable in jamo) are never cut in two.

The counting is the network's, handed in as a function (:meth:`Connector.count_text`, or
:func:`connectors.mastodon._text.count_status` for Mastodon), so this module knows no network
by its counting; :data:`RULES` holds what the networks document about their posts.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import regex

from connectors.base import Connector, PostRules
from portal.errors import N_

Fit = Literal["thread", "shorten"]
"""How a text longer than a post is made to fit: a thread of numbered posts, or one post cut
short with a link to the full text."""

Count = Callable[[str], int]

MAX_PARTS = 10
"""The longest thread the portal publishes; a longer text is for a blog post and a link."""

ELLIPSIS = "…"

_MIN_ROOM = 20
"""Under this much room (what a content warning leaves), a text is not cut into posts."""


# -- what a person is told ---------------------------------------------------------------------


class Message(str):
    """A sentence for a person, in English, that keeps its message id and parameters, so a
    page can show it in the reader's language (:func:`portal.i18n.translate`)."""

    message_id: str
    params: dict[str, object]

    def __new__(cls, message_id: str, **params: object) -> Message:
        message = super().__new__(cls, message_id % params if params else message_id)
        message.message_id = message_id
        message.params = params
        return message


TOO_MANY_PICTURES = N_("At most %(max)d pictures go in one post here: remove %(extra)d.")
PICTURE_NEEDED = N_("This network needs at least one picture: add one.")
NOTHING_TO_POST = N_("Write something or add a picture.")
TOO_MANY_PARTS = N_(
    "This text would take %(parts)d posts, and a thread has at most %(max)d: shorten it, "
    "or publish it elsewhere and share the link."
)
NO_ROOM_LEFT = N_("The content warning leaves too little room for the text: shorten one of them.")
LINK_TOO_LONG = N_(
    "A link is longer than one post can hold and would be cut in two: use a shorter link."
)
FULL_TEXT_LINK_TOO_LONG = N_(
    "The link to the full text does not fit in one post here, so it is left out: "
    "use a shorter link."
)
LINKS_NOT_CLICKABLE = N_("Links are not clickable on this network: readers will have to copy them.")
NO_THREADS = N_("This network does not take threads, so the text is shortened.")
END_LEFT_OUT = N_(
    "The end of the text is left out here; a link to the full text would keep it in reach."
)


@dataclass(frozen=True, slots=True)
class Version:
    """A text as one network will take it, and what to tell its author."""

    parts: tuple[str, ...]
    """The text of each post; more than one is a numbered thread, none when the post is
    pictures alone."""
    fit: Fit | None
    """How it was made to fit; ``None`` when it fits as written."""
    problems: tuple[str, ...]
    """Why it cannot go as it is, in sentences a person understands; empty when it can."""
    notes: tuple[str, ...]
    """What to know that does not stop it ("Links are not clickable on this network…")."""
    length: int
    """The longest part as the network counts it (with the content warning where it counts),
    for a live counter against :attr:`limit`."""
    limit: int

    @property
    def ok(self) -> bool:
        """It can be published as it is."""
        return not self.problems


def adapt(
    text: str,
    rules: PostRules,
    count: Count,
    *,
    fit: Fit = "thread",
    full_text_url: str = "",
    media: int = 0,
    content_warning: str = "",
) -> Version:
    """Make ``text`` fit one network's ``rules``, counted with ``count``.

    The limit is the caption's where pictures go with the text and the network has one, the
    post's otherwise; a content warning takes its share of it where the network counts it
    (Mastodon), in every post of a thread. A text over the limit is split into a thread
    (``fit="thread"``) or shortened with ``full_text_url`` (``fit="shorten"``, and always on
    networks without threads).
    """
    text = strip(text)
    full_text_url = full_text_url.strip()
    warning = content_warning.strip()
    limit = rules.max_length
    if media > 0 and rules.caption_length is not None:
        limit = rules.caption_length
    reserved = count(warning) if rules.content_warning and warning else 0
    room = limit - reserved

    problems: list[str] = []
    notes: list[str] = []
    if media > rules.max_media:
        problems.append(
            Message(TOO_MANY_PICTURES, max=rules.max_media, extra=media - rules.max_media)
        )
    if rules.media_required and media <= 0:
        problems.append(Message(PICTURE_NEEDED))
    elif not text and media <= 0:
        problems.append(Message(NOTHING_TO_POST))

    parts: list[str] = [text] if text else []
    how: Fit | None = None
    if text and count(text) > room:
        how = fit
        if how == "thread" and not rules.threads:
            how = "shorten"
            notes.append(Message(NO_THREADS))
        if room < _MIN_ROOM:
            problems.append(Message(NO_ROOM_LEFT))
            how = None
        elif how == "thread":
            parts = split_thread(text, room, count)
            if len(parts) > MAX_PARTS:
                problems.append(Message(TOO_MANY_PARTS, parts=len(parts), max=MAX_PARTS))
            if any(not any(url in part for part in parts) for url in _links(text)):
                problems.append(Message(LINK_TOO_LONG))
        else:
            url = full_text_url
            if url and count(f"{ELLIPSIS} {url}") > room:
                problems.append(Message(FULL_TEXT_LINK_TOO_LONG))
                url = ""
            parts = [shorten(text, room, count, url)]
            if not url:
                notes.append(Message(END_LEFT_OUT))

    if not rules.links_clickable and any(_links(part) for part in parts):
        notes.append(Message(LINKS_NOT_CLICKABLE))
    longest = max((count(part) for part in parts), default=0)
    return Version(tuple(parts), how, tuple(problems), tuple(notes), longest + reserved, limit)


# -- threads and shortening --------------------------------------------------------------------


def numbering(index: int, total: int) -> str:
    """What ends part ``index`` of a thread of ``total``: `` 2/5``."""
    return f" {index}/{total}"


def split_thread(text: str, limit: int, count: Count) -> list[str]:
    """``text`` as posts of at most ``limit`` each, counted with ``count``, numbering included.

    A text that fits is one post, without a number. Otherwise each post but the last is filled
    as far as a good break allows: a paragraph or a sentence that ends past half the room,
    else the last space that fits, else (a word longer than a post) the last character that
    fits. The whitespace where a post ends is dropped; nothing else of the text is.
    """
    text = strip(text)
    if not text:
        return []
    if count(text) <= limit:
        return [text]
    gaps = _gaps(text)
    widest = 9
    while True:
        suffix = numbering(widest, widest)
        if count(suffix) >= limit:
            raise ValueError(f"a limit of {limit} leaves no room for a numbered post")
        chunks = _pack(text, gaps, count, limit, suffix)
        if len(chunks) <= widest:
            break
        widest = widest * 10 + 9
    total = len(chunks)
    return [chunk + numbering(index, total) for index, chunk in enumerate(chunks, 1)]


def shorten(text: str, limit: int, count: Count, url: str = "") -> str:
    """``text`` cut to fit ``limit`` at the last word that fits, then "…" and ``url``.

    The link stays whole and counts as the network counts it; without one, the text ends with
    "…". A text that fits comes back as it is. :class:`ValueError` when the link alone, after
    "…", is longer than the limit.
    """
    text = text.strip()
    url = url.strip()
    if count(text) <= limit:
        return text
    tail = f"{ELLIPSIS} {url}" if url else ELLIPSIS
    if count(tail) > limit:
        raise ValueError("the link does not fit in one post")

    def ending(cut: int) -> str:
        kept = text[:cut]
        while (trimmed := kept.rstrip().rstrip(_DANGLING)) != kept:
            kept = trimmed
        if not kept:
            return tail
        # A link's address would run on into the "…" after it.
        space = " " if _LINK_AT_END.search(kept) else ""
        return f"{kept}{space}{tail}"

    gaps = _gaps(text)
    words = sorted((gap for level in gaps[:_WORD_LEVELS] for gap in level), key=_start)
    for candidates in (words, *gaps[_WORD_LEVELS:]):
        gap = _farthest(candidates, 0, lambda end: count(ending(end)) <= limit)
        if gap is not None:
            return ending(gap.start)
    return tail


# -- where a text may be cut -------------------------------------------------------------------

_GRAPHEME = regex.compile(r"\X")
_WHITESPACE = "[\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
"""What Python's ``str.strip`` takes for whitespace."""
_CLUSTER_OF_WHITESPACE = rf"(?={_WHITESPACE})\X(?<={_WHITESPACE})"
_EDGES = regex.compile(rf"\A(?:{_CLUSTER_OF_WHITESPACE})+|(?:{_CLUSTER_OF_WHITESPACE})+\Z")
"""Grapheme clusters of whitespace alone at either end of a text."""


def strip(text: str) -> str:
    """``text`` without the whitespace at its ends, in whole grapheme clusters: a space that
    carries a combining mark is one cluster, which is kept, not split."""
    return _EDGES.sub("", text)


_URL = regex.compile(r"https?://[^\s<>\"]+", regex.IGNORECASE)
_AFTER_URL = ".,:;!?'\"”’»"
"""Punctuation after a link that is not part of it."""
_LINK_AT_END = regex.compile(r"https?://\S+\Z", regex.IGNORECASE)
_MENTION = regex.compile(r"(?<![\w@/.])@\w(?:[\w.-]*\w)?(?:@\w(?:[\w.-]*\w)?)?")
"""``@ada``, ``@ada@mastodon.social``, ``@ada.bsky.social``; not an email address."""
_HASHTAG = regex.compile(r"(?<![\w#&/])#\w+")
_SENTENCE_END = regex.compile(r"[.!?…‼⁇⁈⁉。！？．؟۔।॥][\"'”’»)\]]*\Z")
_FULL_STOPS = frozenset("。！？．")
"""Sentence ends that no space follows (Chinese, Japanese)."""
_NEWLINES = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")
_DANGLING = ",;:-–—([{“‘«¿¡"
"""What a shortened text does not end on, before its "…"."""

# The levels of a break, best first: a paragraph, a line, a sentence, a space; then, inside a
# word, a character boundary outside any link, mention or hashtag; then any character boundary.
_PARAGRAPH, _LINE, _SENTENCE, _SPACE, _CHARACTER, _ANYWHERE = range(6)
_WORD_LEVELS = _CHARACTER


@dataclass(frozen=True, slots=True)
class _Gap:
    """Where a text may be cut: the part before ends at ``start``, the next begins at ``end``
    (the whitespace between is dropped; none when a word is cut)."""

    start: int
    end: int


def _start(gap: _Gap) -> int:
    return gap.start


def _links(text: str) -> list[str]:
    return [text[start:end] for start, end in _link_spans(text)]


def _link_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in _URL.finditer(text):
        url = match.group()
        while url and (
            url[-1] in _AFTER_URL or (url[-1] == ")" and url.count("(") < url.count(")"))
        ):
            url = url[:-1]
        if "://" in url and not url.endswith("://"):
            spans.append((match.start(), match.start() + len(url)))
    return spans


def _gaps(text: str) -> tuple[list[_Gap], ...]:
    """Every place ``text`` may be cut, by level (:data:`_PARAGRAPH` … :data:`_ANYWHERE`),
    each list in the order of the text. Only boundaries of grapheme clusters are places."""
    inside = bytearray(len(text) + 1)
    spans = _link_spans(text)
    spans += [match.span() for match in _MENTION.finditer(text)]
    spans += [match.span() for match in _HASHTAG.finditer(text)]
    for start, end in spans:
        inside[start + 1 : end] = b"\x01" * max(0, end - start - 1)

    levels: tuple[list[_Gap], ...] = tuple([] for _ in range(_ANYWHERE + 1))
    clusters = [(match.start(), match.end(), match.group()) for match in _GRAPHEME.finditer(text)]
    index = 0
    while index < len(clusters):
        start, end, cluster = clusters[index]
        if cluster.isspace():
            breaks = 0
            while index < len(clusters) and clusters[index][2].isspace():
                breaks += not _NEWLINES.isdisjoint(clusters[index][2])
                index += 1
            end = clusters[index - 1][1]
            if start > 0 and end < len(text):
                if breaks >= 2 or "\u2029" in text[start:end]:
                    level = _PARAGRAPH
                elif breaks:
                    level = _LINE
                elif _SENTENCE_END.search(text[max(0, start - 8) : start]):
                    level = _SENTENCE
                else:
                    level = _SPACE
                levels[level].append(_Gap(start, end))
            continue
        index += 1
        if index < len(clusters) and not clusters[index][2].isspace():
            if inside[end]:
                levels[_ANYWHERE].append(_Gap(end, end))
            elif cluster[-1] in _FULL_STOPS:
                levels[_SENTENCE].append(_Gap(end, end))
            else:
                levels[_CHARACTER].append(_Gap(end, end))
    for gaps in levels:
        gaps.sort(key=_start)
    return levels


def _farthest(gaps: Sequence[_Gap], start: int, fits: Callable[[int], bool]) -> _Gap | None:
    """The last of ``gaps`` after ``start`` where a part ending there fits; the length of a
    part grows with its end, so a binary search finds it."""
    low = bisect_right(gaps, start, key=_start)
    high = len(gaps)
    if low >= high or not fits(gaps[low].start):
        return None
    while high - low > 1:
        middle = (low + high) // 2
        if fits(gaps[middle].start):
            low = middle
        else:
            high = middle
    return gaps[low]


def _pack(
    text: str, gaps: tuple[list[_Gap], ...], count: Count, limit: int, suffix: str
) -> list[str]:
    """``text`` in chunks that each fit ``limit`` with ``suffix`` after them, cut at the best
    breaks (see :func:`split_thread`)."""

    def fits(chunk: str) -> bool:
        return count(chunk + suffix) <= limit

    room = limit - count(suffix)
    chunks: list[str] = []
    start = 0
    while not fits(text[start:]):
        gap = _best_gap(text, start, gaps, count, room, fits)
        if gap is None:
            break  # a single character longer than a post: it goes as it is
        chunks.append(text[start : gap.start])
        start = gap.end
    chunks.append(text[start:])
    return chunks


def _best_gap(
    text: str,
    start: int,
    gaps: tuple[list[_Gap], ...],
    count: Count,
    room: int,
    fits: Callable[[str], bool],
) -> _Gap | None:
    def fits_until(end: int) -> bool:
        return fits(text[start:end])

    found = []
    for level in gaps[:_WORD_LEVELS]:
        gap = _farthest(level, start, fits_until)
        if gap is not None:
            if count(text[start : gap.start]) * 2 >= room:
                return gap
            found.append(gap)
    if found:
        return max(found, key=_start)
    for level in gaps[_WORD_LEVELS:]:
        gap = _farthest(level, start, fits_until)
        if gap is not None:
            return gap
    # Not even one character fits: cut after the first, so that the thread goes on.
    following = [
        level[index]
        for level in gaps
        if (index := bisect_right(level, start, key=_start)) < len(level)
    ]
    return min(following, key=_start, default=None)


# -- what the networks document ----------------------------------------------------------------

RULES: dict[str, PostRules] = {
    # Telegram Bot API: a message's text is 1-4096 characters after entities parsing, a
    # picture's caption 0-1024 (https://core.telegram.org/bots/api#sendmessage, #sendphoto);
    # an album holds 2-10 photos or videos (#sendmediagroup); a photo is at most 10 MB
    # (#sendphoto). Telegram measures entities in UTF-16 code units
    # (https://core.telegram.org/api/entities#entity-length): count the text with ``utf16``.
    # A longer text goes as messages one after another.
    "telegram": PostRules(
        max_length=4096,
        caption_length=1024,
        max_media=10,
        max_media_bytes=10 * 1024 * 1024,
    ),
    # VK wall.post (https://dev.vk.com/method/wall.post): the text is ``message``, with at
    # most 10 ``attachments``. The reference gives no maximum length for ``message``; about
    # 16,000 characters is what is commonly reported (not documented), so the portal keeps
    # to 15,000. A wall post has no thread of its author's own replies.
    "vk": PostRules(max_length=15_000, max_media=10, threads=False),
    # A Facebook Page post (POST /{page-id}/feed,
    # https://developers.facebook.com/docs/pages-api/posts): 63,206 characters, the limit of
    # Facebook's composer (the Graph API reference names none of its own). Pictures go as
    # ``attached_media``, whose maximum is not documented: the portal attaches at most 10.
    "facebook": PostRules(max_length=63_206, max_media=10, threads=False),
    # Instagram Content Publishing
    # (https://developers.facebook.com/docs/instagram-platform/content-publishing/): a post is
    # a picture, or a carousel of up to 10, with a caption of at most 2,200 characters
    # (https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media);
    # only JPEG pictures are taken, of at most 8 MiB (error 2207004 in
    # https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/error-codes).
    # Links in a caption are not clickable, and a post has no thread.
    "instagram": PostRules(
        max_length=2200,
        max_media=10,
        max_media_bytes=8 * 1024 * 1024,
        media_types=("image/jpeg",),
        media_required=True,
        links_clickable=False,
        threads=False,
    ),
    # Matrix (https://spec.matrix.org/latest/client-server-api/#size-limits): a whole event is
    # at most 65,536 bytes with its ids and signatures, and a message holds its text twice,
    # in ``body`` and as HTML in ``formatted_body`` (where ``&`` becomes ``&amp;``). At 4 bytes
    # a code point, twice, 6,000 code points stay well under it whatever the script. Each
    # picture is an event of its own; the server says its upload limit (``m.upload.size``).
    "matrix": PostRules(max_length=6_000, max_media=10),
    # Mastodon's defaults (https://docs.joinmastodon.org/entities/Instance/#statuses): 500
    # characters and 4 pictures, where an instance may say more. Counted as Mastodon counts
    # (connectors.mastodon._text.count_status): a link as 23, ``@user@domain`` as ``@user``,
    # the content warning with the text.
    "mastodon": PostRules(
        max_length=500, max_media=4, max_media_bytes=16 * 1024 * 1024, content_warning=True
    ),
    # Bluesky's app.bsky.feed.post: 300 graphemes (and 3,000 bytes)
    # (https://github.com/bluesky-social/atproto/blob/main/lexicons/app/bsky/feed/post.json);
    # up to 4 images of at most 1,000,000 bytes each (app.bsky.embed.images). A thread is
    # replies to one's own post.
    "bluesky": PostRules(max_length=300, max_media=4, max_media_bytes=1_000_000),
}
"""What one post may hold on the networks the portal publishes to, from their documentation."""


def rules_for(connector: type[Connector]) -> PostRules | None:
    """What one post may hold on a connector's network: the connector's own
    :attr:`~Connector.POST_RULES` where it sets them, else :data:`RULES`; ``None`` for a network
    the portal does not publish to."""
    if connector.POST_RULES is not None:
        return connector.POST_RULES
    return RULES.get(getattr(connector, "NAME", ""))
