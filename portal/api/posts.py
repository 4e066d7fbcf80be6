"""Posts written once and published on several networks, and their deliveries.

A post goes to *targets*: linked accounts that can publish (``GET /api/v1/networks`` says
which networks can), plus the room, channel or page for networks that post into one. Each
target becomes a *delivery* with its own status, published in the background:
``queued`` → ``sending`` → ``sent`` (with the remote URL), or ``retrying`` (with when), or
``failed`` (with the reason, in words); ``scheduled`` and ``draft`` wait. A post's id is
random; another person's post answers exactly as one that does not exist, and every route
that takes one counts as a lookup.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, UploadFile, status
from pydantic import BaseModel, ConfigDict, Field

from portal.api.deps import ApiUser
from portal.api.schemas import WholeNumber, errors
from portal.deps import (
    DB,
    ImagesDep,
    LimiterDep,
    ServerRulesDep,
    Services,
    SettingsDep,
    calls_out,
    client_address,
    save_post_media,
)
from portal.domain import lookup
from portal.domain.posts import backfeed, compose, edit
from portal.storage.models import MAX_ID
from portal.storage.posts import Delivery, PostMedia

router = APIRouter(prefix="/api/v1", tags=["posts"])

PostPath = Annotated[
    str,
    Path(min_length=1, max_length=24, pattern=r"^[A-Za-z0-9_-]+$", description="The post's id."),
]
DeliveryPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The delivery's id.")]


# --- bodies -----------------------------------------------------------------------------------


class MediaOut(BaseModel):
    id: str
    mime_type: str
    width: int
    height: int
    size: int = Field(description="Bytes, after re-encoding.")

    @classmethod
    def of(cls, media: PostMedia) -> MediaOut:
        return cls(
            id=media.id,
            mime_type=media.mime_type,
            width=media.width,
            height=media.height,
            size=media.size,
        )


class TargetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: WholeNumber = Field(ge=1, le=MAX_ID, description="One of my linked accounts.")
    destination: str = Field(
        default="",
        max_length=300,
        description="The room, channel or page, for networks that post into one.",
        examples=["!room:example.org", "@mychannel"],
    )
    fit: Literal["thread", "shorten"] = Field(
        default="thread",
        description="A text too long for the network: split into a numbered thread, or "
        "shortened with a link to the whole post.",
    )
    text: str | None = Field(
        default=None, max_length=compose.MAX_TEXT, description="My own version for this target."
    )


class PictureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(max_length=24, description="From POST /api/v1/media.")
    description: str = Field(default="", max_length=compose.MAX_ALT, description="Alt text.")
    no_description: bool = Field(
        default=False, description="Publish without alt text (it is required otherwise)."
    )


class PostIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(default="", max_length=compose.MAX_TEXT)
    content_warning: str = Field(default="", max_length=compose.MAX_WARNING)
    targets: list[TargetIn] = Field(max_length=compose.MAX_TARGETS)
    media: list[PictureIn] = Field(default=[], max_length=compose.MAX_MEDIA)
    publish_at: datetime | None = Field(
        default=None, description="When to publish, with a time zone; null: now."
    )
    draft: bool = Field(default=False, description="Keep it without publishing.")

    def composed(self) -> compose.Composed:
        return compose.Composed(
            text=self.text,
            targets=[
                compose.Target(t.account_id, t.destination, t.fit, t.text) for t in self.targets
            ],
            pictures=[compose.Attached(m.id, m.description, m.no_description) for m in self.media],
            content_warning=self.content_warning,
            publish_at=self.publish_at,
            draft=self.draft,
        )


class PartOut(BaseModel):
    id: str
    url: str | None


class DeliveryOut(BaseModel):
    id: int
    account_id: int | None = Field(description="Null once the account was unlinked.")
    network: str
    handle: str
    destination: str
    fit: str
    text: str | None = Field(description="My own version for this target, if I wrote one.")
    status: str = Field(
        examples=["queued", "sending", "sent", "retrying", "failed", "cancelled", "editing"]
    )
    error: str = Field(description="Why it failed or waits to retry, in words; empty if none.")
    remote_id: str | None
    remote_url: str | None = Field(description="The post on the network, once sent.")
    parts: list[PartOut] = Field(description="Every post of a thread, once sent.")
    attempts: int
    next_attempt_at: datetime | None
    sent_at: datetime | None

    @classmethod
    def of(cls, delivery: Delivery) -> DeliveryOut:
        return cls(
            id=delivery.id,
            account_id=delivery.account_id,
            network=delivery.network,
            handle=delivery.handle,
            destination=delivery.destination,
            fit=delivery.fit,
            text=delivery.text,
            status=delivery.status,
            error=delivery.error,
            remote_id=delivery.remote_id,
            remote_url=delivery.remote_url,
            parts=[PartOut(id=p.id, url=p.url) for p in compose.parts_of(delivery)],
            attempts=delivery.attempts,
            next_attempt_at=delivery.next_attempt_at,
            sent_at=delivery.sent_at,
        )


class AnswerOut(BaseModel):
    """Someone's reply, quote, repost or like of a published copy, read from its network."""

    id: int
    network: str
    kind: str = Field(examples=["reply", "quote", "repost", "like"])
    author_handle: str
    author_name: str
    author_url: str | None
    number: str | None = Field(
        description="Their portal number, when the account they answered from is linked to "
        "one and its owner lets me see it."
    )
    text: str = Field(description="A reply's or a quote's text; empty for reposts and likes.")
    url: str | None = Field(description="Where to see it and answer it, on its network.")
    in_reply_to: str | None = Field(description="The network's id of what a reply answers.")
    happened_at: datetime

    @classmethod
    def of(cls, shown: backfeed.Shown) -> AnswerOut:
        answer = shown.answer
        return cls(
            id=answer.id,
            network=answer.network,
            kind=answer.kind,
            author_handle=answer.author_handle,
            author_name=answer.author_name,
            author_url=answer.author_url,
            number=shown.card.number if shown.card else None,
            text=answer.text,
            url=answer.url,
            in_reply_to=answer.in_reply_to,
            happened_at=answer.happened_at,
        )


