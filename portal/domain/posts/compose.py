"""Writing a post once for several networks: its targets, pictures and time, checked whole.

A post is written with one :class:`Delivery` per target and, unless it is a draft, one
``deliver`` job per delivery, all in the caller's transaction: the post exists with its work
to do, or not at all. The job is due at once, or at the time the post is scheduled for; until
the delivery starts, the post can still be edited, rescheduled or cancelled.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors import base
from connectors.atproto import tid
from portal.db import write_next
from portal.domain import jobs, linking
from portal.domain.images import ImageWorkers, Picture
from portal.domain.linking.services import connector
from portal.domain.posts.adapt import Fit, Version, adapt, rules_for
from portal.domain.posts.server_rules import ServerRules
from portal.errors import N_, InvalidInput, NotFound, PayloadTooLarge
from portal.storage.models import LinkedAccount, User, utcnow
from portal.storage.posts import Delivery, Post, PostMedia

MAX_TEXT = 10_000
"""The longest text Portal keeps for a post: a long thread, not a book."""
MAX_WARNING = 500
MAX_TARGETS = 20
MAX_MEDIA = 4
MAX_ALT = 1_500
"""Mastodon's limit for a picture's description, the longest of the networks'."""
MAX_AHEAD = timedelta(days=366)
DELIVER = "deliver"
TAKE_DOWN = "take_down"

# Delivery statuses. ``draft`` and ``scheduled`` wait; ``queued``, ``sending`` and
# ``retrying`` are on their way; ``sent``, ``failed``, ``cancelled`` and ``deleted`` are ends
# (``failed`` and ``cancelled`` may be retried); ``deleting`` is a sent one going away, and
# ``editing`` one being changed.
DRAFT, SCHEDULED, QUEUED, SENDING, RETRYING = "draft", "scheduled", "queued", "sending", "retrying"
SENT, FAILED, CANCELLED, DELETING, DELETED = "sent", "failed", "cancelled", "deleting", "deleted"
EDITING = "editing"
"""A sent delivery whose new text is on its way (``portal.domain.posts.edit``)."""
WAITING = frozenset({DRAFT, SCHEDULED, QUEUED, RETRYING})
"""Statuses of a delivery that has not started: its post may still change."""
UNDER_WAY = frozenset({QUEUED, SENDING, RETRYING})

NO_POST = N_("This post does not exist.")
NO_TARGET = N_("Choose at least one account to publish to.")
UNKNOWN_TARGET = N_("One of the chosen accounts is not one of yours.")
NO_MEDIA = N_("One of the pictures does not exist; upload it again.")


@dataclass(frozen=True, slots=True)
class Target:
    """Where to publish: a linked account, and the room or channel for networks that post
    into one; how to fit a text that is too long; the author's own version, if any."""

    account_id: int
    destination: str = ""
    fit: Fit = "thread"
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Attached:
    """A picture uploaded before, in the post: its alt text, or the choice to go without."""

    media_id: str
    description: str = ""
    no_description: bool = False


@dataclass(frozen=True, slots=True)
class Composed:
    text: str
    targets: Sequence[Target]
    pictures: Sequence[Attached] = ()
    content_warning: str = ""
    publish_at: datetime | None = None
    """When to publish; ``None``: now."""
    draft: bool = False


@dataclass(frozen=True, slots=True)
class Preview:
    """A target's version of the post, as it will go out, for the live preview."""

    account: LinkedAccount
    label: str
    destination: str
    fit: Fit
    version: Version
    own_text: bool = False


@dataclass(frozen=True)
class Loaded:
    """A post with its deliveries and pictures, loaded at once."""

    post: Post
    deliveries: list[Delivery]
    media: list[PostMedia] = field(default_factory=list)

    @property
    def day(self) -> str:
        """The day it is scheduled for (or was written), in UTC: what a calendar groups by."""
        return (self.post.publish_at or self.post.created_at).date().isoformat()


def new_id() -> str:
    return secrets.token_urlsafe(12)


