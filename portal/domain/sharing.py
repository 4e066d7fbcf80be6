"""Sharing a number: its link, its QR code, its vCard and the contact button for websites.

Each is built from the card the viewer may see (:mod:`portal.domain.privacy`), and served only
where that viewer could look the number up: a number nobody has and a hidden one answer the
same :class:`~portal.errors.NotFound`. The contact button is always what an anonymous viewer
sees, whoever loads it. The owner previews the vCard as anyone, a member or a contact would
get it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from portal.domain import linking, lookup, privacy, qr, vcard
from portal.domain.privacy import Card, Relation
from portal.errors import InvalidInput, NotFound
from portal.ratelimit import RateLimiter
from portal.storage.models import User

PREVIEWS: dict[str, Relation] = {
    "anyone": Relation.ANONYMOUS,
    "member": Relation.MEMBER,
    "contact": Relation.CONTACT,
}
"""Whom the owner can preview their card as, by the name the share page uses."""

FRAME_SANDBOX = " ".join(
    [
        "allow-popups",
        "allow-popups-to-escape-sandbox",
        "allow-top-navigation-by-user-activation",
        "allow-top-navigation-to-custom-protocols",
    ]
)
"""What the contact button's frame may do: open its links, nothing else (no scripts)."""

_FRAME_TOP = 76
"""Pixels of the frame above and below its buttons: the heading, the portal's link."""
_FRAME_ROW = 48
_FRAME_MAX_ROWS = 12


@dataclass(frozen=True)
class File:
    data: bytes
    content_type: str
    etag: str
    filename: str | None = None


@dataclass(frozen=True)
class Button:
    """One way to reach the person, as the contact button shows it."""

    network: str
    label: str
    handle: str
    href: str | None
    writes: bool
    """A messenger (or email): one writes to it rather than follows it."""

    @property
    def in_app(self) -> bool:
        """The link opens an app (``tg:``, ``viber:``, ``mailto:``…) rather than a web page."""
        return bool(self.href) and not (self.href or "").startswith(("https://", "http://"))


def page_url(base_url: str, number: str) -> str:
    """The address of a number's page on this portal: what its QR code holds."""
    return f"{base_url.rstrip('/')}/n/{number}"


def etag(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return f'"{digest.hexdigest()[:32]}"'


# -- QR codes and vCards ------------------------------------------------------------------


def qr_file(card: Card, kind: qr.Kind, chosen: qr.Style, *, base_url: str) -> File:
    data = qr.draw(page_url(base_url, card.number), kind, chosen, title=card.display_number)
    return File(data=data, content_type=qr.CONTENT_TYPES[kind], etag=etag(data))


async def qr_code(
    session: AsyncSession,
    limiter: RateLimiter,
    viewer: User | None,
    number: str,
    kind: qr.Kind,
    chosen: qr.Style,
    *,
    base_url: str,
    client: str,
) -> File:
    """The QR code of a number's page, for a viewer who may look the number up (a lookup,
    counted as such)."""
    card = await lookup.look_up(session, limiter, viewer, number, client=client)
    return qr_file(card, kind, chosen, base_url=base_url)


def vcard_file(
    card: Card, version: vcard.Version, *, base_url: str, now: datetime | None = None
) -> File:
    made = vcard.render(
        card,
        version=version,
        page_url=page_url(base_url, card.number),
        now=now or datetime.now(UTC),
    )
    # The ETag ignores REV, which says when this copy was written.
    tag = etag(vcard.without_revision(made.text).encode())
    return File(
        data=made.data,
        content_type="text/vcard; charset=utf-8",
        etag=tag,
        filename=made.filename,
    )


async def vcard_for(
    session: AsyncSession,
    limiter: RateLimiter,
    viewer: User | None,
    number: str,
    version: vcard.Version,
    *,
    base_url: str,
    client: str,
) -> File:
    """The vCard of a number as ``viewer`` may see it (a lookup, counted as such)."""
    card = await lookup.look_up(session, limiter, viewer, number, client=client)
    return vcard_file(card, version, base_url=base_url)


def check_version(text: str) -> vcard.Version:
    for version in vcard.VERSIONS:
        if text.strip() == version:
            return version
    raise InvalidInput(
        "Choose the vCard version: 4.0, or 3.0 for older address books.", field="version"
    )


# -- the owner's preview ------------------------------------------------------------------


def preview_relation(text: str) -> Relation:
    relation = PREVIEWS.get(text.strip().lower())
    if relation is None:
        raise InvalidInput(
            "Preview your card as one of: %(previews)s.", field="as", previews=", ".join(PREVIEWS)
        )
    return relation


async def preview(session: AsyncSession, owner: User, relation: Relation) -> Card:
    """The card ``owner`` shows a viewer in ``relation``."""
    accounts = await linking.list_accounts(session, owner)
    return privacy.card_of(owner, accounts, relation)


async def shown_to_anyone(session: AsyncSession, owner: User) -> bool:
    """Whether someone not signed in can look the owner's number up (and so use the QR code,
    the vCard link and the contact button)."""
    try:
        await privacy.card_for_number(session, None, owner.number)
    except NotFound:
        return False
    return True


# -- the contact button -------------------------------------------------------------------


async def contact_card(
    session: AsyncSession, limiter: RateLimiter, number: str, *, client: str
) -> Card:
    """What the contact button of a number shows: the card of an anonymous viewer."""
    return await lookup.look_up(session, limiter, None, number, client=client)


def buttons(card: Card) -> list[Button]:
    """The card's accounts as buttons: a web link where there is one, else the app's link."""
    return [
        Button(
            network=account.network,
            label=account.label,
            handle=account.handle,
            href=account.url or account.app_url,
            writes=account.network in vcard.MESSENGERS or account.network == "email",
        )
        for account in card.accounts
    ]


def frame_height(card: Card) -> int:
    """The height in pixels that shows the button's frame without scrolling."""
    rows = min(len(card.accounts), _FRAME_MAX_ROWS)
    return _FRAME_TOP + _FRAME_ROW * max(rows, 1)


def embed_script(*, frame_url: str, title: str, height: int) -> str:
    """The script a website includes: it puts the button's frame right after itself, and
    touches nothing else of the page."""
    values = json.dumps(
        {"src": frame_url, "title": title, "height": f"{height}px", "sandbox": FRAME_SANDBOX}
    ).replace("<", "\\u003c")
    return (
        "/* Portal contact button: inserts its frame where this script is. */\n"
        "(function () {\n"
        '  "use strict";\n'
        "  var here = document.currentScript;\n"
        "  if (!here || !here.parentNode) { return; }\n"
        f"  var button = {values};\n"
        '  var frame = document.createElement("iframe");\n'
        "  frame.src = button.src;\n"
        "  frame.title = button.title;\n"
        '  frame.setAttribute("sandbox", button.sandbox);\n'
        '  frame.setAttribute("loading", "lazy");\n'
        '  frame.style.border = "0";\n'
        '  frame.style.width = "100%";\n'
        '  frame.style.maxWidth = "22rem";\n'
        "  frame.style.height = button.height;\n"
        "  here.parentNode.insertBefore(frame, here.nextSibling);\n"
        "})();\n"
    )
