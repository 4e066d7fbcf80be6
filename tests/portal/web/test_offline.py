"""The portal as an installable app, over HTTP: the manifest and its icons, the service worker,
the offline page, and the Cache-Control that says which pages the worker may keep.

What the worker does with them in a browser is in test_browser_offline.py.
"""

from __future__ import annotations

import io
import re

import httpx
from PIL import Image

from portal import __version__
from portal.web.offline import cache_version
from tests.fixtures.app import HTML, get_csrf, web_sign_up

MANIFEST_TYPE = "application/manifest+json"


def _png(response: httpx.Response) -> Image.Image:
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "PNG"
    return image


def _session_of(page: str) -> str:
    match = re.search(
        r'<script src="/static/offline\.js\?v=[^"]+" data-session="(\w+)" defer>', page
    )
    assert match, "the page does not load offline.js"
    return match.group(1)


async def test_the_manifest_describes_an_installable_app(client):
    response = await client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response.headers["content-type"] == MANIFEST_TYPE
    manifest = response.json()
    assert manifest["name"] == "Portal"
    assert manifest["short_name"] == "Portal"
    assert manifest["start_url"] == "/me"
    assert manifest["scope"] == "/"
    assert manifest["display"] == "standalone"
    assert re.fullmatch(r"#[0-9a-f]{6}", manifest["theme_color"])
    assert re.fullmatch(r"#[0-9a-f]{6}", manifest["background_color"])
    assert manifest["description"] == "One short number for all your accounts."
    purposes = {(icon["sizes"], icon["purpose"], icon["type"]) for icon in manifest["icons"]}
    assert purposes >= {
        ("192x192", "any", "image/png"),
        ("512x512", "any", "image/png"),
        ("512x512", "maskable", "image/png"),
        ("any", "any", "image/svg+xml"),
    }


async def test_every_icon_of_the_manifest_is_served_at_its_size(client):
    manifest = (await client.get("/manifest.webmanifest")).json()
    for icon in manifest["icons"]:
        response = await client.get(icon["src"])
        assert response.status_code == 200, icon["src"]
        assert response.headers["content-type"].split(";")[0] == icon["type"]
        if icon["type"] != "image/png":
            assert b"<svg" in response.content
            continue
        image = _png(response).convert("RGBA")
        width, height = (int(side) for side in icon["sizes"].split("x"))
        assert image.size == (width, height), icon["src"]
        corner, middle = image.getpixel((0, 0)), image.getpixel((width // 2, height // 2))
        if icon["purpose"] == "maskable":
            # A launcher cuts its own shape out of it: blue to every edge.
            assert corner == (0x1F, 0x6F, 0xEB, 255)
        else:
            assert corner[3] == 0  # the rounded square of icon.svg, transparent around it
        assert middle[3] == 255


async def test_the_manifest_speaks_the_readers_language(client):
    response = await client.get("/manifest.webmanifest", headers={"accept-language": "fr"})
    manifest = response.json()
    assert manifest["lang"] == "fr"
    assert manifest["description"] == "Un numéro court pour tous vos comptes."
    assert "Accept-Language" in response.headers["vary"]


async def test_every_page_links_the_manifest_its_icons_and_the_worker(client):
    page = (await client.get("/", headers=HTML)).text
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
    assert '<meta name="theme-color" content="#1f6feb">' in page
    touch = re.search(r'<link rel="apple-touch-icon" href="([^"]+)">', page)
    assert touch
    assert _png(await client.get(touch.group(1))).size == (180, 180)
    script = re.search(r'<script src="(/static/offline\.js\?v=[^"]+)"', page)
    assert script
    served = await client.get(script.group(1))
    assert served.status_code == 200
    assert 'register("/sw.js"' in served.text


async def test_the_service_worker_is_served_at_the_root(client):
    response = await client.get("/sw.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "no-cache"
    assert "service-worker-allowed" not in response.headers  # the root scope needs none
    script = response.text
    assert f'const VERSION = "{cache_version()}";' in script
    assert f'const ASSETS = "{__version__}";' in script
    assert "__CACHE_VERSION__" not in script and "__ASSET_VERSION__" not in script
    assert cache_version().startswith(f"{__version__}-")


async def test_only_ones_own_three_pages_may_be_kept(client):
    await web_sign_up(client)
    # The page that says the address is confirmed says it once: that one is not kept.
    first = await client.get("/me", headers=HTML)
    assert "Your email address is confirmed." in first.text
    assert first.headers["cache-control"] == "no-store"
    for path in ("/me", "/me/share", "/me/contacts"):
        response = await client.get(path, headers=HTML)
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == "private, no-cache", path
    for path in ("/", "/me/accounts", "/me/tokens", "/search"):
        response = await client.get(path, headers=HTML)
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == "no-store", path
    number = re.search(r'data-testid="my-number">([\d ]+)<', (await client.get("/me")).text)
    assert number
    other_page = await client.get(f"/n/{number.group(1).replace(' ', '')}", headers=HTML)
    assert other_page.headers["cache-control"] == "no-store"


async def test_signing_out_clears_what_the_browser_kept(client):
    await web_sign_up(client)
    token = await get_csrf(client, "/me")
    response = await client.post("/signout", data={"csrf_token": token}, headers=HTML)
    assert response.status_code == 303
    assert response.headers["clear-site-data"] == '"cache"'
    assert (await client.get("/me", headers=HTML)).status_code == 303  # signed out indeed


async def test_pages_tell_the_worker_whether_someone_is_signed_in(client):
    assert _session_of((await client.get("/", headers=HTML)).text) == "out"
    # A page that never looked at the session says nothing either way.
    assert _session_of((await client.get("/nowhere", headers=HTML)).text) == "unknown"
    await web_sign_up(client)
    assert _session_of((await client.get("/me", headers=HTML)).text) == "in"
    assert _session_of((await client.get("/", headers=HTML)).text) == "in"


async def test_the_offline_page_holds_nothing_of_the_person(client):
    await web_sign_up(client, email="grace@example.org", display_name="Grace Hopper")
    me = (await client.get("/me", headers=HTML)).text
    number = re.search(r'data-testid="my-number">([\d ]+)<', me)
    assert number
    response = await client.get("/offline", headers=HTML)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["content-language"] == "en"
    page = response.text
    assert "You are offline" in page
    assert "Grace" not in page and "grace@example.org" not in page
    assert number.group(1) not in page and number.group(1).replace(" ", "") not in page
    assert "csrf_token" not in page
    assert "offline.js" not in page  # it would tell the worker that nobody is signed in


async def test_the_offline_page_speaks_the_readers_language(client):
    response = await client.get("/offline", headers={**HTML, "accept-language": "it"})
    assert response.headers["content-language"] == "it"
    assert '<html lang="it">' in response.text
    assert "Sei offline" in response.text
