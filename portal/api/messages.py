"""Writing to a person by their number: one message over their messengers, and how each copy
stands."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from portal import responses
from portal.api.deps import ApiUser
from portal.api.schemas import CardOut, OtherNumber, errors
from portal.deps import DB, LimiterDep, Services, client_address
from portal.domain import lookup
from portal.domain.linking.services import label_of
from portal.domain.messages import conversations, requests, send
from portal.storage.messages import MessageCopy
from portal.storage.posts import PostMedia

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
    media_id: str | None = Field(
        default=None,
        max_length=24,
        description="A picture to send with the text: one I uploaded with POST /api/v1/media "
        "and used nowhere yet.",
    )
    media_description: str = Field(
        default="", max_length=2_000, description="The picture's alt text, for who cannot see it."
    )


class PictureOut(BaseModel):
    mime_type: str = Field(examples=["image/jpeg"])
    description: str = Field(description="Its alt text; empty where it has none.")
    url: str = Field(
        description="Where the sender and the recipient fetch it.",
        examples=["/api/v1/messages/q7tXnTYG1vB2a9kC/picture"],
    )

    @classmethod
    def of(
        cls, picture: conversations.Picture | PostMedia | None, message_id: str
    ) -> PictureOut | None:
        if picture is None:
            return None
        return cls(
            mime_type=picture.mime_type,
            description=picture.description,
            url=f"/api/v1/messages/{message_id}/picture",
        )


class CopyOut(BaseModel):
    id: int
    network: str = Field(examples=["matrix"])
    label: str = Field(examples=["Matrix"])
    to: str = Field(description="The recipient's handle there.", examples=["@grace:matrix.org"])
    status: Literal[
        "waiting", "queued", "sending", "retrying", "sent", "failed", "skipped", "withdrawn"
    ] = Field(
        description="``skipped``: not sent, as another messenger delivered it first or they "
        "answered before; ``withdrawn``: taken back unread once they answered elsewhere."
    )
    error: str = Field(description="Why it failed, or why it is tried again, in words.")
    by_bot: bool = Field(
        description="Written by the portal's own bot in my name (Telegram), not from an "
        "account of mine."
    )
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
            by_bot=copy.by_bot,
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
    held: bool = Field(
        description="A message request: the recipient is not my contact, and it goes out once "
        "they accept it."
    )
    copies: list[CopyOut] = Field(
        description="One per messenger Portal writes on for me, in the recipient's order."
    )
    links: list[AppLinkOut] = Field(
        description="The recipient's other messengers I may use, which Portal cannot write "
        "on for me: each a link that opens my own app."
    )
    picture: PictureOut | None = Field(default=None, description="The picture sent with it.")

    @classmethod
    def of(cls, loaded: send.Loaded) -> MessageOut:
        return cls(
            id=loaded.message.id,
            to=loaded.recipient.number,
            text=loaded.message.text,
            mode=loaded.message.mode,
            created_at=loaded.message.created_at,
            held=loaded.message.held,
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
            picture=PictureOut.of(loaded.picture, loaded.message.id),
        )


@router.post(
    "/messages",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=MessageOut,
    responses=errors(401, 403, 404, 422, 429),
)
async def post_message(
    body: MessageIn,
    request: Request,
    db: DB,
    user: ApiUser,
    limiter: LimiterDep,
    services: Services,
) -> MessageOut:
    """Write to the person behind a number, on their messengers that I may use: from my own
    account on each (Matrix, XMPP), or on Telegram by the portal's bot in my name, each copy
    delivered in the background; their other messengers come as links that open my own app
    (WhatsApp with the text written in). A number unknown or hidden from me is not found, as
    for a lookup; a person who takes no messages from me answers 403."""
    await limiter.hit("message", str(user.id))
    bot = send.has_bot(services)
    message = await lookup.counted(
        limiter,
        user,
        client_address(request),
        send.send(
            db,
            user,
            body.to,
            body.text,
            mode=body.mode,
            networks=body.channels,
            bot=bot,
            picture=send.Attached(body.media_id, body.media_description)
            if body.media_id is not None
            else None,
        ),
    )
    # Counted once the recipient is known; over the limit, the message is not kept.
    await limiter.hit("message_to", str(message.recipient_id))
    return MessageOut.of(await send.load(db, user, message.id, bot=bot))


@router.get(
    "/messages/{message_id}", response_model=MessageOut, responses=errors(401, 403, 404, 429)
)
async def get_message(
    message_id: MessagePath,
    request: Request,
    db: DB,
    user: ApiUser,
    limiter: LimiterDep,
    services: Services,
) -> MessageOut:
    """One of my messages, with how each copy stands."""
    found = await lookup.counted(
        limiter,
        user,
        client_address(request),
        send.load(db, user, message_id, bot=send.has_bot(services)),
    )
    return MessageOut.of(found)


@router.get(
    "/messages/{message_id}/picture",
    response_class=Response,
    responses={**errors(401, 404, 429), 200: {"content": {"image/*": {}}}},
)
async def get_message_picture(
    message_id: MessagePath, request: Request, db: DB, user: ApiUser, limiter: LimiterDep
) -> Response:
    """The picture of a message I wrote or was written."""
    media = await lookup.counted(
        limiter, user, client_address(request), conversations.picture(db, user, message_id)
    )
    return responses.picture(media.data, media.mime_type, max_age=86400)


class ConversationEntryOut(BaseModel):
    kind: Literal["message", "answer"] = Field(
        description="``message``: written through Portal; ``answer``: read back from the "
        "messenger a message went over."
    )
    id: str
    mine: bool = Field(description="I wrote it.")
    text: str
    at: datetime
    networks: list[str] = Field(
        description="A message: the messengers it reached; an answer: the one it was written on.",
        examples=[["matrix"]],
    )
    message_id: str = Field(description="The message it is, or answers.")
    url: str | None = Field(description="Where an answer opens on its network.")
    unread: bool = Field(description="The other wrote it, and I had not seen it.")
    held: bool = Field(description="A message request, held until its recipient accepts it.")
    picture: PictureOut | None = Field(default=None, description="The picture sent with it.")

    @classmethod
    def of(cls, entry: conversations.Entry) -> ConversationEntryOut:
        return cls(
            kind=entry.kind,
            id=entry.id,
            mine=entry.mine,
            text=entry.text,
            at=entry.at,
            networks=list(entry.networks),
            message_id=entry.message_id,
            url=entry.url,
            unread=entry.unread,
            held=entry.held,
            picture=PictureOut.of(entry.picture, entry.message_id),
        )


class ConversationOut(BaseModel):
    person: CardOut = Field(description="The other person, as they let me see them.")
    entries: list[ConversationEntryOut] = Field(description="Oldest first: the newest 200.")
    request: bool = Field(
        description="They are not my contact and wrote to me: their messages wait for me to "
        "accept or decline them."
    )


class ConversationSummaryOut(BaseModel):
    person: CardOut
    last: ConversationEntryOut = Field(description="The last thing said, by either.")
    unread: int = Field(description="How many of the other's I have not seen.")
    request: bool = Field(description="Their messages wait for me to accept or decline them.")


@router.get(
    "/conversations",
    response_model=list[ConversationSummaryOut],
    responses=errors(401, 429),
)
async def list_conversations(db: DB, user: ApiUser) -> list[ConversationSummaryOut]:
    """The people I have written with through Portal, the latest first (the last 100)."""
    return [
        ConversationSummaryOut(
            person=CardOut.of(summary.card),
            last=ConversationEntryOut.of(summary.last),
            unread=summary.unread,
            request=summary.request,
        )
        for summary in await conversations.conversations(db, user)
    ]


@router.get(
    "/conversations/{number}",
    response_model=ConversationOut,
    responses=errors(401, 404, 422, 429),
)
async def get_conversation(
    number: OtherNumber, request: Request, db: DB, user: ApiUser, limiter: LimiterDep
) -> ConversationOut:
    """Everything the person behind a number and I wrote each other: messages through
    Portal and the answers read back from each messenger, oldest first. What they wrote is
    marked read. A number I never wrote with is looked up as any number is: unknown or
    hidden, it is not found."""
    found = await lookup.counted(
        limiter, user, client_address(request), conversations.conversation(db, user, number)
    )
    return ConversationOut(
        person=CardOut.of(found.card),
        entries=[ConversationEntryOut.of(e) for e in found.entries],
        request=found.request,
    )


@router.post(
    "/conversations/{number}/accept",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 404, 422, 429),
)
async def accept_request(
    number: OtherNumber, request: Request, db: DB, user: ApiUser, limiter: LimiterDep
) -> Response:
    """Accept the message request of the person behind a number: their messages held for
    my answer go out on my messengers now, and their next ones straight on. A number with
    no request for me is not found."""
    await lookup.counted(limiter, user, client_address(request), requests.accept(db, user, number))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/conversations/{number}/decline",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 404, 422, 429),
)
async def decline_request(
    number: OtherNumber, request: Request, db: DB, user: ApiUser, limiter: LimiterDep
) -> Response:
    """Decline the message request of the person behind a number: their messages are never
    sent, and they are not told. A number with no request for me is not found."""
    await lookup.counted(limiter, user, client_address(request), requests.decline(db, user, number))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