def new_key() -> str:
    """A delivery's idempotency key: a TID of the time it was made (so that a network whose
    posts take their id from the key, Bluesky, files them at that time), then a random part.
    Part ``n`` of a thread goes out with ``<key>.<n>``."""
    micros = int(utcnow().timestamp() * 1_000_000)
    return f"{tid(micros, secrets.randbelow(1024))}-{secrets.token_urlsafe(12)}"


# -- pictures ------------------------------------------------------------------------------------


async def prepare_picture(data: bytes, images: ImageWorkers, *, max_bytes: int) -> Picture:
    """A picture for a post, checked and re-encoded in a worker process, off the event loop
    (:func:`portal.domain.images.post_picture`). No transaction may be open meanwhile."""
    if not data:
        raise InvalidInput(N_("Choose a picture to upload."), field="media")
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            N_("This picture is over %(max)d MB; use a smaller one."),
            field="media",
            max=max_bytes // (1024 * 1024),
        )
    return await images.post_picture(data)


async def keep_picture(session: AsyncSession, user: User, picture: Picture) -> PostMedia:
    """Keep a prepared picture until a post takes it (:func:`save`)."""
    media = PostMedia(
        id=new_id(),
        user_id=user.id,
        mime_type=picture.mime_type,
        width=picture.width,
        height=picture.height,
        size=len(picture.data),
        data=picture.data,
    )
    session.add(media)
    await session.flush()
    return media


async def _attach(
    session: AsyncSession, user: User, post: Post, pictures: Sequence[Attached]
) -> list[PostMedia]:
    if len(pictures) > MAX_MEDIA:
        raise InvalidInput(N_("A post holds at most 4 pictures."), field="media")
    ids = [picture.media_id for picture in pictures]
    if len(set(ids)) != len(ids):
        raise InvalidInput(N_("The same picture is in the post twice."), field="media")
    found = {
        media.id: media
        for media in await session.scalars(
            select(PostMedia).where(PostMedia.id.in_(ids), PostMedia.user_id == user.id)
        )
    }
    attached = []
    for position, picture in enumerate(pictures):
        media = found.get(picture.media_id)
        if media is None or media.post_id not in (None, post.id) or media.message_id is not None:
            raise InvalidInput(NO_MEDIA, field="media")
        description = picture.description.strip()
        if len(description) > MAX_ALT:
            raise InvalidInput(
                N_("A picture's description is at most %(max)d characters."),
                field="media",
                max=MAX_ALT,
            )
        if not description and not picture.no_description:
            raise InvalidInput(
                N_(
                    "Describe each picture for people who cannot see it, or say that you "
                    "publish it without a description."
                ),
                field="media",
            )
        media.post_id, media.position = post.id, position
        media.description, media.no_description = description, not description
        attached.append(media)
    for media in await session.scalars(select(PostMedia).where(PostMedia.post_id == post.id)):
        if media.id not in found:
            await session.delete(media)
    return attached


# -- targets -------------------------------------------------------------------------------------


async def publishers(session: AsyncSession, user: User) -> list[LinkedAccount]:
    """The person's linked accounts that can publish, working ones first in their order."""
    return [
        account for account in await linking.list_accounts(session, user) if _can_publish(account)
    ]


def _can_publish(account: LinkedAccount) -> bool:
    try:
        cls = connector(account.network)
    except NotFound:
        return False
    return cls.CAN_PUBLISH and account.status == linking.VERIFIED


async def _targets(
    session: AsyncSession, user: User, targets: Sequence[Target]
) -> list[tuple[LinkedAccount, Target]]:
    if not targets:
        raise InvalidInput(NO_TARGET, field="targets")
    if len(targets) > MAX_TARGETS:
        raise InvalidInput(
            N_("A post goes to at most %(max)d places at once."), field="targets", max=MAX_TARGETS
        )
    accounts = {account.id: account for account in await publishers(session, user)}
    chosen, seen = [], set()
    for target in targets:
        account = accounts.get(target.account_id)
        if account is None:
            raise InvalidInput(UNKNOWN_TARGET, field="targets")
        cls = connector(account.network)
        destination = target.destination.strip()
        if cls.PUBLISHES_TO and not destination:
            raise InvalidInput(
                N_("Say where on %(network)s to publish: a room, channel or page."),
                field="targets",
                network=cls.LABEL,
            )
        if not cls.PUBLISHES_TO:
            destination = ""
        if len(destination) > 300:
            raise InvalidInput(N_("This place to publish to is too long."), field="targets")
        if (account.id, destination) in seen:
            continue
        seen.add((account.id, destination))
        if target.text is not None and len(target.text) > MAX_TEXT:
            raise InvalidInput(N_("A version of the post is too long."), field="targets")
        if target.fit not in ("thread", "shorten"):
            raise InvalidInput(N_("Choose thread or shorten."), field="targets")
        chosen.append((account, Target(account.id, destination, target.fit, target.text)))
    return chosen