class PostOut(BaseModel):
    id: str
    text: str
    content_warning: str
    state: str = Field(examples=["draft", "scheduled", "published", "deleted"])
    publish_at: datetime | None
    created_at: datetime
    media: list[MediaOut]
    deliveries: list[DeliveryOut]
    answers: list[AnswerOut] | None = Field(
        default=None,
        description="Replies, quotes, reposts and likes from every network, oldest first (the "
        "newest 300): in `GET /posts/{post_id}` only.",
    )

    @classmethod
    def of(cls, loaded: compose.Loaded, answers: backfeed.Answers | None = None) -> PostOut:
        post = loaded.post
        return cls(
            id=post.id,
            text=post.text,
            content_warning=post.content_warning,
            state=post.state,
            publish_at=post.publish_at,
            created_at=post.created_at,
            media=[MediaOut.of(m) for m in loaded.media],
            deliveries=[DeliveryOut.of(d) for d in loaded.deliveries],
            answers=[AnswerOut.of(a) for a in answers.items] if answers is not None else None,
        )


class PostPageOut(BaseModel):
    items: list[PostOut]
    next_cursor: str | None = Field(description="The next page's cursor; null on the last.")


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(default="", max_length=compose.MAX_TEXT)
    content_warning: str = Field(default="", max_length=compose.MAX_WARNING)
    targets: list[TargetIn] = Field(max_length=compose.MAX_TARGETS)
    media: WholeNumber = Field(
        default=0, ge=0, le=compose.MAX_MEDIA, description="Pictures attached."
    )


class PreviewOut(BaseModel):
    account_id: int
    target: str = Field(description="The network and account, in words.")
    destination: str
    parts: list[str] = Field(description="The posts as they will go out; several: a thread.")
    fit: str | None = Field(description="How it was made to fit: thread, shorten, or null.")
    length: int = Field(description="The longest part, as the network counts.")
    limit: int
    problems: list[str] = Field(description="Why it cannot go as it is; empty: it can.")
    notes: list[str]


# --- media ------------------------------------------------------------------------------------


@router.post(
    "/media",
    status_code=status.HTTP_201_CREATED,
    response_model=MediaOut,
    responses=errors(401, 403, 413, 422, 429, 503),
)
async def upload_media(
    file: UploadFile,
    db: DB,
    user: ApiUser,
    settings: SettingsDep,
    images: ImagesDep,
    limiter: LimiterDep,
) -> MediaOut:
    """Upload a picture for a post (JPEG, PNG, GIF or WebP): it is checked and re-encoded,
    and waits for a post to take it."""
    await limiter.hit("post_media", str(user.id))
    return MediaOut.of(await save_post_media(db, user, file, settings, images))


# --- posts ------------------------------------------------------------------------------------


@router.post(
    "/posts",
    status_code=status.HTTP_201_CREATED,
    response_model=PostOut,
    responses=errors(401, 403, 422, 429),
)
async def create_post(
    body: PostIn,
    db: DB,
    user: ApiUser,
    services: Services,
    limiter: LimiterDep,
    server_rules: ServerRulesDep,
) -> PostOut:
    """Write a post for my targets: published now, at ``publish_at``, or kept as a draft."""
    await limiter.hit("post", str(user.id))
    return PostOut.of(
        await compose.save(
            db, user, body.composed(), base_url=services.base_url, server_rules=server_rules
        )
    )


@router.post(
    "/previews",
    response_model=list[PreviewOut],
    responses=errors(401, 403, 422),
    dependencies=[Depends(calls_out)],
)
async def preview_post(
    body: PreviewIn, db: DB, user: ApiUser, services: Services, server_rules: ServerRulesDep
) -> list[PreviewOut]:
    """Each target's version of a text: split, shortened, what stops it, by the limits of
    each account's server where it sets its own (a Mastodon instance's). Nothing is saved."""
    shown = await compose.previews(
        db,
        user,
        body.text,
        [compose.Target(t.account_id, t.destination, t.fit, t.text) for t in body.targets],
        media=body.media,
        content_warning=body.content_warning,
        base_url=services.base_url,
        server_rules=server_rules,
    )
    return [
        PreviewOut(
            account_id=p.account.id,
            target=p.label,
            destination=p.destination,
            parts=list(p.version.parts),
            fit=p.version.fit,
            length=p.version.length,
            limit=p.version.limit,
            problems=list(p.version.problems),
            notes=list(p.version.notes),
        )
        for p in shown
    ]


