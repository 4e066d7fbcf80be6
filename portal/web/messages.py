"""Writing to a person from their page: the messengers they offer the writer, the message,
and how each copy stands (it follows the copies while they go out)."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from starlette.responses import Response

from portal import csrf, responses
from portal.deps import DB, ImagesDep, LimiterDep, Services, client_address, save_post_media
from portal.domain import lookup
from portal.domain.linking.services import label_of
from portal.domain.messages import conversations, requests, send
from portal.errors import N_, NotFound, PortalError
from portal.storage.models import User
from portal.web.deps import CurrentUser
from portal.web.forms import form_error, redirect
from portal.web.templating import is_htmx, render
from portal.web.toast import toast

router = APIRouter(dependencies=[Depends(csrf.verify)], include_in_schema=False)

Text = Annotated[str, Form()]
Networks = Annotated[list[str], Form()]
Picture = Annotated[UploadFile | None, File()]


@router.get("/messages/new")
async def new_message(
    request: Request,
    db: DB,
    user: CurrentUser,
    limiter: LimiterDep,
    services: Services,
    to: str = "",
) -> Response:
    """The form to write to the person behind ``to``, with the messengers they offer me."""
    context = {"to": to[:100], "values": {}}
    bot = send.has_bot(services)
    try:
        offered = await lookup.counted(
            limiter, user, client_address(request), send.offers(db, user, to[:100], bot=bot)
        )
    except PortalError as exc:
        return form_error(request, "message_new", exc, {**context, "offers": []})
    return render(request, "message_new", {**context, **_view(offered)})


@router.post("/messages")
async def post_message(
    request: Request,
    db: DB,
    user: CurrentUser,
    limiter: LimiterDep,
    services: Services,
    images: ImagesDep,
    to: Text = "",
    text: Text = "",
    mode: Text = "all",
    networks: Networks = [],  # noqa: B006 (FastAPI copies the default)
    back: Text = "",
    picture: Picture = None,
    picture_description: Text = "",
) -> Response:
    """Send it, with the picture chosen; then its page, where each copy's status shows, or
    the conversation it was written in (``back``)."""
    values = {
        "text": text[: send.MAX_TEXT + 100],
        "mode": mode[:10],
        "networks": networks[:40],
        "picture_description": picture_description[: send.MAX_ALT + 1],
    }
    bot = send.has_bot(services)
    try:
        await limiter.hit("message", str(user.id))
        attached = None
        if picture is not None and picture.filename:
            await limiter.hit("post_media", str(user.id))
            settings = request.app.state.settings
            media = await save_post_media(db, user, picture, settings, images)
            attached = send.Attached(media.id, picture_description[: send.MAX_ALT + 1])
        writing = send.send(
            db,
            user,
            to[:100],
            text,
            mode=mode,
            networks=networks[:40],
            apps_too=True,
            bot=bot,
            picture=attached,
        )
        message = await lookup.counted(limiter, user, client_address(request), writing)
        await limiter.hit("message_to", str(message.recipient_id))
    except PortalError as exc:
        context: dict[str, object] = {"to": to[:100], "values": values, "offers": []}
        with contextlib.suppress(PortalError):  # the form again, with what it offered
            context.update(_view(await send.offers(db, user, to[:100], bot=bot)))
        return form_error(request, "message_new", exc, context)
    toast(request, "Your message is on its way.")
    recipient = await db.get(User, message.recipient_id)
    if back == "conversation" and recipient is not None:
        return redirect(request, f"/conversations/{recipient.number}")
    return redirect(request, f"/messages/{message.id}")


@router.get("/messages/{message_id}")
async def message_page(
    request: Request,
    db: DB,
    user: CurrentUser,
    limiter: LimiterDep,
    services: Services,
    message_id: str,
) -> Response:
    """One of my messages: where each copy stands; the page asks again while one goes out."""
    asking_again = is_htmx(request)  # the copies alone, every 2 s
    loaded = await lookup.counted(
        limiter,
        user,
        client_address(request),
        send.load(db, user, message_id[:24], links=not asking_again, bot=send.has_bot(services)),
    )
    held = loaded.message.held  # nothing goes out until they accept
    context = {
        "loaded": loaded,
        "held": held,
        "under_way": not held and any(copy.status in send.UNDER_WAY for copy in loaded.copies),
        "labels": {copy.network: label_of(copy.network) for copy in loaded.copies},
    }
    fragment = "message_copies" if asking_again else None
    return render(request, "message", context, fragment=fragment)


@router.get("/messages/{message_id}/picture")
async def message_picture(
    request: Request, db: DB, user: CurrentUser, limiter: LimiterDep, message_id: str
) -> Response:
    """The picture of a message I wrote or was written."""
    media = await lookup.counted(
        limiter, user, client_address(request), conversations.picture(db, user, message_id[:25])
    )
    return responses.picture(media.data, media.mime_type, max_age=86400)


@router.get("/conversations")
async def conversations_page(request: Request, db: DB, user: CurrentUser) -> Response:
    """The people I have written with, the latest first."""
    return render(
        request, "conversations", {"summaries": await conversations.conversations(db, user)}
    )


@router.get("/conversations/{number}")
async def conversation_page(
    request: Request,
    db: DB,
    user: CurrentUser,
    limiter: LimiterDep,
    services: Services,
    number: str,
) -> Response:
    """What the person behind a number and I wrote each other; asked again (the entries
    alone) when a notification comes."""
    found = await lookup.counted(
        limiter, user, client_address(request), conversations.conversation(db, user, number[:100])
    )
    networks = {network for entry in found.entries for network in entry.networks}
    usable: list[send.Offer] = []
    if not found.request and not is_htmx(request):
        with contextlib.suppress(PortalError):  # they may take no messages from me
            offered = await send.offers(db, user, found.card.number, bot=send.has_bot(services))
            usable = [offer for offer in offered.offers if offer.usable]
    context = {
        "card": found.card,
        "usable": usable,
        "reply_on": ", ".join(label_of(offer.network) for offer in usable),
        "asking": found.request,
        "entries": found.entries,
        "labels": {network: label_of(network) for network in networks},
    }
    return render(request, "conversation", context, fragment="conversation_entries")


@router.post("/conversations/{number}/{action}")
async def answer_request(
    request: Request, db: DB, user: CurrentUser, limiter: LimiterDep, number: str, action: str
) -> Response:
    """Accept or decline the message request of the person behind a number."""
    if action not in ("accept", "decline"):
        raise NotFound(N_("This page does not exist."))
    act = requests.accept if action == "accept" else requests.decline
    await lookup.counted(limiter, user, client_address(request), act(db, user, number[:100]))
    if action == "accept":
        toast(request, "Accepted: their messages are on their way to your messengers.")
        return redirect(request, f"/conversations/{number[:100]}")
    toast(request, "Declined: they are not told.")
    return redirect(request, "/conversations")


def _view(offered: send.Offered) -> dict[str, object]:
    offers = offered.offers
    return {
        "card": offered.card,
        "offers": offers,
        "usable": [offer for offer in offers if offer.usable],
        "labels": {offer.network: label_of(offer.network) for offer in offers},
    }
