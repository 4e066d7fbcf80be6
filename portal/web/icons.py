"""The networks' icons: one SVG sprite of only our networks, built from simple-icons (CC0-1.0).

``make assets`` (and the Docker image's build) runs ``python -m portal.web.icons ICONS OUT``,
where ICONS is ``node_modules/simple-icons/icons``: each network becomes a
``<symbol id="net-<name>">`` that pages draw with ``<use>``. A network simple-icons does not
have (some were removed at their owners' request) gets a neutral drawing of ours. The icons
take the text's colour (``currentColor``): brand colours such as X's black or Snapchat's
yellow would fail the contrast of one of the two themes.

This module uses the standard library only, so that it runs before the dependencies are
installed; ``tests/portal/web/test_icons.py`` holds its table to the connectors' registry.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar
from xml.sax.saxutils import escape, quoteattr

from portal.domain.popular import POPULAR

SPRITE = "networks.svg"
"""The sprite's name under ``static/vendor/``."""

SLUGS: dict[str, str | None] = {
    "bluesky": "bluesky",
    "discord": "discord",
    "email": None,
    "facebook": "facebook",
    "feed": "rss",
    "flickr": "flickr",
    "github": "github",
    "gitlab": "gitlab",
    "instagram": "instagram",
    "keybase": "keybase",
    "line": "line",
    "linkedin": None,  # removed from simple-icons at LinkedIn's request
    "mastodon": "mastodon",
    "matrix": "matrix",
    "medium": "medium",
    "messenger": "messenger",
    "odnoklassniki": "odnoklassniki",
    "oidc": "openid",
    "pinterest": "pinterest",
    "pixelfed": "pixelfed",
    "reddit": "reddit",
    "signal": "signal",
    "snapchat": "snapchat",
    "soundcloud": "soundcloud",
    "telegram": "telegram",
    "threads": "threads",
    "tiktok": "tiktok",
    "tumblr": "tumblr",
    "twitch": "twitch",
    "viber": "viber",
    "vk": "vk",
    "website": None,
    "wechat": "wechat",
    "whatsapp": "whatsapp",
    "x": "x",
    "xmpp": "xmpp",
    "youtube": "youtube",
}
"""Each network's name → its simple-icons slug, or ``None`` for a drawing of ours."""

COMMON = POPULAR
"""The networks people add most, first in the picker; the others follow by label."""

_STROKE = (
    'fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"'
    ' stroke-linejoin="round"'
)

# Generic drawings for what is not a brand: an envelope, a globe.
_DRAWN = {
    "email": f'<rect x="3" y="5" width="18" height="14" rx="2" {_STROKE}/>'
    f'<path d="m3.5 6.5 8.5 6.5 8.5-6.5" {_STROKE}/>',
    "website": f'<circle cx="12" cy="12" r="9" {_STROKE}/>'
    f'<path d="M3 12h18M12 3c2.5 2.6 3.8 5.6 3.8 9s-1.3 6.4-3.8 9c-2.5-2.6-3.8-5.6-3.8-9'
    f's1.3-6.4 3.8-9z" {_STROKE}/>',
}

_PATH = re.compile(r'<path d="([^"]+)"\s*/>')

T = TypeVar("T")


def ordered(networks: Iterable[T], name: Callable[[T], str]) -> list[T]:
    """``networks`` (already by label) with the common ones first, in ``COMMON``'s order;
    ``name`` reads a network's name."""
    rank = {common: i for i, common in enumerate(COMMON)}
    return sorted(networks, key=lambda network: rank.get(name(network), len(rank)))


def _initial(name: str, label: str) -> str:
    """The label's first letter in a circle, for a brand simple-icons does not carry."""
    letter = escape((label or name)[:1].upper())
    return (
        '<circle cx="12" cy="12" r="10.25" fill="none" stroke="currentColor" stroke-width="1.5"/>'
        '<text x="12" y="16.4" text-anchor="middle" font-family="system-ui, sans-serif"'
        f' font-size="12.5" font-weight="700" fill="currentColor">{letter}</text>'
    )


_LABELS = {"linkedin": "LinkedIn"}


def symbol(name: str, icons: Path) -> str:
    """The ``<symbol>`` of one network."""
    slug = SLUGS[name]
    if slug is None:
        body = _DRAWN.get(name) or _initial(name, _LABELS.get(name, name))
    else:
        source = (icons / f"{slug}.svg").read_text(encoding="utf-8")
        paths = _PATH.findall(source)
        if len(paths) != 1:
            raise ValueError(f"{slug}.svg: expected one path, found {len(paths)}")
        body = f'<path fill="currentColor" d={quoteattr(paths[0])}/>'
    return f'<symbol id="net-{name}" viewBox="0 0 24 24">{body}</symbol>'


def sprite(icons: Path) -> str:
    """The whole sprite: one symbol per network."""
    symbols = "\n".join(symbol(name, icons) for name in sorted(SLUGS))
    return (
        '<svg xmlns="http://www.w3.org/2000/svg">\n'
        "<!-- Brand icons from simple-icons (https://simpleicons.org), CC0-1.0. -->\n"
        f"{symbols}\n</svg>\n"
    )


def main(argv: Sequence[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m portal.web.icons ICONS_FOLDER OUTPUT.svg", file=sys.stderr)
        return 2
    icons, output = Path(argv[0]), Path(argv[1])
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(sprite(icons), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
