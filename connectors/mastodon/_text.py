"""How Mastodon measures a status, what an instance allows in one, and its HTML as text.

- A status is limited to ``configuration.statuses.max_characters`` of the instance, 500 by
  default; ``characters_reserved_per_url`` is what one link counts, 23 by default; and
  ``max_media_attachments`` how many pictures it holds, 4 by default
  (https://docs.joinmastodon.org/entities/Instance/#statuses).
- Mastodon counts the content warning plus the text in grapheme clusters, every link as
  ``characters_reserved_per_url`` and a mention ``@user@domain`` as ``@user`` (its
  StatusLengthValidator, https://github.com/mastodon/mastodon/blob/main/app/validators/status_length_validator.rb).
- Statuses and bios are HTML (https://docs.joinmastodon.org/spec/microformats/); a link's
  visible text is shortened with ``invisible`` and ``ellipsis`` spans.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from connectors import base

URL_LENGTH = 23
DEFAULT_MAX_CHARACTERS = 500
DEFAULT_MAX_MEDIA = 4
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
"""Control characters but tab and line feed: never shown, removed from what people wrote."""


# -- counting text as Mastodon does ----------------------------------------------------------

_URL_IN_TEXT = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_MENTION = re.compile(
    r"(?<![=/\w])@([a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_]+)?)(?:@[\w.-]+\w+)?", re.IGNORECASE
)


def _url_spans(text: str) -> list[tuple[int, int]]:
    """Where the links are: with a scheme, a dotted host, without trailing punctuation."""
    spans = []
    for match in _URL_IN_TEXT.finditer(text):
        url = match.group()
        while url and (
            url[-1] in ".,:;!?'\"" or (url[-1] == ")" and url.count("(") < url.count(")"))
        ):
            url = url[:-1]
        host = url.split("://", 1)[1].split("/", 1)[0]
        if "." in host.strip("."):
            spans.append((match.start(), match.start() + len(url)))
    return spans


def countable_text(text: str, url_length: int = URL_LENGTH) -> str:
    """The text Mastodon measures: each link as ``url_length`` x's, ``@user@domain`` as ``@user``.

    Mastodon's own StatusLengthValidator does this with twitter-text's entity extraction; this
    follows its rules (links need ``http://`` or ``https://``, a mention is the local part).
    """
    if not text.strip():
        return ""
    urls = _url_spans(text)
    entities = [(start, end, "x" * url_length) for start, end in urls]
    for match in _MENTION.finditer(text):
        if not any(start < match.end() and match.start() < end for start, end in urls):
            entities.append((match.start(), match.end(), "@" + match.group(1)))
    entities.sort()
    pieces, last = [], 0
    for start, end, replacement in entities:
        pieces += [text[last:start], replacement]
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def count_status(text: str, spoiler_text: str = "", *, url_length: int = URL_LENGTH) -> int:
    """A status's length against the limit: content warning plus text, in grapheme clusters."""
    return base.count_text(spoiler_text + countable_text(text, url_length), "graphemes")


def max_characters(instance: Mapping[str, Any]) -> int:
    """The instance's limit from ``GET /api/v2/instance`` (``configuration.statuses``)."""
    value = _statuses_config(instance).get("max_characters")
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 10_000_000:
        return value
    return DEFAULT_MAX_CHARACTERS


def url_length(instance: Mapping[str, Any]) -> int:
    """What one link counts on the instance (``characters_reserved_per_url``)."""
    value = _statuses_config(instance).get("characters_reserved_per_url")
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10_000:
        return value
    return URL_LENGTH


@dataclass(frozen=True, slots=True)
class Limits:
    """What one status may hold on an instance."""

    max_characters: int
    url_length: int
    max_media: int


def limits_of(instance: Mapping[str, Any]) -> Limits:
    """The limits an instance gives in ``GET /api/v2/instance``, defaults where it does not."""
    media = _statuses_config(instance).get("max_media_attachments")
    return Limits(
        max_characters(instance),
        url_length(instance),
        media if isinstance(media, int) and 0 < media <= 100 else DEFAULT_MAX_MEDIA,
    )


def _statuses_config(instance: Mapping[str, Any]) -> Mapping[str, Any]:
    configuration = instance.get("configuration") if isinstance(instance, Mapping) else None
    statuses = configuration.get("statuses") if isinstance(configuration, Mapping) else None
    return statuses if isinstance(statuses, Mapping) else {}


# -- HTML as text ----------------------------------------------------------------------------


class _TextOf(HTMLParser):
    """Collects the text of Mastodon's HTML; keeps link text whole, drops scripts and styles."""

    _BLOCKS = frozenset({"p", "div", "blockquote", "pre", "ul", "ol", "h1", "h2", "h3", "h4"})
    _HIDDEN = frozenset({"script", "style", "template", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in self._BLOCKS:
            self._pre += tag == "pre"
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in self._BLOCKS:
            self._pre = max(0, self._pre - (tag == "pre"))
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data if self._pre else re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """A plain-text rendering of a status or bio: paragraphs, line breaks, whole link targets.

    Mastodon shortens a link's visible text with ``invisible`` and ``ellipsis`` spans; all of
    it is kept, so the text holds the complete address.
    """
    if not isinstance(html, str) or not html:
        return ""
    parser = _TextOf()
    parser.feed(html)
    parser.close()
    text = CONTROL.sub("", "".join(parser.parts))
    text = re.sub(r"[ \t]*\n[ \t]*", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