def version_for(
    account: LinkedAccount,
    text: str,
    *,
    fit: Fit,
    media: int,
    content_warning: str,
    full_text_url: str,
    rules: base.PostRules | None = None,
) -> Version:
    """A target's version of a text, by the network's documented rules (or ``rules``, which
    the account's server gave: a Mastodon instance's own limit)."""
    cls = connector(account.network)
    found = rules or rules_for(cls)
    if found is None:
        raise InvalidInput(N_("%(network)s cannot publish posts."), network=cls.LABEL)
    return adapt(
        text,
        found,
        cls.count_text,
        fit=fit,
        full_text_url=full_text_url,
        media=media,
        content_warning=content_warning,
    )


def _check_time(publish_at: datetime | None, now: datetime) -> datetime | None:
    if publish_at is None:
        return None
    if publish_at.tzinfo is None:
        raise InvalidInput(N_("Give the time with its time zone."), field="publish_at")
    if publish_at <= now - timedelta(minutes=1):
        raise InvalidInput(N_("This time is in the past."), field="publish_at")
    if publish_at > now + MAX_AHEAD:
        raise InvalidInput(N_("A post can be scheduled up to a year ahead."), field="publish_at")
    return publish_at if publish_at > now else None


def check_text(composed: Composed) -> tuple[str, str]:
    text = composed.text.replace("\r\n", "\n").strip()
    warning = composed.content_warning.strip()
    if len(text) > MAX_TEXT:
        raise InvalidInput(N_("A post is at most %(max)d characters."), field="text", max=MAX_TEXT)
    if len(warning) > MAX_WARNING:
        raise InvalidInput(
            N_("A content warning is at most %(max)d characters."),
            field="content_warning",
            max=MAX_WARNING,
        )
    if "\x00" in text or "\x00" in warning:
        raise InvalidInput(N_("The text holds a character that cannot be sent."), field="text")
    if not text and not composed.pictures:
        raise InvalidInput(N_("Write something or add a picture."), field="text")
    return text, warning


# -- writing a post ------------------------------------------------------------------------------


async def save(
    session: AsyncSession,
    user: User,
    composed: Composed,
    *,
    base_url: str,
    post_id: str | None = None,
    server_rules: ServerRules | None = None,
) -> Loaded:
    """Write a new post (``post_id`` None) or change one that has not started going out.

    Every target's version is checked against its network's rules first: a target that
    cannot take the post (Instagram without a picture) refuses the whole post, saying why.
    With ``server_rules``, a target whose server sets its own limits (a Mastodon instance's)
    is checked against those, as it will be delivered. A server not asked lately is asked
    with no transaction open: the one that read is ended first, and the writes begin after.
    """
    now = utcnow()
    text, warning = check_text(composed)
    publish_at = _check_time(composed.publish_at, now)
    chosen = await _targets(session, user, composed.targets)
    known: dict[int, base.PostRules] = {}
    if server_rules is not None:
        accounts = [account for account, _ in chosen]
        if server_rules.asks(accounts):
            await write_next(session)
        known = await server_rules.of(accounts)
    # A post refused halfway (a picture not found, a target that cannot take it) leaves
    # nothing behind, even where the request keeps its other writes (the web form keeps
    # the pictures it was sent with).
    async with session.begin_nested():
        return await _write(
            session, user, composed, chosen, known, text, warning, publish_at, base_url, post_id
        )


