"""Cross-posting, as pages: write once with a live preview per network, publish now, schedule
or keep a draft; follow each network's delivery live; retry, cancel, delete.

The routes call the functions the JSON API calls (:mod:`portal.domain.posts.compose`). The
compose form works without JavaScript: pictures chosen in it are uploaded with it, and the
form comes back with them, asking for what is missing (their descriptions, say). With
JavaScript, pictures upload as soon as they are chosen and the previews follow the text as it
is typed (htmx). A post's id is random; routes that take one count as lookups, and another's
post answers as one that does not exist.
"""

from __future__ import annotations

import hashlib
import zoneinfo
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response

from portal import csrf, responses
from portal.db import session_scope
from portal.deps import (
    DB,
    ImagesDep,
    LimiterDep,
    ServerRulesDep,
    SessionsDep,
    calls_out,
    client_address,
    save_post_media,
)
from portal.domain import lookup
from portal.domain.linking.services import connector
from portal.domain.posts import backfeed, compose, edit
from portal.domain.posts.server_rules import ServerRules
from portal.errors import InvalidInput, NotFound, PortalError
from portal.storage.models import LinkedAccount, User, utcnow
from portal.web import sse
from portal.web.deps import CurrentUser, OptionalUser
from portal.web.forms import form_error, redirect
from portal.web.templating import render
from portal.web.toast import toast

router = APIRouter(dependencies=[Depends(csrf.verify)], include_in_schema=False)

PAGE = "/posts"
LIVE_POLL = 1.0
"""How often a post's page stream looks at its deliveries."""


# -- the form ------------------------------------------------------------------------------------


def _publisher(account: LinkedAccount) -> dict[str, Any]:
    cls = connector(account.network)
    return {
        "account": account,
        "label": compose.label(account),
        "network": account.network,
        "place": cls.PUBLISHES_TO,
    }


async def _compose_context(
    db: DB, user: User, values: dict[str, Any] | None = None
) -> dict[str, Any]:
    accounts = await compose.publishers(db, user)
    values = values or {}
    media = values.get("media") or []
    return {
        "publishers": [_publisher(a) for a in accounts],
        "values": values,
        "media": media,
        "chosen": set(values.get("targets", [])),
        "max_text": compose.MAX_TEXT,
        "max_media": compose.MAX_MEDIA,
    }


def _zone(name: str) -> zoneinfo.ZoneInfo | None:
    try:
        return zoneinfo.ZoneInfo(name) if name and len(name) < 60 else None
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        return None


def _publish_at(form: FormData) -> datetime | None:
    """The time asked for, in the browser's time zone (UTC without JavaScript)."""
    if form.get("when") != "later":
        return None
    raw = str(form.get("publish_at") or "").strip()
    if not raw:
        raise InvalidInput("Choose when to publish.", field="publish_at")
    try:
        naive = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput("This is not a date and time.", field="publish_at") from None
    zone = _zone(str(form.get("tz") or "")) or zoneinfo.ZoneInfo("UTC")
    return naive.replace(tzinfo=zone) if naive.tzinfo is None else naive


def _ids(form: FormData, name: str) -> list[int]:
    found = []
    for raw in form.getlist(name):
        text = str(raw)
        if text.isdigit() and len(text) < 10:
            found.append(int(text))
    return found


def _targets(form: FormData) -> list[compose.Target]:
    targets = []
    for account_id in _ids(form, "target")[: compose.MAX_TARGETS]:
        fit = str(form.get(f"fit-{account_id}") or "thread")
        own = str(form.get(f"text-{account_id}") or "")
        targets.append(
            compose.Target(
                account_id,
                str(form.get(f"destination-{account_id}") or "")[:300],
                "shorten" if fit == "shorten" else "thread",
                own[: compose.MAX_TEXT] if own.strip() else None,
            )
        )
    return targets


