"""Contacts, contact requests, blocks, tags, invitations and notifications.

In every path ``{number}`` is the other person's portal number (spaces, dashes, dots and a
leading ``#`` are ignored): the one identifier both people know. Every route with a number
counts as a lookup (rate-limited as ``GET /numbers/{number}`` is, a miss costing more), and
answers a number nobody has, a hidden one and one outside the relation it is about alike.
An invitation is named by its secret, the last part of its link.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from portal.api.deps import ApiUser
from portal.api.schemas import CardOut, OtherNumber, errors
from portal.deps import DB, LimiterDep, SettingsDep, client_address, mailer, person_named
from portal.domain import contacts, invites, lookup, notifications, privacy

router = APIRouter(prefix="/api/v1")

SecretPath = Path(max_length=100, description="The invitation's secret, from its link.")


# --- bodies -----------------------------------------------------------------------------------


PersonOut = CardOut
"""What I may see of someone: fields they do not show me are null (a number's card)."""


class ContactOut(BaseModel):
    person: PersonOut
    added_at: datetime
    tags: list[str]

    @classmethod
    def of(cls, entry: contacts.Entry) -> ContactOut:
        return cls(person=PersonOut.of(entry.card), added_at=entry.added_at, tags=list(entry.tags))


class ContactPageOut(BaseModel):
    items: list[ContactOut]
    total: int
    page: int
    pages: int
    tags: list[str] = Field(description="Every tag I use.")
    networks: list[str] = Field(description="Every network my contacts show me.")


class RequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: str = Field(max_length=100, examples=["48291375"])
    message: str = Field(default="", max_length=2000, description="At most 300 characters.")


class RequestOut(BaseModel):
    id: int
    person: PersonOut = Field(description="The sender of a request I received, or its recipient.")
    message: str
    created_at: datetime

    @classmethod
    def of(cls, pending: contacts.PendingRequest) -> RequestOut:
        return cls(
            id=pending.id,
            person=PersonOut.of(pending.card),
            message=pending.message,
            created_at=pending.created_at,
        )


class RequestsOut(BaseModel):
    incoming: list[RequestOut]
    outgoing: list[RequestOut]


class SentOut(BaseModel):
    status: Literal["pending", "contacts"] = Field(
        description="'contacts' when they had asked me too: we are contacts at once."
    )
    person: PersonOut


class TagsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tags: list[str] = Field(max_length=100, description="1 to 40 characters each, at most 20.")


class BlockedOut(BaseModel):
    person: PersonOut
    created_at: datetime


class InviteOut(BaseModel):
    created_at: datetime
    expires_at: datetime


class NewInviteOut(InviteOut):
    secret: str = Field(description="Shown only now: only a digest of it is kept.")
    url: str


class NotificationOut(BaseModel):
    id: int
    kind: str = Field(examples=list(notifications.KINDS))
    text: str
    link: str
    created_at: datetime
    read: bool
    person: PersonOut | None

    @classmethod
    def of(cls, shown: notifications.Shown) -> NotificationOut:
        return cls(
            id=shown.id,
            kind=shown.kind,
            text=shown.text,
            link=shown.link,
            created_at=shown.created_at,
            read=shown.read,
            person=PersonOut.of(shown.actor) if shown.actor else None,
        )


class NotificationPageOut(BaseModel):
    items: list[NotificationOut]
    unread: int
    page: int
    pages: int


# --- contacts and requests --------------------------------------------------------------------


@router.get(
    "/contacts", response_model=ContactPageOut, responses=errors(401, 403), tags=["contacts"]
)
async def list_contacts(
    db: DB,
    user: ApiUser,
    sort: Literal["name", "recent", "networks"] = "name",
    network: str = Query("", max_length=40, description="Only contacts showing an account there."),
    q: str = Query("", max_length=100, description="Text in the name, number or a handle."),
    tag: str = Query("", max_length=40),
    page: int = Query(1, ge=1, le=10_000),
    per_page: int = Query(50, ge=1, le=200),
) -> ContactPageOut:
    """My contacts, as each shows themselves to their contacts."""
    found = await contacts.list_contacts(
        db, user, sort=sort, network=network, text=q, tag=tag, page=page, per_page=per_page
    )
    return ContactPageOut(
        items=[ContactOut.of(entry) for entry in found.items],
        total=found.total,
        page=found.page,
        pages=found.pages,
        tags=list(found.tags),
        networks=[name for name, _ in found.networks],
    )


@router.post(
    "/contacts",
    status_code=status.HTTP_201_CREATED,
    response_model=SentOut,
    responses=errors(401, 403, 404, 409, 429),
    tags=["contacts"],
)
async def send_request(
    body: RequestIn,
    request: Request,
    db: DB,
    user: ApiUser,
    limiter: LimiterDep,
    settings: SettingsDep,
) -> SentOut:
    """Ask someone, by number, to become mutual contacts (at once if they asked me too)."""
    sent = await lookup.ask(
        db,
        limiter,
        user,
        body.number,
        body.message,
        client=client_address(request),
        mailer=mailer(settings),
    )
    [card] = await privacy.cards_for(db, user, [sent.other])
    return SentOut(status=sent.status, person=PersonOut.of(card))


@router.get(
    "/contact-requests", response_model=RequestsOut, responses=errors(401, 403), tags=["contacts"]
)
async def list_requests(db: DB, user: ApiUser) -> RequestsOut:
    """Requests waiting for an answer: sent to me (incoming) and sent by me (outgoing)."""
    incoming = await contacts.pending_requests(db, user, incoming=True)
    outgoing = await contacts.pending_requests(db, user, incoming=False)
    return RequestsOut(
        incoming=[RequestOut.of(r) for r in incoming],
        outgoing=[RequestOut.of(r) for r in outgoing],
    )


@router.post(
    "/contacts/{number}/accept",
    response_model=ContactOut,
    responses=errors(401, 403, 404, 429),
    tags=["contacts"],
)
async def accept_request(
    request: Request,
    db: DB,
    user: ApiUser,
    limiter: LimiterDep,
    settings: SettingsDep,
    number: OtherNumber,
) -> ContactOut:
    """Accept the request this number sent me: we become mutual contacts."""
    other = await person_named(request, db, limiter, user, number, "received")
    await contacts.accept(db, user, other, mailer=mailer(settings))
    return ContactOut.of(await contacts.entry(db, user, other))


@router.post(
    "/contacts/{number}/decline",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403, 404, 429),
    tags=["contacts"],
)
async def decline_request(
    request: Request, db: DB, user: ApiUser, limiter: LimiterDep, number: OtherNumber
) -> Response:
    """Turn down the request this number sent me; they are not told."""
    other = await person_named(request, db, limiter, user, number, "received")
    await contacts.decline(db, user, other)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/contacts/{number}/block",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403, 404, 429),
    tags=["contacts"],
)
async def block(
    request: Request, db: DB, user: ApiUser, limiter: LimiterDep, number: OtherNumber
) -> Response:
    """Block this number: no contact, no requests, and they see only what anyone sees."""
    other = await person_named(request, db, limiter, user, number, "anyone")
    await contacts.block(db, user, other)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/contacts/{number}/block",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403, 404, 429),
    tags=["contacts"],
)
async def unblock(
    request: Request, db: DB, user: ApiUser, limiter: LimiterDep, number: OtherNumber
) -> Response:
    """Lift my block of this number."""
    other = await person_named(request, db, limiter, user, number, "blocked")
    await contacts.unblock(db, user, other)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/blocks", response_model=list[BlockedOut], responses=errors(401, 403), tags=["contacts"]
)
async def list_blocks(db: DB, user: ApiUser) -> list[BlockedOut]:
    """The people I blocked."""
    return [
        BlockedOut(person=PersonOut.of(b.card), created_at=b.created_at)
        for b in await contacts.blocks(db, user)
    ]


