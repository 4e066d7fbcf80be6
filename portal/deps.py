"""Dependencies shared by the web pages and the JSON API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request, UploadFile
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import UploadFile as StarletteUpload

from connectors._addresses import AddressPolicy
from connectors.atproto import Resolver
from connectors.base import Context, Kept
from connectors.xmpp import Server as XMPPServer
from portal.config import Settings
from portal.crypto import Vault
from portal.db import session_scope
from portal.domain import account, contacts, jobs, lookup, profile
from portal.domain.card_cache import CardCache
from portal.domain.feeds.poller import PARSED_PER_PROCESS, PARSERS, Poller, Polling
from portal.domain.images import ImageWorkers
from portal.domain.linking import LinkServices
from portal.domain.messages.answers import Answering
from portal.domain.messages.deliver import Sending
from portal.domain.notifications import Mailer
from portal.domain.phones import PhoneServices
from portal.domain.posts import compose, public_pictures
from portal.domain.posts.backfeed import Backfeeding
from portal.domain.posts.deliver import Delivering, Listener
from portal.domain.posts.edit import Editing
from portal.domain.posts.server_rules import RulesCache, ServerRules
from portal.domain.posts.telegram_answers import BotUpdates
from portal.domain.text import email_key
from portal.ratelimit import RateLimiter
from portal.sms import make_sender
from portal.storage.models import User
from portal.storage.posts import PostMedia
from portal.workers import Workers

SESSION_COOKIE = "portal_session"

Sessions = async_sessionmaker[AsyncSession]


# -- what the domain needs, made from the settings (the domain never reads them) -------------


def mailer(settings: Settings) -> Mailer:
    """Where notification and sign-in emails go out from."""
    return Mailer(settings.smtp_url, settings.mail_from, settings.base_url.rstrip("/"))


def feed_poller(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    services: LinkServices | None = None,
) -> Poller:
    """The poller of the feeds, writing into ``sessions``' database, with the application's
    ``services`` where it has them already; it reaches this machine only when connectors
    may. Its parsing processes are stopped by :meth:`Poller.close`."""
    services = services or link_services(settings)
    return Poller(
        sessions,
        allow_loopback=settings.connectors_allow_loopback,
        mailer=Mailer.of(services),
        vault=services.vault,
        context=services.context,
        parsers=Workers(workers=PARSERS, tasks_per_worker=PARSED_PER_PROCESS),
    )


def job_worker(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    services: LinkServices | None = None,
    *,
    concurrency: int | None = None,
    listener: Listener | None = None,
    publishing: bool = True,
    polling: Poller | None = None,
) -> jobs.Worker:
    """The worker of the background jobs on ``sessions``' database: delivering posts and
    messages, changing posts and reading back their answers (``publishing``), and polling
    the feeds with ``polling``."""
    services = services or link_services(settings)
    handlers: dict[str, jobs.Handler] = {}
    if publishing:
        for kind in (Delivering, Backfeeding, BotUpdates, Editing, Sending, Answering):
            handlers |= kind(sessions, services, listener=listener).handlers()
    if polling is not None:
        handlers |= Polling(polling).handlers()
    return jobs.Worker(
        sessions,
        handlers,
        concurrency=concurrency or settings.jobs_concurrency,
        lease=timedelta(seconds=settings.jobs_lease_seconds),
    )


def phone_services(settings: Settings) -> PhoneServices:
    """The text-message sender and the key of the code digests."""
    sender = make_sender(
        settings.sms_sender,
        url=settings.sms_gateway_url,
        token=settings.sms_gateway_token,
        timeout=settings.sms_gateway_timeout,
    )
    return PhoneServices(sender=sender, secret=settings.secret_key)


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def calls_out(request: Request) -> None:
    """A router's or route's dependency, listed before any other: its requests call other
    servers (a network linked, a text message sent) while their transaction is open, so that
    transaction does not begin as one that writes (:data:`portal.db.WRITING`), which would hold
    back every other writer of an SQLite database for as long as the other server takes."""
    request.state.calls_out = True


@asynccontextmanager
async def unit_of_work(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's session (what :data:`DB` gives), for a route that opens it itself."""
    writing = request.method not in SAFE_METHODS and not getattr(request.state, "calls_out", False)
    async with session_scope(request.app.state.sessionmaker, writing=writing) as session:
        yield session
        # A route that answered with an error (a form shown again) keeps nothing it wrote.
        if getattr(request.state, "rollback", False):
            await session.rollback()


async def _db(request: Request) -> AsyncIterator[AsyncSession]:
    async with unit_of_work(request) as session:
        yield session


# Committed when the route returns, before the response is sent.
DB = Annotated[AsyncSession, Depends(_db, scope="function")]


# Dependencies are coroutines, even those that await nothing: FastAPI runs a plain function in
# a thread of its pool, a hop there and back on every request.
async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


