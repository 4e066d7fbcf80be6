"""Writing to a person by their number: one message over their messengers, and how each copy
stands."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request, status
from pydantic import BaseModel, ConfigDict, Field

from portal.api.deps import ApiUser
from portal.api.schemas import errors
from portal.deps import DB, LimiterDep, client_address
from portal.domain import lookup
from portal.domain.linking.services import label_of
from portal.domain.messages import send
from portal.storage.messages import MessageCopy

router = APIRouter(prefix="/api/v1", tags=["messages"])

MessagePath = Annotated[
    str,
    Path(min_length=1, max_length=24, pattern=r"^[A-Za-z0-9_-]+$", description="The message's id."),
]


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: str = Field(max_length=100, description="The recipient's portal number.")
    text: str = Field(max_length=20_000, description="What to say (4000 characters at most).")
    mode: Literal["all", "first"] = Field(
        default="all",
        description="``all``: on every messenger at once; ``first``: one after the other in "
        "the recipient's order, until one delivers.",
    )
    channels: list[Annotated[str, Field(max_length=40)]] | None = Field(
        default=None,
        max_length=40,
        description="Only these networks among those the recipient offers me.",
        examples=[["matrix", "xmpp"]],
    )


class CopyOut(BaseModel):
    id: int
    network: str = Field(examples=["matrix"])
    label: str = Field(examples=["Matrix"])
    to: str = Field(description="The recipient's handle there.", examples=["@grace:matrix.org"])
    status: Literal["waiting", "queued", "sending", "retrying", "sent", "failed", "skipped"]
    error: str = Field(description="Why it failed, or why it is tried again, in words.")
    remote_id: str | None
    attempts: int
    next_attempt_at: datetime | None
    sent_at: datetime | None

    @classmethod
    def of(cls, copy: MessageCopy) -> CopyOut:
        return cls(
            id=copy.id,
            network=copy.network,
            label=label_of(copy.network),
            to=copy.to_handle,
            status=copy.status,
            error=copy.error,
            remote_id=copy.remote_id,
            attempts=copy.attempts,
            next_attempt_at=copy.next_attempt_at,
            sent_at=copy.sent_at,
        )


class AppLinkOut(BaseModel):
    network: str = Field(examples=["whatsapp"])
    label: str = Field(examples=["WhatsApp"])
    url: str = Field(
        description="Opens the chat in my own app.",
        examples=["https://wa.me/447400123456?text=Tea%20at%20five%3F"],
    )
    fills_in_text: bool = Field(description="The link writes the message in, ready to send.")


class MessageOut(BaseModel):
    id: str
    to: str = Field(description="The recipient's portal number.")
    text: str
    mode: Literal["all", "first"]
    created_at: datetime
    copies: list[CopyOut] = Field(
        description="One per messenger Portal writes on for me, in the recipient's order."
    )
    links: list[AppLinkOut] = Field(
        description="The recipient's other messengers I may use, which Portal cannot write "
        "on for me: each a link that opens my own app."
    )

    @classmethod
    def of(cls, loaded: send.Loaded) -> MessageOut:
        return cls(
            id=loaded.message.id,
            to=loaded.recipient.number,
            text=loaded.message.text,
            mode=loaded.message.mode,
            created_at=loaded.message.created_at,
            copies=[CopyOut.of(copy) for copy in loaded.copies],
            links=[
                AppLinkOut(
                    network=link.network,
                    label=link.label,
                    url=link.url,
                    fills_in_text=link.fills_in_text,
                )
                for link in loaded.links
            ],
        )


@router.post(
    "/messages",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=MessageOut,
    responses=errors(401, 403, 404, 422, 429),
)
async def post_message(
    body: MessageIn, request: Request, db: DB, user: ApiUser, limiter: LimiterDep
) -> MessageOut:
    """Write to the person behind a number, on their messengers that I may use: from my own
    account on each (Matrix, XMPP), each copy delivered in the background; their other
    messengers come as links that open my own app (WhatsApp with the text written in). A
    number unknown or hidden from me is not found, as for a lookup; a person who takes no
    messages from me answers 403."""
    await limiter.hit("message", str(user.id))
    message = await lookup.counted(
        limiter,
        user,
        client_address(request),
        send.send(db, user, body.to, body.text, mode=body.mode, networks=body.channels),
    )
    # Counted once the recipient is known; over the limit, the message is not kept.
    await limiter.hit("message_to", str(message.recipient_id))
    return MessageOut.of(await send.load(db, user, message.id))


@router.get(
    "/messages/{message_id}", response_model=MessageOut, responses=errors(401, 403, 404, 429)
)
async def get_message(
    message_id: MessagePath, request: Request, db: DB, user: ApiUser, limiter: LimiterDep
) -> MessageOut:
    """One of my messages, with how each copy stands."""
    found = await lookup.counted(
        limiter, user, client_address(request), send.load(db, user, message_id)
    )
    return MessageOut.of(found)
