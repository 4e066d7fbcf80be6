"""The application factory."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Match, Mount

from portal import __version__, i18n
from portal.api import accounts as api_accounts
from portal.api import contacts as api_contacts
from portal.api import digest as api_digest
from portal.api import discovery as api_discovery
from portal.api import feeds as api_feeds
from portal.api import follows as api_follows
from portal.api import health as api_health
from portal.api import linked as api_linked
from portal.api import messages as api_messages
from portal.api import numbers as api_numbers
from portal.api import posts as api_posts
from portal.api import readers as api_readers
from portal.api import recovery as api_recovery
from portal.api import schemas
from portal.api import share as api_share
from portal.api.problems import PROBLEM_JSON, problem_response, status_title
from portal.config import Settings, get_settings
from portal.db import make_engine, make_sessionmaker
from portal.deps import feed_poller, job_worker, link_services, phone_services
from portal.domain.card_cache import CardCache
from portal.domain.feeds import poller
from portal.domain.images import ImageWorkers
from portal.domain.posts.server_rules import RulesCache
from portal.errors import N_, PortalError, RateLimited
from portal.middleware import BodyLimitMiddleware, SecurityHeadersMiddleware
from portal.ratelimit import RateLimiter
from portal.web import accounts as web_accounts
from portal.web import auth as web_auth
from portal.web import contacts as web_contacts
from portal.web import discover as web_discover
from portal.web import docs as web_docs
from portal.web import feed as web_feed
from portal.web import feed_images as web_feed_images
from portal.web import feed_sources as web_feed_sources
from portal.web import follows as web_follows
from portal.web import guide as web_guide
from portal.web import language as web_language
from portal.web import mailbox as web_mailbox
from portal.web import me as web_me
from portal.web import messages as web_messages
from portal.web import notifications as web_notifications
from portal.web import offline as web_offline
from portal.web import pages as web_pages
from portal.web import pictures as web_pictures
from portal.web import posts as web_posts
from portal.web import recovery as web_recovery
from portal.web import share as web_share
from portal.web.templating import STATIC_DIR, render

log = logging.getLogger("portal")

UPLOAD_PATHS = frozenset(
    {
        "/me/avatar",
        "/api/v1/me/avatar",
        "/me/discover",
        "/api/v1/sources/opml",
        "/feed/sources/opml",
    }
)
MEDIA_PATHS = frozenset({"/api/v1/media", "/posts/media"})
"""Where pictures for posts are uploaded: up to ``media_max_bytes``."""


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "text/html" not in request.headers.get(
        "accept", ""
    )


def error_response(
    request: Request,
    status: int,
    message: str,
    *,
    field: str | None = None,
    params: dict[str, object] | None = None,
) -> Response:
    """The one rendering of every error: problem+json for the API, a page for browsers.

    ``message`` is a message id with placeholders filled from ``params``, shown in the
    request's language (the cookie or Accept-Language, for the API too; else English).
    """
    if _wants_json(request):
        return problem_response(request, status, message, field=field, params=params)
    language = i18n.negotiate(request)
    title = status_title(language, status)
    message = i18n.translate(language, message, params)
    if status == 401 and request.method == "GET":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/signin?next={target}", status_code=303)
    context = {"title": title, "status": status, "message": message}
    headers = {"cache-control": "no-store"}
    return render(request, "error", context, status_code=status, headers=headers)


def _portal_error(request: Request, exc: PortalError) -> Response:
    response = error_response(
        request, exc.status_code, exc.message_id, field=exc.field, params=exc.params
    )
    if isinstance(exc, RateLimited):
        response.headers["retry-after"] = str(exc.retry_after)
    return response


def _allowed_methods(request: Request) -> str:
    """The methods some route answers at this path; the router's 405 names only one route's."""
    routes = [route for route in request.app.router.routes if not isinstance(route, Mount)]
    allowed = []
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in routes):
            allowed.append(method)
    return ", ".join(allowed)


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    """A sentence about the first problem, e.g. "display_name: Field required"."""
    errors = exc.errors()
    if not errors:
        return N_("The request is not valid."), None
    first = errors[0]
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query")]
    field = ".".join(location) or None
    message = str(first.get("msg", "is not valid"))
    if first.get("type") == "json_invalid":
        return N_("The request body is not valid JSON."), None
    if tuple(first.get("loc", ())) == ("body",):  # no body, or not an object, or not JSON
        return N_("Send a JSON object as the request body, as application/json."), None
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return (f"{field}: {message}{more}" if field else f"{message}{more}"), field


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PortalError)
    async def portal_error(request: Request, exc: PortalError) -> Response:
        return _portal_error(request, exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        message, field = _validation_message(exc)
        return error_response(request, 422, message, field=field)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # FastAPI turns a failure while reading the body into a 400; ours says why.
        if isinstance(exc.__cause__, PortalError):
            return _portal_error(request, exc.__cause__)
        detail = exc.detail if isinstance(exc.detail, str) else N_("The request is not valid.")
        params: dict[str, object] = {}
        if exc.status_code == 404 and detail == "Not Found":
            detail = N_("There is nothing at this address.")
        if exc.status_code == 400 and isinstance(exc.__cause__, ValueError | RecursionError):
            # What json.loads gives up on: bytes that are not UTF-8, absurd nesting or numbers.
            detail = N_("The request body is not valid JSON.")
        allow = _allowed_methods(request) if exc.status_code == 405 else ""
        if allow:
            detail = N_("This address does not accept %(method)s; it accepts %(allowed)s.")
            params = {"method": request.method, "allowed": allow}
        response = error_response(request, exc.status_code, detail, params=params)
        if exc.headers:
            response.headers.update(exc.headers)
        if allow:
            response.headers["allow"] = allow
        return response

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(
            request, 500, N_("Something went wrong on our side. Please try again.")
        )


def _document_problems(app: FastAPI) -> None:
    """Errors are sent as ``application/problem+json``, but FastAPI documents a response model
    under ``application/json``; move each error's schema to the media type really sent."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()
        for path in document.get("paths", {}).values():
            for operation in path.values():
                for response in operation.get("responses", {}).values():
                    content = response.get("content", {})
                    if PROBLEM_JSON in content and "application/json" in content:
                        content[PROBLEM_JSON] = content.pop("application/json")
        return document

    app.openapi = openapi  # type: ignore[method-assign]