@router.delete(
    "/contacts/{number}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403, 404, 429),
    tags=["contacts"],
)
async def remove_contact(
    request: Request, db: DB, user: ApiUser, limiter: LimiterDep, number: OtherNumber
) -> Response:
    """End a mutual contact, or withdraw the request I sent this number."""
    other = await person_named(request, db, limiter, user, number, "contact_or_sent")
    await contacts.remove_or_cancel(db, user, other)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/contacts/{number}/tags",
    response_model=ContactOut,
    responses=errors(401, 403, 404, 429),
    tags=["contacts"],
)
async def put_tags(
    body: TagsIn,
    request: Request,
    db: DB,
    user: ApiUser,
    limiter: LimiterDep,
    number: OtherNumber,
) -> ContactOut:
    """Replace my tags on a contact."""
    other = await person_named(request, db, limiter, user, number, "contact")
    await contacts.set_tags(db, user, other, body.tags)
    return ContactOut.of(await contacts.entry(db, user, other))


# --- invitations ------------------------------------------------------------------------------


@router.get(
    "/invites", response_model=list[InviteOut], responses=errors(401, 403), tags=["invites"]
)
async def list_invites(db: DB, user: ApiUser) -> list[InviteOut]:
    """My invitations that can still be used (their secrets are not kept)."""
    return [
        InviteOut(created_at=i.created_at, expires_at=i.expires_at)
        for i in await invites.live_invites(db, user)
    ]


