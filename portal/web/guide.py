"""The guided start after signing up (``/me/start``): link the first accounts, choose who
sees what, share the number. Each step is a plain page with links and forms."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from markupsafe import Markup
from starlette.responses import Response

from portal import csrf
from portal.deps import DB, Services, SettingsDep
from portal.domain import guide, qr, sharing
from portal.domain.privacy import Relation
from portal.web.deps import CurrentUser
from portal.web.forms import redirect
from portal.web.templating import render

router = APIRouter(prefix=guide.START, dependencies=[Depends(csrf.verify)], include_in_schema=False)

AFTER_PRIVACY = f"{guide.START}?step=3"
"""Where the privacy form of the second step goes once saved (``/me/privacy``'s ``next``)."""


@router.get("")
async def start_page(
    request: Request,
    db: DB,
    user: CurrentUser,
    settings: SettingsDep,
    services: Services,
    step: str = "1",
) -> Response:
    """One step of the guided start."""
    number = guide.step(step[:2])
    context: dict[str, Any] = {"step": number, "values": {}}
    if number == 1:
        context["first"] = await guide.first_accounts(db, user, services)
    elif number == 2:
        context["privacy_then"] = AFTER_PRIVACY
    else:
        base = settings.base_url.rstrip("/")
        card = await sharing.preview(db, user, Relation.ANONYMOUS)
        drawn = sharing.qr_file(card, "svg", qr.style(scale=6), base_url=base).data.decode()
        context["card"] = card
        context["page_url"] = sharing.page_url(base, user.number)
        context["qr_svg"] = Markup(drawn)  # noqa: S704 - drawn by segno from our own address
    return render(request, "guide", context)


@router.post("/done")
async def done(request: Request, db: DB, user: CurrentUser) -> Response:
    """Finish or skip the guided start: it is not shown again, and my page opens."""
    await guide.finish(db, user)
    return redirect(request, "/me")