@router.get("/posts", response_model=PostPageOut, responses=errors(401, 403, 422))
async def list_posts(
    db: DB,
    user: ApiUser,
    cursor: Annotated[
        str | None, Query(max_length=100, description="A page's `next_cursor`: the posts after it.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> PostPageOut:
    """My posts, newest first, each with its deliveries."""
    page = await compose.list_posts(db, user, cursor=cursor, limit=limit)
    return PostPageOut(items=[PostOut.of(p) for p in page.items], next_cursor=page.cursor)


@router.get("/posts/{post_id}", response_model=PostOut, responses=errors(401, 403, 404, 429))
async def get_post(
    post_id: PostPath, request: Request, db: DB, user: ApiUser, limiter: LimiterDep
) -> PostOut:
    """One of my posts, with each delivery's status and remote URL, and the answers to it."""
    found = await lookup.counted(
        limiter, user, client_address(request), compose.load(db, user, post_id)
    )
    return PostOut.of(found, await backfeed.answers_of(db, user, found.post.id))


class ReadingOut(BaseModel):
    copies: int = Field(description="How many published copies are being read.")


@router.post(
    "/posts/{post_id}/answers/read",
    response_model=ReadingOut,
    status_code=202,
    responses=errors(401, 403, 404, 429),
)
async def read_answers(
    post_id: PostPath, request: Request, db: DB, user: ApiUser, limiter: LimiterDep
) -> ReadingOut:
    """Look for the answers to my post on every network now; they are in `GET
    /posts/{post_id}` as they come."""
    copies = await lookup.counted(
        limiter, user, client_address(request), backfeed.read_now(db, user, post_id)
    )
    return ReadingOut(copies=copies)


@router.put("/posts/{post_id}", response_model=PostOut, responses=errors(401, 403, 404, 422, 429))
async def update_post(
    post_id: PostPath,
    body: PostIn,
    request: Request,
    db: DB,
    user: ApiUser,
    services: Services,
    limiter: LimiterDep,
    server_rules: ServerRulesDep,
) -> PostOut:
    """Change a draft or a scheduled post, whole, until it starts going out."""
    saved = await lookup.counted(
        limiter,
        user,
        client_address(request),
        compose.save(
            db,
            user,
            body.composed(),
            base_url=services.base_url,
            post_id=post_id,
            server_rules=server_rules,
        ),
    )
    return PostOut.of(saved)


class TextIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=compose.MAX_TEXT)
    content_warning: str = Field(default="", max_length=compose.MAX_WARNING)


@router.patch("/posts/{post_id}", response_model=PostOut, responses=errors(401, 403, 404, 422, 429))
async def change_text(
    post_id: PostPath,
    body: TextIn,
    request: Request,
    db: DB,
    user: ApiUser,
    limiter: LimiterDep,
) -> PostOut:
    """A new text for a post that went out. Each copy out there is changed where its network
    allows (Mastodon, Telegram, VK, Facebook: its delivery is `editing`, then `sent` again,
    with an `error` if it could not be changed); elsewhere its `error` says it stays as it was."""
    changed = await lookup.counted(
        limiter,
        user,
        client_address(request),
        edit.change_text(db, user, post_id, body.text, body.content_warning),
    )
    return PostOut.of(changed)


@router.delete(
    "/posts/{post_id}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PostOut,
    responses=errors(401, 403, 404, 429),
)
async def delete_post(
    post_id: PostPath, request: Request, db: DB, user: ApiUser, limiter: LimiterDep
) -> PostOut:
    """Delete a post: what has not gone out is cancelled, what has is deleted from each
    network that allows it (in the background: watch the deliveries turn ``deleted``)."""
    deleted = await lookup.counted(
        limiter, user, client_address(request), compose.delete(db, user, post_id)
    )
    return PostOut.of(deleted)


@router.post(
    "/posts/{post_id}/deliveries/{delivery_id}/{action}",
    response_model=DeliveryOut,
    responses=errors(401, 403, 404, 422, 429),
)
async def change_delivery(
    post_id: PostPath,
    delivery_id: DeliveryPath,
    action: Annotated[
        Literal["retry", "cancel"],
        Path(
            description="`retry` a failed or cancelled delivery now, or `cancel` one not gone out."
        ),
    ],
    request: Request,
    db: DB,
    user: ApiUser,
    limiter: LimiterDep,
) -> DeliveryOut:
    """Try a failed or cancelled delivery again now, or stop one that has not gone out."""
    change = compose.retry if action == "retry" else compose.cancel
    changed = await lookup.counted(
        limiter, user, client_address(request), change(db, user, post_id, delivery_id)
    )
    return DeliveryOut.of(changed)