async def _write(
    session: AsyncSession,
    user: User,
    composed: Composed,
    chosen: list[tuple[LinkedAccount, Target]],
    known: dict[int, base.PostRules],
    text: str,
    warning: str,
    publish_at: datetime | None,
    base_url: str,
    post_id: str | None,
) -> Loaded:
    if post_id is None:
        post = Post(id=new_id(), user_id=user.id)
        session.add(post)
        old: list[Delivery] = []
    else:
        loaded = await load(session, user, post_id)
        post, old = loaded.post, loaded.deliveries
        if post.state == "deleted" or any(d.status not in (DRAFT, SCHEDULED) for d in old):
            raise InvalidInput(
                N_("This post has started going out: it can no longer be changed."), field="text"
            )
    post.text, post.content_warning = text, warning
    post.publish_at = publish_at
    post.state = "draft" if composed.draft else ("scheduled" if publish_at else "published")
    await session.flush()
    media = await _attach(session, user, post, composed.pictures)
    for account, target in chosen:
        problems = version_for(
            account,
            target.text if target.text is not None else text,
            fit=target.fit,
            media=len(media),
            content_warning=warning,
            full_text_url=full_text_url(base_url, post.id),
            rules=known.get(account.id),
        ).problems
        if problems:
            first = problems[0]
            raise InvalidInput(
                N_("%(target)s: %(problem)s"),
                field="targets",
                target=label(account, target.destination),
                problem=first,
            )
    status = DRAFT if composed.draft else (SCHEDULED if publish_at else QUEUED)
    kept = {(d.account_id, d.destination): d for d in old}
    deliveries = []
    for account, target in chosen:
        delivery = kept.pop((account.id, target.destination), None)
        if delivery is None:
            delivery = Delivery(
                post_id=post.id,
                account_id=account.id,
                network=account.network,
                handle=account.handle,
                destination=target.destination,
                key=new_key(),
            )
            session.add(delivery)
        delivery.fit, delivery.text, delivery.status = target.fit, target.text, status
        deliveries.append(delivery)
    for gone in kept.values():
        await jobs.drop(session, DELIVER, str(gone.id))
        await session.delete(gone)
    await session.flush()
    for delivery in deliveries:
        if composed.draft:
            await jobs.drop(session, DELIVER, str(delivery.id))
        else:
            await jobs.enqueue(session, DELIVER, str(delivery.id), run_at=publish_at)
    return Loaded(post, deliveries, media)


def full_text_url(base_url: str, post_id: str) -> str:
    """Where anyone reads the whole post: the link of a version shortened to fit."""
    return f"{base_url}/p/{post_id}"


def label(account: LinkedAccount, destination: str = "") -> str:
    """How a target is named to its owner: ``Mastodon @ada@example.social`` (``→ #room``)."""
    cls = connector(account.network)
    name = f"{cls.LABEL} {cls.display_handle(account.handle)}"
    return f"{name} → {destination}" if destination else name


async def previews(
    session: AsyncSession,
    user: User,
    text: str,
    targets: Sequence[Target],
    *,
    media: int,
    content_warning: str,
    base_url: str,
    server_rules: ServerRules | None = None,
) -> list[Preview]:
    """Each chosen target's version of a text being written, with no writes. With
    ``server_rules``, a target whose server sets its own limits (a Mastodon instance's) is
    shown by those, as it will be delivered: at most one read of each such server's public
    settings, kept a while (:mod:`portal.domain.posts.server_rules`); else by its network's
    documented rules, with no network at all."""
    accounts = {account.id: account for account in await publishers(session, user)}
    chosen = [
        accounts[target.account_id]
        for target in targets[:MAX_TARGETS]
        if target.account_id in accounts
    ]
    known = await server_rules.of(chosen) if server_rules is not None else {}
    shown = []
    for target in targets[:MAX_TARGETS]:
        account = accounts.get(target.account_id)
        if account is None:
            continue
        own = target.text is not None and target.text.strip() != ""
        version = version_for(
            account,
            (target.text if own and target.text is not None else text)[:MAX_TEXT],
            fit=target.fit if target.fit in ("thread", "shorten") else "thread",
            media=min(media, MAX_MEDIA),
            content_warning=content_warning[:MAX_WARNING],
            full_text_url=full_text_url(base_url, "…"),
            rules=known.get(account.id),
        )
        shown.append(Preview(account, label(account), target.destination, target.fit, version, own))
    return shown