def _attached(form: FormData) -> list[compose.Attached]:
    pictures = []
    for raw in form.getlist("media")[: compose.MAX_MEDIA + 1]:
        media_id = str(raw)[:24]
        pictures.append(
            compose.Attached(
                media_id,
                str(form.get(f"alt-{media_id}") or "")[: compose.MAX_ALT + 1],
                form.get(f"noalt-{media_id}") == "on",
            )
        )
    return pictures


def _values(form: FormData) -> dict[str, Any]:
    """What was typed, to show the form again as it was."""
    targets = _targets(form)
    return {
        "text": str(form.get("text") or "")[: compose.MAX_TEXT + 1],
        "content_warning": str(form.get("content_warning") or "")[: compose.MAX_WARNING + 1],
        "targets": [t.account_id for t in targets],
        "by_target": {t.account_id: t for t in targets},
        "when": str(form.get("when") or "now"),
        "publish_at": str(form.get("publish_at") or "")[:40],
        "tz": str(form.get("tz") or "")[:60],
        "alts": {p.media_id: p for p in _attached(form)},
    }


async def _uploads(
    form: FormData, db: DB, user: User, request: Request, images: ImagesDep, limiter: LimiterDep
) -> list[str]:
    """Pictures chosen in the form itself (without JavaScript): kept, and their ids."""
    kept = []
    for item in form.getlist("pictures"):
        if isinstance(item, UploadFile) and item.filename:
            await limiter.hit("post_media", str(user.id))
            media = await save_post_media(db, user, item, request.app.state.settings, images)
            kept.append(media.id)
    return kept


# -- pages ---------------------------------------------------------------------------------------


@router.get("/posts")
async def posts_page(request: Request, db: DB, user: CurrentUser) -> Response:
    """My posts: scheduled ones by date, drafts, and those sent, with their deliveries."""
    posts = list((await compose.list_posts(db, user, limit=100)).items)
    scheduled = sorted(
        (p for p in posts if p.post.state == "scheduled"),
        key=lambda p: p.post.publish_at or p.post.created_at,
    )
    return render(
        request,
        "posts",
        {
            "scheduled": scheduled,
            "drafts": [p for p in posts if p.post.state == "draft"],
            "sent": [p for p in posts if p.post.state == "published"],
            "labels": _labels(posts),
        },
    )


def _labels(posts: list[compose.Loaded]) -> dict[int, str]:
    labels = {}
    for loaded in posts:
        for delivery in loaded.deliveries:
            labels[delivery.id] = compose.delivery_label(delivery)
    return labels


@router.get("/posts/new")
async def new_post(request: Request, db: DB, user: CurrentUser) -> Response:
    """Write a post for several networks at once."""
    return render(request, "post_new", await _compose_context(db, user))


@router.post("/posts/preview", dependencies=[Depends(calls_out)])
async def preview(
    request: Request, db: DB, user: CurrentUser, server_rules: ServerRulesDep
) -> Response:
    """Each chosen network's version of the text being written (htmx, as it is typed), by the
    limits of each account's server where it sets its own (a Mastodon instance's)."""
    form = await request.form()
    values = _values(form)
    media = len(form.getlist("media"))
    shown = await compose.previews(
        db,
        user,
        values["text"],
        _targets(form),
        media=media,
        content_warning=values["content_warning"],
        base_url=request.app.state.settings.base_url.rstrip("/"),
        server_rules=server_rules,
    )
    return render(request, "post_new", {"previews": shown}, fragment="post_previews")


@router.post("/posts/media")
async def upload_media(
    request: Request, db: DB, user: CurrentUser, images: ImagesDep, limiter: LimiterDep
) -> Response:
    """Upload pictures as soon as they are chosen (htmx): each comes back ready to describe."""
    async with request.form() as form:
        try:
            ids = await _uploads(form, db, user, request, images, limiter)
            if not ids:
                raise InvalidInput("Choose a picture to upload.", field="pictures")
        except PortalError as exc:
            return form_error(
                request,
                "post_new",
                exc,
                {"media": [], "values": {}, "uploading": True},
                fragment="post_media",
            )
    media = await compose.media_of(db, user, ids)
    return render(request, "post_new", {"media": media, "values": {}}, fragment="post_media")