@router.post(
    "/invites",
    status_code=status.HTTP_201_CREATED,
    response_model=NewInviteOut,
    responses=errors(401, 403, 409, 429),
    tags=["invites"],
)
async def create_invite(
    db: DB, user: ApiUser, limiter: LimiterDep, settings: SettingsDep
) -> NewInviteOut:
    """A one-time invitation, valid for a day: whoever uses it becomes my mutual contact."""
    await limiter.hit("invite", str(user.id))
    made = await invites.create_invite(db, user)
    return NewInviteOut(
        created_at=made.invite.created_at,
        expires_at=made.invite.expires_at,
        secret=made.secret,
        url=invites.invite_link(settings.base_url, made.secret),
    )


@router.post(
    "/invites/{secret}/accept",
    response_model=ContactOut,
    responses=errors(401, 403, 404, 409, 429),
    tags=["invites"],
)
async def accept_invite(
    request: Request,
    db: DB,
    user: ApiUser,
    limiter: LimiterDep,
    settings: SettingsDep,
    secret: str = SecretPath,
) -> ContactOut:
    """Use an invitation: its maker and I become mutual contacts."""
    await limiter.hit("invite", str(user.id))
    await limiter.hit("invite", client_address(request))
    inviter = await invites.accept_invite(db, user, secret, mailer=mailer(settings))
    return ContactOut.of(await contacts.entry(db, user, inviter))


# --- notifications ----------------------------------------------------------------------------


@router.get(
    "/notifications",
    response_model=NotificationPageOut,
    responses=errors(401, 403),
    tags=["notifications"],
)
async def list_notifications(
    db: DB,
    user: ApiUser,
    page: int = Query(1, ge=1, le=10_000),
    per_page: int = Query(30, ge=1, le=100),
    unread: bool = Query(False, description="Only the unread ones."),
) -> NotificationPageOut:
    """My notifications, newest first."""
    found = await notifications.list_notifications(
        db, user, page=page, per_page=per_page, unread_only=unread
    )
    return NotificationPageOut(
        items=[NotificationOut.of(n) for n in found.items],
        unread=found.unread,
        page=found.page,
        pages=found.pages,
    )


@router.post(
    "/notifications/{notification_id}/read",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403, 404),
    tags=["notifications"],
)
async def read_notification(
    db: DB, user: ApiUser, notification_id: int = Path(ge=1, le=2**31 - 1)
) -> Response:
    """Mark one notification read."""
    await notifications.mark_read(db, user, notification_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/notifications/read",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403),
    tags=["notifications"],
)
async def read_all_notifications(db: DB, user: ApiUser) -> Response:
    """Mark all my notifications read."""
    await notifications.mark_all_read(db, user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
