"""The pictures of feed entries, shown through Portal (:mod:`portal.web.feed_images`): the
entry's HTML points at Portal's own signed addresses, and Portal serves a picture only to a
signed-in person, only at an address it signed, only from a public server (the address guard),
and only when the bytes are a raster picture."""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import AsyncIterator

import pytest
from PIL import Image

from connectors._addresses import AddressPolicy
from portal.config import Settings
from portal.domain.feeds.sanitize import clean
from portal.web import feed_images
from tests.fixtures.app import HTML, SECRET_KEY, make_settings
from tests.fixtures.feeds import FeedServer, serving, static

SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "teal").save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def settings() -> Settings:
    return make_settings(connectors_allow_loopback=True)


@pytest.fixture
async def pictures() -> AsyncIterator[FeedServer]:
    routes = {
        "/cat.png": static(_png(), {"content-type": "image/png"}),
        "/cat.svg": static(SVG, {"content-type": "image/png"}),  # a lie about its type
        "/page": static(b"<html>not a picture</html>", {"content-type": "text/html"}),
    }
    async with serving(routes) as server:
        yield server


def _src(fragment: str) -> list[str]:
    return re.findall(r'<img[^>]*\ssrc="([^"]*)"', fragment)


def test_an_entry_s_pictures_point_at_portal_and_nothing_else_changes():
    stored = clean(
        '<p>Look <img alt="a cat" src="https://pics.example/cat.png?w=1&amp;h=2"></p>'
        '<img src="data:image/png;base64,iVBORw0KGgo=">'
        '<a href="https://pics.example/cat.png">link</a>'
    )
    shown = str(feed_images.through_portal(stored, SECRET_KEY))
    first, inline = _src(shown)
    assert first.startswith("/feed/images/") and inline.startswith("data:image/png")
    assert 'href="https://pics.example/cat.png"' in shown, "links are not pictures"
    signature, encoded = first.removeprefix("/feed/images/").split("/")
    url = feed_images._unsigned(signature, encoded, SECRET_KEY)
    assert url == "https://pics.example/cat.png?w=1&h=2"
    assert feed_images._unsigned(signature, encoded, "another portal's key") is None
    assert 'alt="a cat"' in shown and 'loading="lazy"' in shown


async def test_a_signed_picture_is_served_as_what_its_bytes_are(signed_in, pictures):
    url = pictures.url("/cat.png")
    answer = await signed_in.get(feed_images.address(url, SECRET_KEY))
    assert answer.status_code == 200, answer.text
    assert answer.content == _png()
    assert answer.headers["content-type"] == "image/png"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert answer.headers["cache-control"].startswith("private, max-age=")
    asked = pictures.requests[-1][1]
    assert "cookie" not in asked and "referer" not in asked
    assert asked["accept"].startswith("image/")


@pytest.mark.parametrize("path", ["/cat.svg", "/page", "/missing.png"])
async def test_what_is_not_a_raster_picture_is_not_served(signed_in, pictures, path):
    answer = await signed_in.get(feed_images.address(pictures.url(path), SECRET_KEY))
    assert answer.status_code == 404
    assert answer.json()["detail"] == "The picture could not be fetched."


async def test_an_address_portal_did_not_sign_fetches_nothing(signed_in, pictures):
    signed = feed_images.address(pictures.url("/cat.png"), SECRET_KEY)
    _, _, signature, encoded = signed.split("/")[1:]
    other = feed_images.address(pictures.url("/page"), SECRET_KEY).rsplit("/", 1)[1]
    for path in (
        f"/feed/images/{signature}/{other}",  # another address under this one's signature
        f"/feed/images/{'A' * len(signature)}/{encoded}",
        f"/feed/images/{signature}/%%%",
    ):
        answer = await signed_in.get(path)
        assert answer.status_code == 404, path
        assert answer.json()["detail"] == "The picture could not be fetched."
    assert pictures.requests == []


async def test_a_picture_in_a_private_network_is_not_fetched(app, signed_in, pictures):
    """The same picture this machine serves above, with the address guard's own rule (no
    loopback): refused, and no connection made."""
    links = app.state.links
    app.state.links = dataclasses.replace(
        links, context=dataclasses.replace(links.context, addresses=AddressPolicy())
    )
    answer = await signed_in.get(feed_images.address(pictures.url("/cat.png"), SECRET_KEY))
    assert answer.status_code == 404
    assert answer.json()["detail"] == "The picture could not be fetched."
    assert pictures.requests == []


async def test_only_a_signed_in_person_has_pictures_fetched(client, pictures):
    answer = await client.get(feed_images.address(pictures.url("/cat.png"), SECRET_KEY))
    assert answer.status_code == 401
    assert pictures.requests == []


async def test_the_feed_page_shows_entries_pictures_through_portal(signed_in, pictures):
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Cats</title>'
        "<item><guid>1</guid><title>A cat</title>"
        f"<description>&lt;img src=&quot;{pictures.url('/cat.png')}&quot;&gt;</description>"
        "</item></channel></rss>"
    ).encode()
    pictures.routes["/rss"] = static(body, {"content-type": "application/rss+xml"})
    page = await signed_in.get("/feed/sources", headers=HTML)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    added = await signed_in.post(
        "/feed/sources",
        data={"csrf_token": token.group(1), "url": pictures.url("/rss")},
        headers=HTML,
    )
    assert added.status_code in (200, 303), added.text
    shown = await signed_in.get("/feed", headers=HTML)
    sources = _src(shown.text)
    src = feed_images.address(pictures.url("/cat.png"), SECRET_KEY)
    assert src in sources
    assert not [other for other in sources if "127.0.0.1" in other], "no picture from elsewhere"
    assert (await signed_in.get(src)).content == _png()