@router.post("/posts")
async def create_post(
    request: Request,
    db: DB,
    user: CurrentUser,
    images: ImagesDep,
    limiter: LimiterDep,
    server_rules: ServerRulesDep,
) -> Response:
    """Publish now, schedule, or keep as a draft."""
    async with request.form() as form:
        return await _create(request, form, db, user, images, limiter, server_rules)


async def _create(
    request: Request,
    form: FormData,
    db: DB,
    user: User,
    images: ImagesDep,
    limiter: LimiterDep,
    server_rules: ServerRules,
) -> Response:
    values = _values(form)
    media_ids = [str(m)[:24] for m in form.getlist("media")][: compose.MAX_MEDIA + 1]
    try:
        media_ids += await _uploads(form, db, user, request, images, limiter)
        values["media"] = await compose.media_of(db, user, media_ids)
        pictures = _attached(form) + [
            compose.Attached(i) for i in media_ids if i not in values["alts"]
        ]
        await limiter.hit("post", str(user.id))
        saved = await compose.save(
            db,
            user,
            compose.Composed(
                text=values["text"],
                targets=_targets(form),
                pictures=pictures,
                content_warning=values["content_warning"],
                publish_at=_publish_at(form),
                draft=form.get("when") == "draft",
            ),
            base_url=request.app.state.settings.base_url.rstrip("/"),
            post_id=str(form.get("post_id") or "")[:24] or None,
            server_rules=server_rules,
        )
    except PortalError as exc:
        context = await _compose_context(db, user, values)
        if exc.field == "media" and values.get("media"):
            exc.field = "pictures"
        return form_error(request, "post_new", exc, context, keep_writes=True)
    _wake(request)
    if saved.post.state == "draft":
        toast(request, "Your draft is kept.")
    elif saved.post.state == "scheduled":
        toast(request, "Your post is scheduled.")
    else:
        toast(request, "Your post is on its way.")
    return redirect(request, f"/posts/{saved.post.id}")


def _wake(request: Request) -> None:
    """The worker of this process (the embedded default) looks at once."""
    worker = getattr(request.app.state, "worker", None)
    if worker is not None:
        worker.wake()


async def _load(
    request: Request, db: DB, user: User, limiter: LimiterDep, post_id: str
) -> compose.Loaded:
    return await lookup.counted(
        limiter, user, client_address(request), compose.load(db, user, post_id[:25])
    )


@router.get("/posts/{post_id}")
async def post_page(
    request: Request, db: DB, user: CurrentUser, limiter: LimiterDep, post_id: str
) -> Response:
    """One post: its text and pictures, and where it stands on each network, live."""
    loaded = await _load(request, db, user, limiter, post_id)
    context = await _post_context(db, user, loaded)
    return render(request, "post", context, fragment="deliveries")


def _version(states: list[tuple[int, str, str, str | None]], answers: tuple[int, int]) -> str:
    """What a page shows of the deliveries and the answers, in short: the stream compares it."""
    return hashlib.sha256(repr((states, answers)).encode()).hexdigest()[:16]


