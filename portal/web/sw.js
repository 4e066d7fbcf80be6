// Portal's service worker, served at /sw.js by portal/web/offline.py, which fills in the two
// versions below. A new release (or new static files) changes VERSION, so the browser installs
// this worker again and the old caches are deleted when it takes over.
//
// What it keeps, and for whom:
// - "shell": the offline page and the versioned static files (?v=…), the same for everyone.
// - "pages": one's own card (/me), share page with its QR code (/me/share) and contact list
//   (/me/contacts), as last received, to read when there is no network, with the pictures
//   these pages show (one's own and the contacts'). They belong to the person signed in: they
//   are deleted at sign-out, whenever a page says that nobody is signed in, and when the server
//   answers one of them with a redirect (to the sign-in page).
// Never kept: anything but GET, the API, htmx fragments, other pages (other people's among
// them), and any answer marked Cache-Control: no-store. The server sends the three pages above
// as "private, no-cache" and every other page as "no-store" (see portal/web/offline.py).
"use strict";

const VERSION = "__CACHE_VERSION__";
const ASSETS = "__ASSET_VERSION__";
const SHELL = "portal-shell-" + VERSION;
const PAGES = "portal-pages-" + VERSION;
const OFFLINE = "/offline";
const KEPT = new Set(["/me", "/me/share", "/me/contacts"]);
const PICTURE = /^\/n\/\d+\/avatar$/;
const PRECACHE = [
  "/static/app.css?v=" + ASSETS,
  "/static/embed.css?v=" + ASSETS,
  "/static/vendor/htmx.min.js?v=" + ASSETS,
  "/static/vendor/networks.svg?v=" + ASSETS,
  "/static/offline.js?v=" + ASSETS,
  "/static/share.js?v=" + ASSETS,
  "/static/copy.js?v=" + ASSETS,
  "/static/notifications.js?v=" + ASSETS,
  "/static/toasts.js?v=" + ASSETS,
  "/static/confirm.js?v=" + ASSETS,
  "/static/icon.svg",
];

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(SHELL);
    // The offline page must be there; a static file that fails is fetched again when used.
    await cache.add(OFFLINE);
    await Promise.all(PRECACHE.map((url) => cache.add(url).catch(() => undefined)));
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("portal-") && name !== SHELL && name !== PAGES) {
        await caches.delete(name);
      }
    }
    await self.clients.claim();
  })());
});

self.addEventListener("message", (event) => {
  const message = event.data || {};
  if (message.type === "signed-out") {
    event.waitUntil(forget());
  } else if (message.type === "language" && typeof message.lang === "string") {
    event.waitUntil(offlinePageIn(message.lang));
  }
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) {
    return;
  }
  if (request.method !== "GET") {
    if (url.pathname === "/signout") {
      event.waitUntil(forget());
    }
    return;
  }
  if (url.pathname.startsWith("/api/")) {
    return;
  }
  if (url.pathname.startsWith("/static/")) {
    event.respondWith(staticFile(request, url));
  } else if (request.destination === "image" && PICTURE.test(url.pathname)) {
    event.respondWith(picture(event, request));
  } else if (request.mode === "navigate" && request.destination === "document") {
    event.respondWith(KEPT.has(url.pathname) ? keptPage(request) : otherPage(request));
  }
  // A frame (the contact button's preview on the share page) is left to the browser: the
  // offline page may not be framed.
});

/** Whether an answer may be kept: a whole, successful, same-origin one the server lets keep. */
function keepable(response) {
  const control = (response.headers.get("cache-control") || "").toLowerCase();
  return response.status === 200 && response.type === "basic" && !control.includes("no-store")
    && response.headers.get("vary") !== "*";
}

/** Delete every copy of one's own pages, of this version and of older ones. */
async function forget() {
  for (const name of await caches.keys()) {
    if (name.startsWith("portal-pages-")) {
      await caches.delete(name);
    }
  }
}

async function offlinePage() {
  const cache = await caches.open(SHELL);
  const page = await cache.match(OFFLINE);
  return page || new Response("You are offline.", {
    status: 503,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

/** Fetch the offline page again when the person now reads the portal in another language. */
async function offlinePageIn(language) {
  const cache = await caches.open(SHELL);
  const page = await cache.match(OFFLINE);
  if (page && page.headers.get("content-language") === language) {
    return;
  }
  try {
    const fresh = await fetch(OFFLINE, { credentials: "same-origin" });
    if (keepable(fresh)) {
      await cache.put(OFFLINE, fresh);
    }
  } catch (error) {
    // Offline: the page in the language it has will do until the next time.
  }
}

/** Network first; the last good copy when the network fails or the server is down. */
async function keptPage(request) {
  const cache = await caches.open(PAGES);
  let response;
  try {
    response = await fetch(request);
  } catch (error) {
    return (await cache.match(request.url))
      || (await cache.match(request.url, { ignoreSearch: true }))
      || offlinePage();
  }
  if (response.type === "opaqueredirect" || response.redirected) {
    await forget(); // nobody is signed in any more: sent to the sign-in page
  } else if (keepable(response)) {
    await cache.put(request.url, response.clone());
  } else if (response.status >= 500) {
    return (await cache.match(request.url)) || response;
  }
  return response;
}

/** A picture: kept when one of the kept pages shows it, so that those read offline whole;
 * a picture on any other page (someone else's card) only goes through. */
async function picture(event, request) {
  const cache = await caches.open(PAGES);
  const client = event.clientId ? await self.clients.get(event.clientId) : null;
  const onKeptPage = client !== undefined && client !== null
    && KEPT.has(new URL(client.url).pathname);
  try {
    const response = await fetch(request);
    if (onKeptPage && keepable(response)) {
      await cache.put(request.url, response.clone());
    }
    return response;
  } catch (error) {
    const kept = onKeptPage ? await cache.match(request.url) : undefined;
    if (kept) {
      return kept;
    }
    throw error;
  }
}

async function otherPage(request) {
  try {
    return await fetch(request);
  } catch (error) {
    return offlinePage();
  }
}

/** Versioned files (?v=) never change: the cache first. Others: the network first. */
async function staticFile(request, url) {
  const cache = await caches.open(SHELL);
  if (url.searchParams.has("v")) {
    const kept = await cache.match(request);
    if (kept) {
      return kept;
    }
    try {
      const response = await fetch(request);
      if (keepable(response)) {
        await cache.put(request, response.clone());
      }
      return response;
    } catch (error) {
      // Offline, a file of another version is better than none.
      const older = await cache.match(request, { ignoreSearch: true });
      if (older) {
        return older;
      }
      throw error;
    }
  }
  try {
    return await fetch(request);
  } catch (error) {
    const kept = await cache.match(request, { ignoreSearch: true });
    if (kept) {
      return kept;
    }
    throw error;
  }
}