async def get_cards(request: Request) -> CardCache:
    cards: CardCache = request.app.state.cards
    return cards


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def count_mailed_link(
    request: Request, limiter: RateLimiter, to: str, *, sender: User | None = None
) -> None:
    """Count a link about to be mailed to ``to``: tightly per recipient and client address, so
    that a stranger cannot spend the owner's budget from elsewhere, loosely per recipient
    whatever the address, and per sender (their account, or for someone not signed in their
    address) when one is named."""
    client = client_address(request)
    if sender is not None:
        await limiter.hit("email_link_from", str(sender.id))
    key = email_key(to)
    await limiter.hit("email_link_pair", key, client)
    await limiter.hit("email_link", key)


async def person_named(
    request: Request,
    db: AsyncSession,
    limiter: RateLimiter,
    user: User,
    number: str,
    among: contacts.Among,
) -> User:
    """The person a number names, among those the action is about (counted as a lookup)."""
    return await lookup.person_in(
        db, limiter, user, number, among=among, client=client_address(request)
    )


async def save_avatar(
    db: AsyncSession,
    user: User,
    upload: UploadFile | None,
    settings: Settings,
    workers: ImageWorkers,
) -> None:
    """Make an uploaded picture the user's, read up to one byte past the allowed size.

    What the request wrote so far (when its token was last used) is committed first: no
    transaction stays open while the picture waits for a turn and decodes (see
    :func:`portal.domain.profile.avatar_picture`).
    """
    data = await upload.read(settings.avatar_max_bytes + 1) if upload else b""
    await db.commit()
    picture = await profile.avatar_picture(
        data, max_bytes=settings.avatar_max_bytes, size=settings.avatar_size, workers=workers
    )
    await profile.set_avatar(db, user, picture)


async def save_post_media(
    db: AsyncSession,
    user: User,
    upload: StarletteUpload | None,
    settings: Settings,
    workers: ImageWorkers,
) -> PostMedia:
    """Keep an uploaded picture for a post, read up to one byte past the allowed size; as
    with :func:`save_avatar`, nothing stays open while it decodes."""
    data = await upload.read(settings.media_max_bytes + 1) if upload else b""
    await db.commit()
    picture = await compose.prepare_picture(data, workers, max_bytes=settings.media_max_bytes)
    return await compose.keep_picture(db, user, picture)


async def session_user(request: Request, db: AsyncSession) -> User | None:
    """The user signed in by the session cookie, also kept on ``request.state`` for templates."""
    secret = request.cookies.get(SESSION_COOKIE)
    user = await account.user_for_session(db, secret) if secret and len(secret) < 100 else None
    request.state.user = user
    return user


def link_services(settings: Settings) -> LinkServices:
    """What linking needs from the settings, and the connector context of this app: built
    once per app, so two apps in one process each keep their own rules."""
    route = None
    if settings.xmpp_server:
        host, _, port = settings.xmpp_server.rpartition(":")
        route = XMPPServer(host.strip("[]"), int(port), ca_file=settings.xmpp_ca_file or None)
    base_url = settings.base_url.rstrip("/")
    context = Context(
        addresses=AddressPolicy(allow_loopback=settings.connectors_allow_loopback),
        resolver=Resolver(
            plc_url=settings.atproto_plc_url, service_url=settings.atproto_resolver_url or None
        ),
        xmpp_server=route,
        telegram_bot_token=settings.telegram_bot_token,
        kept=Kept(),
        # Networks fetch a post's pictures from the portal only where it has a public address.
        media_url=(
            public_pictures.addresser(base_url, settings.secret_key)
            if base_url.startswith("https://")
            else None
        ),
    )
    return LinkServices(
        vault=Vault(settings.secret_keys),
        base_url=base_url,
        providers={provider.name: provider for provider in settings.oidc_providers},
        apps=settings.apps,
        telegram_bot_token=settings.telegram_bot_token,
        telegram_bot_username=settings.telegram_bot_username,
        smtp_url=settings.smtp_url,
        mail_from=settings.mail_from,
        picture_secret=settings.secret_key,
        context=context,
    )


def get_services(request: Request) -> LinkServices:
    services: LinkServices = request.app.state.links
    return services


async def get_server_rules(request: Request) -> ServerRules:
    """The limits of the linked accounts' servers, asked once and kept (one per app)."""
    cache: RulesCache = request.app.state.server_rules
    return ServerRules(cache, get_services(request))


def get_sessionmaker(request: Request) -> Sessions:
    """Sessions of its own, for a response that outlives the request's (a live stream)."""
    sessions: Sessions = request.app.state.sessionmaker
    return sessions


def get_image_workers(request: Request) -> ImageWorkers:
    workers: ImageWorkers = request.app.state.images
    return workers


def get_phone_services(request: Request) -> PhoneServices:
    services: PhoneServices = request.app.state.phones
    return services


SettingsDep = Annotated[Settings, Depends(get_settings)]
LimiterDep = Annotated[RateLimiter, Depends(get_limiter)]
CardsDep = Annotated[CardCache, Depends(get_cards)]
Services = Annotated[LinkServices, Depends(get_services)]
ServerRulesDep = Annotated[ServerRules, Depends(get_server_rules)]
Phones = Annotated[PhoneServices, Depends(get_phone_services)]
SessionsDep = Annotated[Sessions, Depends(get_sessionmaker)]
ImagesDep = Annotated[ImageWorkers, Depends(get_image_workers)]
