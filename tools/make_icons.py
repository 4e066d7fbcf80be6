"""Draw the PNG icons of the web app manifest from the mark of ``portal/web/static/icon.svg``.

The PNGs under ``portal/web/static/`` were made once with this script and are committed, so
the portal needs no drawing at run time (and no font: the ``#`` is drawn as four strokes).
Run it again after changing the mark, from the checkout's root::

    .venv/bin/python tools/make_icons.py

``icon-192.png`` and ``icon-512.png`` are the mark as the SVG draws it: a blue rounded square
on a transparent background. ``icon-maskable-512.png`` fills the whole square with the blue,
and keeps the ``#`` inside the middle 80 % that every launcher's mask leaves visible
(https://www.w3.org/TR/appmanifest/#icon-masks).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

STATIC = Path(__file__).resolve().parents[1] / "portal" / "web" / "static"
BLUE = (0x1F, 0x6F, 0xEB, 255)
WHITE = (255, 255, 255, 255)
_SUPERSAMPLE = 4

# The "#" in the SVG's 64-unit square: two slanted uprights and two bars, as system-ui bold
# at 30 units draws it around (32, 32).
_UPRIGHTS = (27.5, 36.5)
_BARS = (27.2, 35.6)
_TOP, _BOTTOM, _SLANT, _STROKE = 20.5, 43.5, 1.6, 3.6
_LEFT, _RIGHT = 21.5, 42.5


def _hash(draw: ImageDraw.ImageDraw, scale: float, offset: float) -> None:
    def at(x: float, y: float) -> tuple[float, float]:
        return (offset + x * scale, offset + y * scale)

    half = _STROKE / 2
    for x in _UPRIGHTS:
        top, bottom = x + _SLANT, x - _SLANT
        corners = [(top - half, _TOP), (top + half, _TOP), (bottom + half, _BOTTOM)]
        corners.append((bottom - half, _BOTTOM))
        draw.polygon([at(*corner) for corner in corners], fill=WHITE)
    for y in _BARS:
        draw.rectangle([at(_LEFT, y - half), at(_RIGHT, y + half)], fill=WHITE)


def draw(size: int, *, maskable: bool = False) -> Image.Image:
    """The mark at ``size`` pixels square."""
    big = size * _SUPERSAMPLE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    if maskable:
        pen.rectangle([0, 0, big, big], fill=BLUE)
        # The glyph spans 23 of the SVG's 64 units; at 90 % of the side its corners stay well
        # inside the safe circle (80 % of the side across).
        scale = big * 0.9 / 64
        _hash(pen, scale, (big - 64 * scale) / 2)
    else:
        scale = big / 64
        pen.rounded_rectangle([0, 0, big - 1, big - 1], radius=14 * scale, fill=BLUE)
        _hash(pen, scale, 0)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    draw(192).save(STATIC / "icon-192.png", optimize=True)
    draw(512).save(STATIC / "icon-512.png", optimize=True)
    draw(512, maskable=True).save(STATIC / "icon-maskable-512.png", optimize=True)
    draw(180, maskable=True).convert("RGB").save(STATIC / "apple-touch-icon.png", optimize=True)


if __name__ == "__main__":
    main()