# -- reading -------------------------------------------------------------------------------------


async def load(session: AsyncSession, user: User, post_id: str) -> Loaded:
    """One of the person's posts; another's, or none, is "does not exist" alike."""
    post = await session.get(Post, post_id) if 0 < len(post_id) <= 24 else None
    if post is None or post.user_id != user.id:
        raise NotFound(NO_POST)
    deliveries = list(
        await session.scalars(
            select(Delivery).where(Delivery.post_id == post.id).order_by(Delivery.id)
        )
    )
    media = list(
        await session.scalars(
            select(PostMedia).where(PostMedia.post_id == post.id).order_by(PostMedia.position)
        )
    )
    return Loaded(post, deliveries, media)


async def list_posts(
    session: AsyncSession, user: User, *, cursor: str | None = None, limit: int = 20
) -> base.Page[Loaded]:
    """The person's posts, newest first, each with its deliveries (two queries a page); a
    page's ``cursor`` asks for the posts after its last."""
    query = select(Post).where(Post.user_id == user.id, Post.state != "deleted")
    if cursor is not None:
        created, post_id = _cursor(cursor)
        query = query.where(
            (Post.created_at < created) | ((Post.created_at == created) & (Post.id < post_id))
        )
    order = (Post.created_at.desc(), Post.id.desc())
    posts = list(await session.scalars(query.order_by(*order).limit(limit + 1)))
    more, posts = len(posts) > limit, posts[:limit]
    by_post: dict[str, list[Delivery]] = {post.id: [] for post in posts}
    if posts:
        for delivery in await session.scalars(
            select(Delivery).where(Delivery.post_id.in_(by_post)).order_by(Delivery.id)
        ):
            by_post[delivery.post_id].append(delivery)
    last = posts[-1] if more else None
    return base.Page(
        [Loaded(post, by_post[post.id]) for post in posts],
        f"{last.created_at.isoformat()}~{last.id}" if last else None,
    )


def _cursor(text: str) -> tuple[datetime, str]:
    created, _, post_id = text.partition("~")
    try:
        when = datetime.fromisoformat(created)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None or not 0 < len(post_id) <= 24:
        raise InvalidInput(N_("This cursor is not one Portal gave."), field="cursor")
    return when, post_id


async def count_scheduled(session: AsyncSession, user: User) -> int:
    return (
        await session.scalar(
            select(func.count())
            .select_from(Post)
            .where(Post.user_id == user.id, Post.state == "scheduled")
        )
        or 0
    )


def parts_of(delivery: Delivery) -> list[base.Published]:
    """What a delivery has published so far, part by part."""
    try:
        kept = json.loads(delivery.parts or "[]")
    except ValueError:
        return []
    return [
        base.Published(str(part.get("id", "")), part.get("url"), str(part.get("ref", "")))
        for part in kept
        if isinstance(part, dict) and part.get("id")
    ]


def delivery_label(delivery: Delivery) -> str:
    """A delivery's target in words, from what it kept (the account may be gone)."""
    try:
        cls = connector(delivery.network)
        name = f"{cls.LABEL} {cls.display_handle(delivery.handle)}"
    except NotFound:
        name = f"{delivery.network} {delivery.handle}"
    return f"{name} → {delivery.destination}" if delivery.destination else name


