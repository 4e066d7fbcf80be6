"""QR codes, read back by a real decoder (zxing-cpp), within the bounds a person may choose."""

from __future__ import annotations

import io
from xml.etree import ElementTree

import pytest
import zxingcpp
from PIL import Image

from portal.domain import qr
from portal.errors import InvalidInput

URL = "https://portal.test/n/12345674"


def decode_png(data: bytes) -> list[str]:
    image: Image.Image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    if image.mode in ("RGBA", "LA", "P"):  # a transparent background read on white
        white = Image.new("RGBA", image.size, "white")
        image = Image.alpha_composite(white, image.convert("RGBA")).convert("RGB")
    return [found.text for found in zxingcpp.read_barcodes(image)]


def test_the_png_holds_the_address() -> None:
    assert decode_png(qr.draw(URL, "png", qr.style())) == [URL]


@pytest.mark.parametrize(
    ("dark", "light"), [("000", "fff"), ("#1a2b3c", "#F0F0F0"), ("112233", "transparent")]
)
def test_colours_are_drawn_and_still_read(dark: str, light: str) -> None:
    chosen = qr.style(scale=3, border=2, dark=dark, light=light)
    data = qr.draw(URL, "png", chosen)
    assert decode_png(data) == [URL]
    image = Image.open(io.BytesIO(data)).convert("RGBA")
    corner = image.getpixel((0, 0))  # the quiet zone
    finder = image.getpixel((2 * 3, 2 * 3))  # the top-left finder pattern's first module
    assert isinstance(corner, tuple) and isinstance(finder, tuple)
    assert finder[:3] == tuple(int(chosen.dark[i : i + 2], 16) for i in (1, 3, 5))
    if chosen.light is None:
        assert corner[3] == 0
    else:
        assert corner[:3] == tuple(int(chosen.light[i : i + 2], 16) for i in (1, 3, 5))


def test_scale_and_border_set_the_size() -> None:
    small = Image.open(io.BytesIO(qr.draw(URL, "png", qr.style(scale=1, border=0))))
    large = Image.open(io.BytesIO(qr.draw(URL, "png", qr.style(scale=20, border=10))))
    modules = small.size[0]
    assert large.size == ((modules + 20) * 20,) * 2


def test_the_svg_is_inline_ready_and_titled() -> None:
    svg = qr.draw(URL, "svg", qr.style(scale=2), title="1234 5674 <b>").decode()
    assert svg.startswith("<svg")  # no XML declaration: it can go inside a page
    root = ElementTree.fromstring(svg)  # noqa: S314 - our own output
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.findtext("{http://www.w3.org/2000/svg}title") == "1234 5674 <b>"
    assert "<script" not in svg


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"scale": 0}, "scale is between 1 and 20"),
        ({"scale": 21}, "scale is between 1 and 20"),
        ({"border": -1}, "border is between 0 and 10"),
        ({"border": 11}, "border is between 0 and 10"),
        ({"dark": "red"}, "dark colour as a hex code"),
        ({"dark": "transparent"}, "dark colour as a hex code"),
        ({"dark": "#12345"}, "dark colour as a hex code"),
        ({"light": "url(x)"}, 'or "transparent"'),
        ({"light": "#ggg"}, "light colour as a hex code"),
        ({"dark": "#ABC", "light": "aabbcc"}, "the same"),
    ],
)
def test_bad_styles_are_refused(options: dict[str, object], words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        qr.style(**options)  # type: ignore[arg-type]


def test_colours_are_normalised() -> None:
    chosen = qr.style(dark=" ABC ", light="Transparent")
    assert chosen.dark == "#aabbcc"
    assert chosen.light is None