async def _post_context(
    db: DB, user: User, loaded: compose.Loaded, *, reading: bool = False
) -> dict[str, Any]:
    """The page of a post. It follows the live stream while deliveries are under way, while
    answers are read often (its first hour out), and after its owner asked for them
    (``reading``)."""
    states = [(d.id, d.status, d.error, d.remote_url) for d in loaded.deliveries]
    answers = await backfeed.answers_of(db, user, loaded.post.id)
    sent = [
        d
        for d in loaded.deliveries
        if d.status == compose.SENT and backfeed.answers_come_home(d.network)
    ]
    readable = loaded.post.state != "deleted" and bool(sent)
    recent = utcnow() - backfeed.SCHEDULE[0][0]
    moving = compose.UNDER_WAY | {compose.DELETING, compose.EDITING}
    under_way = any(d.status in moving for d in loaded.deliveries)
    under_way = under_way or (
        readable and (reading or any(d.sent_at and d.sent_at > recent for d in sent))
    )
    return {
        # Not "version": that name is the portal's own, in the footer and in every static
        # address the page loads.
        "shown": _version(states, answers.marker),
        "loaded": loaded,
        "post": loaded.post,
        "deliveries": loaded.deliveries,
        "answers": answers,
        "readable": readable,
        "labels": {d.id: compose.delivery_label(d) for d in loaded.deliveries},
        "live": under_way,
        "editable": loaded.post.state in ("draft", "scheduled")
        and all(d.status in (compose.DRAFT, compose.SCHEDULED) for d in loaded.deliveries),
    }


@router.get("/posts/{post_id}/edit")
async def edit_post(
    request: Request, db: DB, user: CurrentUser, limiter: LimiterDep, post_id: str
) -> Response:
    """A draft or a scheduled post, in the form again."""
    loaded = await _load(request, db, user, limiter, post_id)
    post = loaded.post
    values: dict[str, Any] = {
        "post_id": post.id,
        "text": post.text,
        "content_warning": post.content_warning,
        "targets": [d.account_id for d in loaded.deliveries],
        "by_target": {
            d.account_id: compose.Target(d.account_id or 0, d.destination, d.fit, d.text)  # type: ignore[arg-type]
            for d in loaded.deliveries
        },
        "when": "draft" if post.state == "draft" else "later",
        "publish_at": post.publish_at.strftime("%Y-%m-%dT%H:%M") if post.publish_at else "",
        "tz": "UTC",
        "media": loaded.media,
        "alts": {
            m.id: compose.Attached(m.id, m.description, m.no_description) for m in loaded.media
        },
    }
    return render(request, "post_new", await _compose_context(db, user, values))


@router.get("/posts/{post_id}/stream")
async def post_stream(
    request: Request,
    db: DB,
    user: CurrentUser,
    limiter: LimiterDep,
    sessions: SessionsDep,
    post_id: str,
) -> Response:
    """The post's deliveries as they change (server-sent events: ``deliveries``)."""
    loaded = await _load(request, db, user, limiter, post_id)
    seen = request.query_params.get("seen", "")[:16]
    return sse.response(_changes(request, sessions, user.id, loaded.post.id, seen))


async def _changes(
    request: Request, sessions: SessionsDep, user_id: int, post_id: str, seen: str
) -> AsyncIterator[str]:
    """An event each time the deliveries differ from what the page shows (``seen``: what
    it was rendered with, so a change made before the stream opened is not missed)."""
    async for line in sse.rhythm(request, poll=LIVE_POLL, retry_ms=3000):
        if line:
            yield line
            continue
        async with session_scope(sessions) as session:
            states = await compose.delivery_states(session, user_id, post_id)
            version = _version(states, await backfeed.marker(session, post_id))
        if version != seen:
            yield sse.event("deliveries", {"version": version})
            seen = version


@router.post("/posts/{post_id}/deliveries/{delivery_id}/{action}")
async def delivery_action(
    request: Request,
    db: DB,
    user: CurrentUser,
    limiter: LimiterDep,
    post_id: str,
    delivery_id: str,
    action: str,
) -> Response:
    """Retry a failed delivery, or cancel one that has not gone out."""
    if action not in ("retry", "cancel") or not delivery_id.isdigit() or len(delivery_id) > 9:
        raise NotFound("This post does not go there.")
    change = compose.retry if action == "retry" else compose.cancel
    try:
        await lookup.counted(
            limiter,
            user,
            client_address(request),
            change(db, user, post_id[:25], int(delivery_id)),
        )
    except InvalidInput as exc:
        loaded = await _load(request, db, user, limiter, post_id)
        context = await _post_context(db, user, loaded)
        return form_error(request, "post", exc, context, fragment="deliveries")
    _wake(request)
    loaded = await compose.load(db, user, post_id[:25])
    if request.headers.get("hx-request") == "true":
        return render(request, "post", await _post_context(db, user, loaded), fragment="deliveries")
    if action == "retry":
        toast(request, "Trying again.")
    else:
        toast(request, "Cancelled.")
    return redirect(request, f"/posts/{loaded.post.id}")