async def delivery_states(
    session: AsyncSession, user_id: int, post_id: str
) -> list[tuple[int, str, str, str | None]]:
    """What changes on a post's page as it goes out: each delivery's status, error, link."""
    rows = await session.execute(
        select(Delivery.id, Delivery.status, Delivery.error, Delivery.remote_url)
        .join(Post, Post.id == Delivery.post_id)
        .where(Post.id == post_id, Post.user_id == user_id)
        .order_by(Delivery.id)
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


async def media_of(session: AsyncSession, user: User, ids: Sequence[str]) -> list[PostMedia]:
    """The person's pictures of ``ids``, in that order (those not theirs left out)."""
    wanted = [media_id for media_id in ids if 0 < len(media_id) <= 24]
    if not wanted:
        return []
    found = {
        media.id: media
        for media in await session.scalars(
            select(PostMedia).where(PostMedia.id.in_(wanted), PostMedia.user_id == user.id)
        )
    }
    return [found[media_id] for media_id in dict.fromkeys(wanted) if media_id in found]


async def own_media(session: AsyncSession, user: User, media_id: str) -> PostMedia:
    media = await session.get(PostMedia, media_id) if 0 < len(media_id) <= 24 else None
    if media is None or media.user_id != user.id:
        raise NotFound(N_("This picture does not exist."))
    return media


@dataclass(frozen=True)
class Shown:
    """A published post as anyone sees it at its own address: its text and pictures, and
    its author's number and name."""

    post: Post
    media: list[PostMedia]
    number: str
    name: str


async def published(session: AsyncSession, post_id: str) -> Shown:
    """A post that went out on at least one network; any other answers "does not exist"."""
    post = await session.get(Post, post_id) if 0 < len(post_id) <= 24 else None
    if post is None or post.state != "published":
        raise NotFound(NO_POST)
    sent = await session.scalar(
        select(func.count())
        .select_from(Delivery)
        .where(Delivery.post_id == post.id, Delivery.status == SENT)
    )
    author = await session.get(User, post.user_id)
    if not sent or author is None:
        raise NotFound(NO_POST)
    media = list(
        await session.scalars(
            select(PostMedia).where(PostMedia.post_id == post.id).order_by(PostMedia.position)
        )
    )
    return Shown(post, media, author.number, author.display_name)


# -- changing course -----------------------------------------------------------------------------


async def cancel(session: AsyncSession, user: User, post_id: str, delivery_id: int) -> Delivery:
    """Stop a delivery that has not gone out; one being sent stops before its next part."""
    delivery = _one(await load(session, user, post_id), delivery_id)
    if delivery.status not in WAITING | {SENDING}:
        raise InvalidInput(N_("Only a post that has not gone out can be cancelled."))
    delivery.status, delivery.next_attempt_at = CANCELLED, None
    delivery.error = ""
    # The delivery first, then its job: the order in which a worker recording it takes them.
    await session.flush()
    await jobs.drop(session, DELIVER, str(delivery.id))
    return delivery


async def retry(session: AsyncSession, user: User, post_id: str, delivery_id: int) -> Delivery:
    """Try a failed or cancelled delivery again, now; what went out already is kept."""
    loaded = await load(session, user, post_id)
    delivery = _one(loaded, delivery_id)
    if delivery.status not in (FAILED, CANCELLED, RETRYING):
        raise InvalidInput(N_("Only a post that failed or was cancelled can be tried again."))
    if loaded.post.state == "deleted":
        raise NotFound(NO_POST)
    delivery.status, delivery.error, delivery.attempts = QUEUED, "", 0
    delivery.next_attempt_at = None
    await jobs.enqueue(session, DELIVER, str(delivery.id))
    await session.flush()
    return delivery


async def delete(session: AsyncSession, user: User, post_id: str) -> Loaded:
    """Delete a post: what has not gone out is cancelled, what has is taken down where the
    network allows (in the background: ``take_down`` jobs).

    A copy being sent right now may be out a moment later, so it is taken down too: it keeps
    its ``deliver`` job, which its worker ends when it records the part it was publishing and
    asks for the take-down again; a worker that stops before leaves the job to be run again,
    and the take-down waits for it (``portal.domain.posts.deliver``). A copy of which a part
    went out before (a thread stopped halfway) is taken down as well."""
    loaded = await load(session, user, post_id)
    loaded.post.state = "deleted"
    for delivery in loaded.deliveries:
        if delivery.status in (SENT, SENDING) or parts_of(delivery):
            if delivery.status != SENDING:
                await jobs.drop(session, DELIVER, str(delivery.id))
            delivery.status = DELETING
            await jobs.enqueue(session, TAKE_DOWN, str(delivery.id))
        elif delivery.status in WAITING | {FAILED}:
            delivery.status = CANCELLED
            await jobs.drop(session, DELIVER, str(delivery.id))
    await session.flush()
    return loaded


def _one(loaded: Loaded, delivery_id: int) -> Delivery:
    for delivery in loaded.deliveries:
        if delivery.id == delivery_id:
            return delivery
    raise NotFound(N_("This post does not go there."))
