"""The portal as an app on a phone: the web app manifest, the service worker, the offline page.

The worker (``portal/web/sw.js``) keeps one's own card, share page and contact list readable
without a network. Which answers it may keep is said by the server, in ``Cache-Control``:

- every page is ``no-store`` (``portal.web.templating.render``): neither the browser nor the
  worker keeps it, so another person's page, or anything seen by someone who signed out,
  never outlives its answer;
- the three pages that are kept are :data:`KEPT_OFFLINE`, ``private, no-cache``: kept by this
  browser only (never by a shared cache on the way), and asked for again every time, so a
  copy is read only when the network fails. They are the signed-in person's own: the sign-out
  answer carries ``Clear-Site-Data: "cache"`` (the browser's HTTP cache) and the worker
  deletes its copies itself when it sees the sign-out, or a page shown to nobody signed in.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from functools import cache
from pathlib import Path

from fastapi import APIRouter, Request
from starlette.responses import Response

from portal import __version__, i18n
from portal.errors import N_
from portal.web.templating import STATIC_DIR, render

router = APIRouter(include_in_schema=False)

KEPT_OFFLINE = "private, no-cache"
"""Cache-Control of /me, /me/share and /me/contacts: the pages the worker keeps (see above)."""

WORKER_SOURCE = Path(__file__).resolve().parent / "sw.js"
THEME_COLOR = "#1f6feb"
BACKGROUND_COLOR = "#ffffff"
MANIFEST_TYPE = "application/manifest+json"
ICONS = [
    {"src": "/static/icon-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any"},
    {"src": "/static/icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any"},
    {
        "src": "/static/icon-maskable-512.png",
        "sizes": "512x512",
        "type": "image/png",
        "purpose": "maskable",
    },
    {"src": "/static/icon.svg", "sizes": "any", "type": "image/svg+xml", "purpose": "any"},
]


@cache
def cache_version() -> str:
    """The portal's version, and a digest of the worker and the static files: a release, or
    any change to what the worker keeps, makes a new worker that replaces the old caches."""
    digest = hashlib.sha256(WORKER_SOURCE.read_bytes())
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(STATIC_DIR).as_posix().encode())
            digest.update(path.read_bytes())
    return f"{__version__}-{digest.hexdigest()[:12]}"


@cache
def _worker_script() -> bytes:
    source = WORKER_SOURCE.read_text()
    source = source.replace('"__CACHE_VERSION__"', json.dumps(cache_version()))
    return source.replace('"__ASSET_VERSION__"', json.dumps(__version__)).encode()


@router.get("/manifest.webmanifest")
async def manifest(request: Request) -> Response:
    """The web app manifest: what a phone needs to install the portal as an app."""
    language = i18n.negotiate(request)
    gettext = i18n.translations(language).gettext
    document = {
        "id": "/me",
        "name": "Portal",
        "short_name": "Portal",
        "description": gettext(N_("One short number for all your accounts.")),
        "lang": language,
        "start_url": "/me",
        "scope": "/",
        "display": "standalone",
        "theme_color": THEME_COLOR,
        "background_color": BACKGROUND_COLOR,
        "icons": ICONS,
        "shortcuts": [
            {"name": gettext(N_("Share your number")), "url": "/me/share"},
            {"name": gettext(N_("Contacts")), "url": "/me/contacts"},
        ],
    }
    body = json.dumps(document, ensure_ascii=False).encode()
    headers = {"cache-control": "no-cache", "vary": "Accept-Language, Cookie"}
    return Response(body, media_type=MANIFEST_TYPE, headers=headers)


@router.get("/sw.js")
async def service_worker() -> Response:
    """The service worker, at the root so that it may serve every page of the portal."""
    # no-cache: the browser asks every time, so a new release is found on the next visit.
    headers = {"cache-control": "no-cache"}
    # Made once, the first time, by reading and hashing every static file: not on the loop.
    script = await asyncio.to_thread(_worker_script)
    return Response(script, media_type="text/javascript", headers=headers)


@router.get("/offline")
async def offline_page(request: Request) -> Response:
    """The page the worker shows for a page it does not keep, when there is no network."""
    # Shown to whoever is signed in or not: it reads no session and holds nothing personal.
    response = render(request, "offline", {"user": None})
    response.headers["cache-control"] = "no-cache"
    response.headers["content-language"] = i18n.negotiate(request)
    return response
