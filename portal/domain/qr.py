"""QR codes of a number's page, drawn by segno (https://segno.readthedocs.io/).

A QR code holds the address of the page and nothing else. The size and the colours are the
asker's to choose within bounds: a module of 1 to 20 pixels, a quiet zone of 0 to 10 modules
(4 is what ISO/IEC 18004 asks for), and colours written as hex, the light one possibly
transparent.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Literal

import segno

from portal.errors import InvalidInput

Kind = Literal["svg", "png"]
CONTENT_TYPES: dict[Kind, str] = {"svg": "image/svg+xml", "png": "image/png"}
SCALE = (1, 20)
BORDER = (0, 10)
DEFAULT_SCALE = 8
DEFAULT_BORDER = 4
TRANSPARENT = "transparent"
_HEX = re.compile(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")


@dataclass(frozen=True)
class Style:
    scale: int = DEFAULT_SCALE
    border: int = DEFAULT_BORDER
    dark: str = "#000000"
    light: str | None = "#ffffff"
    """``None``: transparent."""


def colour(value: str, *, field: str, transparent: bool = False) -> str | None:
    """A colour as ``#rrggbb`` (``None`` for transparent, where allowed), or a clear error."""
    text = value.strip().lower()
    if transparent and text == TRANSPARENT:
        return None
    match = _HEX.fullmatch(text)
    if match is None:
        if transparent:
            raise InvalidInput(
                'Give the %(name)s colour as a hex code like #1a2b3c or 1a2b3c or "%(none)s".',
                field=field,
                name=field,
                none=TRANSPARENT,
            )
        raise InvalidInput(
            "Give the %(name)s colour as a hex code like #1a2b3c or 1a2b3c.",
            field=field,
            name=field,
        )
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(digit * 2 for digit in digits)
    return "#" + digits


def _bounded(value: int, bounds: tuple[int, int], field: str) -> int:
    low, high = bounds
    if not low <= value <= high:
        raise InvalidInput(
            "The %(name)s is between %(low)s and %(high)s.",
            field=field,
            name=field,
            low=low,
            high=high,
        )
    return value


def style(
    *,
    scale: int = DEFAULT_SCALE,
    border: int = DEFAULT_BORDER,
    dark: str = "#000000",
    light: str = "#ffffff",
) -> Style:
    """A checked style; dark and light may not be the same colour."""
    chosen = Style(
        scale=_bounded(scale, SCALE, "scale"),
        border=_bounded(border, BORDER, "border"),
        dark=colour(dark, field="dark") or "",
        light=colour(light, field="light", transparent=True),
    )
    if chosen.dark == chosen.light:
        raise InvalidInput("The dark and light colours are the same: nothing would show.")
    return chosen


def draw(url: str, kind: Kind, chosen: Style, *, title: str = "") -> bytes:
    """The QR code of ``url`` as SVG (no XML declaration: it can go inline) or PNG."""
    code = segno.make(url, error="m", micro=False)
    out = io.BytesIO()
    options: dict[str, object] = {
        "scale": chosen.scale,
        "border": chosen.border,
        "dark": chosen.dark,
        "light": chosen.light,
    }
    if kind == "svg":
        options.update(xmldecl=False, nl=False, title=title or None)
    code.save(out, kind=kind, **options)
    return out.getvalue()
