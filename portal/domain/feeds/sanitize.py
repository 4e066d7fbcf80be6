"""The HTML of feed entries, made safe once, when it is stored.

nh3 (the Rust sanitiser ammonia) keeps a list of harmless elements and attributes and drops
everything else: no ``script`` or ``style`` (with their content), no event handlers, no
``iframe``, ``object``, ``embed`` or ``form``, no ``style`` attribute, no ``class`` or ``id``
that could borrow the page's own styles or anchors. Addresses are kept only when they are
``http:``, ``https:`` or ``mailto:``, or, for an image alone, a ``data:`` image of a raster
type; relative addresses are made absolute against the entry's base, because they would
otherwise point into Portal. Every link opens apart from Portal (``rel="noopener noreferrer
nofollow"``) and every image loads lazily and without telling its server where it is shown
(``referrerpolicy="no-referrer"``).
"""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin, urlsplit

import nh3

TAGS = frozenset(
    {
        "a", "abbr", "b", "bdi", "bdo", "blockquote", "br", "caption", "cite", "code", "col",
        "colgroup", "dd", "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption",
        "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li",
        "mark", "ol", "p", "pre", "q", "rp", "rt", "ruby", "s", "samp", "small", "span",
        "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead",
        "time", "tr", "u", "ul", "var", "wbr",
    }
)  # fmt: skip
ATTRIBUTES = {
    "a": {"href", "hreflang", "title"},
    "abbr": {"title"},
    "blockquote": {"cite"},
    "col": {"span"},
    "colgroup": {"span"},
    "del": {"cite", "datetime"},
    "img": {"src", "alt", "title", "width", "height"},
    "ins": {"cite", "datetime"},
    "ol": {"start", "reversed"},
    "q": {"cite"},
    "td": {"colspan", "rowspan", "headers"},
    "th": {"colspan", "rowspan", "headers", "scope"},
    "time": {"datetime"},
    "*": {"lang", "dir"},
}
GONE_WITH_CONTENT = frozenset({"script", "style", "template", "noscript", "iframe", "object"})
"""Elements whose content is no text for a reader either."""
_URL_ATTRIBUTES = frozenset({"href", "src", "cite"})
_DATA_IMAGE = re.compile(r"data:image/(png|gif|jpeg|webp);base64,[A-Za-z0-9+/=\s]+\Z", re.I)
_WEB = frozenset({"http", "https"})
_BLOCK_END = re.compile(
    r"<(?:br|hr|/(?:p|div|li|h[1-6]|tr|td|th|blockquote|pre|dd|dt))\b[^>]*>", re.I
)


def clean(html: str, base: str | None = None) -> str:
    """``html`` with only what is safe to show inside a Portal page kept; relative addresses
    made absolute against ``base`` (dropped when there is none)."""

    def address(tag: str, attribute: str, value: str) -> str | None:
        if attribute not in _URL_ATTRIBUTES:
            return value
        value = value.strip()
        if tag == "img" and attribute == "src" and _DATA_IMAGE.match(value):
            return value
        try:
            scheme = urlsplit(value).scheme.lower()
            if not scheme:
                if base is None:
                    return None
                value = urljoin(base, value)
                scheme = urlsplit(value).scheme.lower()
        except ValueError:
            return None
        if scheme in _WEB or (scheme == "mailto" and tag == "a"):
            return value
        return None

    return nh3.clean(
        html,
        tags=set(TAGS),
        clean_content_tags=set(GONE_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        attribute_filter=address,
        strip_comments=True,
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"img": {"loading": "lazy", "referrerpolicy": "no-referrer"}},
        url_schemes={"http", "https", "mailto", "data"},
    )


def text(fragment: str) -> str:
    """The words of an HTML ``fragment`` alone, on one line: for search and for previews."""
    spaced = _BLOCK_END.sub(" ", fragment)
    bare = nh3.clean(spaced, tags=set(), clean_content_tags=set(GONE_WITH_CONTENT))
    return " ".join(html.unescape(bare).split())


def first_words(words: str, limit: int = 80) -> str:
    """The start of ``words``, its spaces made one, cut at ``limit`` characters with "…"."""
    joined = " ".join(words.split())
    return joined if len(joined) <= limit else joined[: limit - 1].rstrip() + "…"