_YOUNG_OBJECTS_BEFORE_COLLECTING = 7_000
"""Ten times Python's default: a request allocates hundreds of objects, nearly all freed by
their reference counts before any collection could find them."""


def _settle_heap() -> None:
    """When a process starts serving, once: what exists by then (modules, routes, models,
    catalogues: some 180,000 objects) lives as long as the process, so it is taken out of the
    garbage collector's sight, and the youngest objects are collected less often.

    Under load, the objects of the requests in flight survive young collections and so,
    every few seconds, start a full one; without this, each walked the whole heap (~50 ms,
    with every request waiting). Measured with ``make bench`` on SQLite: the lookup went from
    0.53 to 0.83 of ``/healthz``, and its p99 from 6.6 to 1.5 times its p50."""
    if gc.get_freeze_count():
        return
    gc.collect()
    gc.freeze()
    _, *older = gc.get_threshold()
    gc.set_threshold(_YOUNG_OBJECTS_BEFORE_COLLECTING, *older)


def _start_jobs(app: FastAPI, *, publishing: bool, polling: bool) -> asyncio.Task[None]:
    """The embedded default: the background jobs run in this process — publishing posts,
    polling the feeds, or both."""
    settings = app.state.settings
    poller_ = feed_poller(settings, app.state.sessionmaker, app.state.links) if polling else None
    worker = job_worker(
        settings, app.state.sessionmaker, app.state.links, publishing=publishing, polling=poller_
    )
    app.state.worker = worker
    log.info(
        "running background jobs in this process: %s",
        " and ".join(w for w, on in (("publishing", publishing), ("feeds", polling)) if on),
    )

    async def run() -> None:
        try:
            if poller_ is not None:
                await poller.schedule(worker.sessions)
            await worker.run_forever()
        finally:
            if poller_ is not None:
                poller_.close()

    task = asyncio.create_task(run(), name="job worker")
    if polling:
        app.state.polling = task
    return task


async def _stop(task: asyncio.Task[None]) -> None:
    """Stop background work: sources claimed by a round cut short, and jobs that were
    running, come back when their leases end."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@functools.cache
def _routes() -> tuple[BaseRoute, ...]:
    """The routes of every page and endpoint, made once for all the applications of a process
    (they hold nothing of an application's own). FastAPI prepares a route for requests the
    first time one comes, and keeps what it prepared with the route: the models of its
    parameters and answers, tenths of a second for all of them, which an application made
    anew (every test) would otherwise pay again."""
    routes = APIRouter()
    # The API's answers hold absolute addresses (schemas.absolute_links); pages need none.
    for router in (
        api_accounts.router,
        api_numbers.router,
        api_share.router,
        api_linked.router,
        api_contacts.router,
        api_follows.router,
        api_discovery.router,
        api_feeds.router,
        api_digest.router,
        api_recovery.router,
        api_posts.router,
        api_messages.router,
    ):
        routes.include_router(router, dependencies=[Depends(schemas.absolute_links)])
    for router in (
        api_health.router,
        api_readers.router,
        web_pages.router,
        web_share.router,
        web_auth.router,
        web_recovery.router,
        web_guide.router,
        web_me.router,
        web_contacts.router,
        web_follows.router,
        web_feed_sources.router,
        web_feed.router,
        web_feed_images.router,
        web_pictures.router,
        web_posts.router,
        web_messages.router,
        web_notifications.router,
        web_accounts.router,
        web_mailbox.router,
        web_discover.router,
        web_docs.router,
        web_language.router,
        web_offline.router,
    ):
        routes.include_router(router)
    return tuple(routes.routes)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _settle_heap()
        publishing = settings.jobs_mode == "inline"
        polling = settings.feed_poller_mode == "inline"
        working = (
            _start_jobs(app, publishing=publishing, polling=polling)
            if publishing or polling
            else None
        )
        yield
        if working is not None:
            await _stop(working)
        app.state.images.close()
        await app.state.limiter.close()
        await app.state.engine.dispose()

    app = FastAPI(
        title="Portal",
        version=__version__,
        summary="One short number for all of a person's accounts.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = make_engine(settings.database_url)
    app.state.sessionmaker = make_sessionmaker(app.state.engine)
    app.state.links = link_services(settings)
    app.state.phones = phone_services(settings)
    app.state.limiter = RateLimiter(
        settings.rate_limit_storage, enabled=settings.rate_limits_enabled
    )
    app.state.cards = CardCache(max_cards=settings.card_cache_size)
    app.state.server_rules = RulesCache()
    app.state.images = ImageWorkers(workers=settings.avatar_workers, queue=settings.avatar_queue)

    _install_error_handlers(app)
    _document_problems(app)
    app.add_middleware(
        BodyLimitMiddleware,
        default=settings.max_body_bytes,
        uploads={
            **dict.fromkeys(UPLOAD_PATHS, settings.avatar_max_bytes + 64 * 1024),
            **dict.fromkeys(MEDIA_PATHS, settings.media_max_bytes + 64 * 1024),
        },
        render=lambda request, exc: _portal_error(request, exc),
    )
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.base_url.startswith("https://"))

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.router.routes.extend(_routes())
    return app