@router.post("/posts/{post_id}/text")
async def change_text(
    request: Request, db: DB, user: CurrentUser, limiter: LimiterDep, post_id: str
) -> Response:
    """A new text for a post that went out: changed where each network allows."""
    form = await request.form()
    text, warning = form.get("text", ""), form.get("content_warning", "")
    try:
        loaded = await lookup.counted(
            limiter,
            user,
            client_address(request),
            edit.change_text(
                db,
                user,
                post_id[:25],
                text if isinstance(text, str) else "",
                warning if isinstance(warning, str) else "",
            ),
        )
    except InvalidInput as exc:
        loaded = await _load(request, db, user, limiter, post_id)
        context = await _post_context(db, user, loaded)
        return form_error(request, "post", exc, context)
    _wake(request)
    toast(request, "The new text is going out, where each network lets Portal change a post.")
    return redirect(request, f"/posts/{loaded.post.id}")


@router.post("/posts/{post_id}/answers")
async def read_answers(
    request: Request, db: DB, user: CurrentUser, limiter: LimiterDep, post_id: str
) -> Response:
    """Look for the post's answers on every network now, not at the next planned read."""
    await lookup.counted(
        limiter, user, client_address(request), backfeed.read_now(db, user, post_id[:25])
    )
    _wake(request)
    if request.headers.get("hx-request") == "true":
        loaded = await compose.load(db, user, post_id[:25])
        context = await _post_context(db, user, loaded, reading=True)
        return render(request, "post", context, fragment="deliveries")
    toast(request, "Portal is looking for answers; they appear here as they come.")
    return redirect(request, f"/posts/{post_id[:25]}")


@router.post("/posts/{post_id}/delete")
async def delete_post(
    request: Request, db: DB, user: CurrentUser, limiter: LimiterDep, post_id: str
) -> Response:
    """Delete a post here and, where the network allows, there."""
    await lookup.counted(
        limiter, user, client_address(request), compose.delete(db, user, post_id[:25])
    )
    _wake(request)
    toast(request, "The post is being deleted everywhere it can be.")
    return redirect(request, PAGE)


# -- pictures ------------------------------------------------------------------------------------


@router.get("/posts/media/{media_id}")
async def media_file(
    request: Request, db: DB, user: CurrentUser, limiter: LimiterDep, media_id: str
) -> Response:
    """One of my pictures for posts."""
    media = await lookup.counted(
        limiter, user, client_address(request), compose.own_media(db, user, media_id[:25])
    )
    return responses.picture(media.data, media.mime_type, max_age=86400)


# -- the whole text, for anyone ------------------------------------------------------------------


@router.get("/p/{post_id}")
async def public_post(
    request: Request, db: DB, viewer: OptionalUser, limiter: LimiterDep, post_id: str
) -> Response:
    """A published post's whole text: where a version shortened to fit links to."""
    shown = await lookup.counted(
        limiter, viewer, client_address(request), compose.published(db, post_id[:25])
    )
    return render(request, "post_public", {"shown": shown})


@router.get("/p/{post_id}/{position}")
async def public_picture(
    request: Request, db: DB, viewer: OptionalUser, limiter: LimiterDep, post_id: str, position: str
) -> Response:
    """A picture of a published post."""
    shown = await lookup.counted(
        limiter, viewer, client_address(request), compose.published(db, post_id[:25])
    )
    index = int(position) if position.isdigit() and len(position) < 3 else -1
    if not 0 <= index < len(shown.media):
        raise NotFound(compose.NO_POST)
    media = shown.media[index]
    return responses.picture(media.data, media.mime_type, max_age=86400)
