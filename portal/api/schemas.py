"""Request and response bodies of the JSON API."""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from starlette.requests import Request

from connectors._mailbox import MailboxSettings, MailServer
from portal import i18n
from portal.domain import linking, reach
from portal.domain import number as numbers
from portal.domain.account import MAX_PASSWORD, MIN_PASSWORD
from portal.domain.linking import mailbox
from portal.domain.privacy import Card
from portal.storage.models import ApiToken, LinkedAccount, User

OtherNumber = Annotated[
    str,
    Path(
        max_length=100,
        description="The other person's portal number; spaces, dashes, dots and '#' are ignored.",
    ),
]
"""A path's portal number of someone else (a contact, a conversation)."""


def _not_a_boolean(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("a number is expected, not true or false")
    return value


WholeNumber = Annotated[int, BeforeValidator(_not_a_boolean)]
"""An integer in JSON, ``3`` or ``3.0``; never ``true`` (which pydantic would read as 1)."""


class Problem(BaseModel):
    """An error, as RFC 9457 problem details with a message a person can read."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    field: str | None = None


_ERRORS: dict[int, str] = {
    400: "The request could not be read.",
    401: "Sign-in or a valid token is required.",
    403: "Not allowed, or the CSRF token is missing.",
    404: "Not found.",
    409: "In conflict with existing data.",
    413: "The request body is too large.",
    422: "The input is not valid; the detail says why.",
    429: "Too many requests; see the Retry-After header.",
    502: "Another network did not answer as expected; try again later.",
    503: "Busy for now; see the Retry-After header.",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the given error statuses (400, 413 and 422 are always there)."""
    wanted = sorted({400, 413, 422, *codes})
    return {
        code: {
            "model": Problem,
            "description": _ERRORS[code],
            "content": {"application/problem+json": {}},
        }
        for code in wanted
    }


class SignupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Constraints given as json_schema_extra document what the domain checks itself, with a
    # clearer message than the schema validator's.
    email: str = Field(
        max_length=254, examples=["ada@example.org"], json_schema_extra={"format": "email"}
    )
    password: str = Field(
        max_length=MAX_PASSWORD,
        description=f"At least {MIN_PASSWORD} characters.",
        json_schema_extra={"minLength": MIN_PASSWORD},
    )
    display_name: str = Field(
        max_length=100, examples=["Ada Lovelace"], json_schema_extra={"minLength": 1}
    )


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=254)
    password: str = Field(max_length=MAX_PASSWORD)
    name: str = Field(
        default="API",
        max_length=100,
        description="What the token is for.",
        json_schema_extra={"minLength": 1},
    )
    # Strict: JSON's true, "10" or 10.0 are not a number of days.
    expires_in_days: int | None = Field(default=None, ge=1, le=3650, strict=True)


Language = Literal["en", "it", "fr"]


class ProfilePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(
        default=None, max_length=100, json_schema_extra={"minLength": 1}
    )
    bio: str | None = Field(default=None, max_length=1000)
    language: Language | None = Field(
        default=None,
        description="The language of my pages, emails and notifications; null follows the "
        "browser's (Accept-Language). Left out, it stays as it is.",
    )


Audience = Literal["public", "members", "contacts", "private"]


class PrivacyPatch(BaseModel):
    """Who sees each field of my profile, and how I can be found; left-out ones stay."""

    model_config = ConfigDict(extra="forbid")

    name_audience: Audience | None = None
    avatar_audience: Audience | None = None
    bio_audience: Audience | None = None
    phone_audience: Audience | None = None
    find_by_number: bool | None = Field(default=None, strict=True)
    find_by_phone: bool | None = Field(default=None, strict=True)
    find_by_name: bool | None = Field(default=None, strict=True)


class PrivacyOut(BaseModel):
    name_audience: str = Field(examples=["public"])
    avatar_audience: str = Field(examples=["public"])
    bio_audience: str = Field(examples=["members"])
    phone_audience: str = Field(examples=["private"])
    find_by_number: bool
    find_by_phone: bool
    find_by_name: bool

    @classmethod
    def of(cls, user: User) -> PrivacyOut:
        return cls(
            name_audience=user.name_audience,
            avatar_audience=user.avatar_audience,
            bio_audience=user.bio_audience,
            phone_audience=user.phone_audience,
            find_by_number=user.find_by_number,
            find_by_phone=user.find_by_phone,
            find_by_name=user.find_by_name,
        )


class ReachChannelOut(BaseModel):
    account_id: int
    network: str = Field(examples=["matrix"])
    label: str = Field(examples=["Matrix"])
    handle: str = Field(examples=["@ada:matrix.org"])
    on: bool = Field(description="Whether I may be messaged here through Portal.")
    rank: int | None = Field(
        description="Its place in the order I want to be messaged in (1 first); null when off.",
        examples=[1],
    )

    @classmethod
    def of(cls, channel: reach.Channel) -> ReachChannelOut:
        account = channel.account
        shown = linking.describe_handle(account.network, account.handle)
        return cls(
            account_id=account.id,
            network=account.network,
            label=shown["label"],
            handle=shown["handle"],
            on=channel.on,
            rank=channel.rank,
        )


class ReachOut(BaseModel):
    messages_from: Literal["contacts", "members", "nobody"] = Field(
        description="Who may message me through Portal: my mutual contacts, any signed-in "
        "member (their first message is a request), or nobody."
    )
    channels: list[ReachChannelOut] = Field(
        description="My accounts on networks where people write to each other: those on in my "
        "order, then those off."
    )

    @classmethod
    def of(cls, user: User, channels: Sequence[reach.Channel]) -> ReachOut:
        return cls(
            messages_from=user.messages_from,
            channels=[ReachChannelOut.of(channel) for channel in channels],
        )


class ReachPut(BaseModel):
    """Who may message me, and the messengers to be messaged on, first first; left-out fields
    stay, and my messengers left out of ``channels`` are off."""

    model_config = ConfigDict(extra="forbid")

    messages_from: Literal["contacts", "members", "nobody"] | None = None
    channels: list[WholeNumber] | None = Field(
        default=None,
        max_length=100,
        description="Ids of my messenger accounts, in the order I want to be messaged on.",
        examples=[[12, 7]],
    )


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(max_length=MAX_PASSWORD)
    new_password: str = Field(
        max_length=MAX_PASSWORD,
        description=f"At least {MIN_PASSWORD} characters.",
        json_schema_extra={"minLength": MIN_PASSWORD},
    )
    revoke_tokens: bool = Field(
        default=False,
        strict=True,
        description="Also revoke every personal access token of mine, the one making this "
        "request included.",
    )


class PasswordConfirm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(max_length=MAX_PASSWORD)


_BASE_URL: ContextVar[str] = ContextVar("base_url", default="")


async def absolute_links(request: Request) -> None:
    """Make the addresses in this request's answers absolute, from the portal's base URL."""
    _BASE_URL.set(request.app.state.settings.base_url.rstrip("/"))


def _avatar_url(number: str, etag: str | None) -> str | None:
    return f"{_BASE_URL.get()}/n/{number}/avatar?v={etag}" if etag else None


class MeOut(BaseModel):
    number: str = Field(examples=["48291375"])
    display_number: str = Field(examples=["482 913 75"], description="Grouped for reading aloud.")
    email: str
    email_confirmed: bool = Field(
        description="Whether the link mailed to the address was opened; until then nobody "
        "finds the account by number, phone or name."
    )
    display_name: str
    bio: str
    avatar_url: str | None
    created_at: datetime
    language: Language | None = Field(
        description="The language I chose for my pages, emails and notifications; null "
        "follows the browser's."
    )
    privacy: PrivacyOut

    @classmethod
    def of(cls, user: User) -> MeOut:
        return cls(
            number=user.number,
            display_number=numbers.display(user.number),
            email=user.email,
            email_confirmed=user.email_confirmed_at is not None,
            display_name=user.display_name,
            bio=user.bio,
            avatar_url=_avatar_url(user.number, user.avatar_etag),
            created_at=user.created_at,
            language=i18n.chosen(user.language),
            privacy=PrivacyOut.of(user),
        )


class VisibleAccountOut(BaseModel):
    network: str = Field(examples=["mastodon"])
    label: str = Field(examples=["Mastodon"])
    handle: str = Field(examples=["@ada@mastodon.social"], description="As people write it.")
    url: str | None = Field(description="The account's web page, where the network has one.")
    app_url: str | None = Field(
        description="A link that opens the account in the network's app (or its web page)."
    )
    verified: bool = Field(description="Ownership was proven (OAuth, signing in, a code…).")
    verified_by: str | None = Field(
        examples=["oauth"], description="How: oauth, password, widget, code or link."
    )


class CardOut(BaseModel):
    """What the owner of a number lets this viewer see; hidden fields are null."""

    number: str = Field(examples=["48291375"])
    display_number: str = Field(examples=["482 913 75"])
    relation: str = Field(
        examples=["member"],
        description="What the viewer is to the owner: anonymous, member, contact or owner.",
    )
    display_name: str | None
    bio: str | None
    avatar_url: str | None
    phone: str | None = Field(description="E.164, when the owner shows a verified phone.")
    accounts: list[VisibleAccountOut]

    @classmethod
    def of(cls, card: Card) -> CardOut:
        return cls(
            number=card.number,
            display_number=card.display_number,
            relation=str(card.apparent_relation),
            display_name=card.display_name,
            bio=card.bio,
            avatar_url=_avatar_url(card.number, card.avatar_etag),
            phone=card.phone,
            accounts=[
                VisibleAccountOut(
                    network=a.network,
                    label=a.label,
                    handle=a.handle,
                    url=a.url,
                    app_url=a.app_url,
                    verified=a.verified,
                    verified_by=a.verified_by,
                )
                for a in card.accounts
            ],
        )


class TokenOut(BaseModel):
    id: int
    name: str
    hint: str = Field(description="The last characters of the token, to recognise it.")
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken) -> TokenOut:
        return cls(
            id=token.id,
            name=token.name,
            hint=token.hint,
            created_at=token.created_at,
            last_used_at=token.last_used_at,
            expires_at=token.expires_at,
        )


class NewTokenOut(TokenOut):
    token: str = Field(description="The secret. It is shown only this once.")


class Health(BaseModel):
    status: str
    detail: str | None = None


class NetworkOut(BaseModel):
    name: str = Field(examples=["mastodon"])
    label: str = Field(examples=["Mastodon"])
    auth: str = Field(
        description="How an account is proven: oauth2, oidc, atproto, widget, password, code, "
        "link (a rel=me link back) or none (shown unverified).",
        examples=["oauth2"],
    )
    capabilities: list[str] = Field(examples=[["verify", "read", "publish"]])
    handle_label: str
    handle_example: str
    link_only: bool
    servers: list[str] = Field(description="Providers to choose from (OpenID Connect).")
    available: bool = Field(description="False when this portal lacks what proving needs.")


class LinkedAccountOut(BaseModel):
    id: int
    network: str
    label: str
    handle: str = Field(description="As the network writes it, e.g. @ada@mastodon.social.")
    server: str
    display_name: str
    status: str = Field(description="unverified, verified or needs_reconnect")
    verified_by: str | None = Field(
        description="oauth, password, widget, code or link", default=None
    )
    verified_at: datetime | None = None
    url: str | None = Field(description="The account's public page.", default=None)
    app_url: str | None = Field(description="A link that opens the network's app.", default=None)
    position: int
    problem: str = Field(description="Why the account needs attention, if it does.")
    audience: str = Field(description="Who sees it: public, members, contacts or private.")
    mailbox: bool = Field(
        default=False,
        description="An email address whose own mailbox is connected (IMAP and SMTP), so "
        "messages can go out from it and answers be read in it.",
    )

    @classmethod
    def of(cls, account: LinkedAccount, shown: dict[str, Any]) -> LinkedAccountOut:
        return cls(
            id=account.id,
            network=account.network,
            label=shown["label"],
            handle=shown["handle"],
            server=account.server,
            display_name=account.display_name,
            status=account.status,
            verified_by=account.verified_by,
            verified_at=account.verified_at,
            url=shown["url"],
            app_url=shown["app"],
            position=account.position,
            audience=account.audience,
            problem=account.problem,
            mailbox=mailbox.connected(account),
        )


class MailServerIO(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field(min_length=1, max_length=253, examples=["imap.example.org"])
    port: int = Field(ge=1, le=65535, examples=[993])
    security: Literal["tls", "starttls", "none"] = Field(
        description="tls: encrypted from the first byte (IMAP 993, SMTP 465); starttls: "
        "encrypted after the greeting (IMAP 143, SMTP 587); none: only for a server on the "
        "portal's own machine, where the portal allows those."
    )

    def settings(self) -> MailServer:
        return MailServer(self.host, self.port, self.security)

    @classmethod
    def of(cls, server: MailServer) -> MailServerIO:
        return cls(host=server.host, port=server.port, security=server.security)


class MailboxIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    imap: MailServerIO = Field(description="Where the answers are read.")
    smtp: MailServerIO = Field(description="Where messages are submitted.")
    username: str = Field(min_length=1, max_length=320, description="The login name of both.")
    password: str = Field(
        default="",
        max_length=1024,
        description="Checked against both servers, then kept encrypted and never shown; "
        "empty keeps the saved one.",
    )

    def settings(self) -> MailboxSettings:
        return MailboxSettings(self.imap.settings(), self.smtp.settings(), self.username)


class MailboxOut(BaseModel):
    connected: bool = Field(description="Both logins were checked and are kept.")
    found_by: Literal["saved", "autoconfig", "guess"] = Field(
        description="saved: the connected settings; autoconfig: published by the address's "
        "domain; guess: imap. and smtp. of the domain, to check."
    )
    imap: MailServerIO
    smtp: MailServerIO
    username: str

    @classmethod
    def of(cls, offer: mailbox.Offer) -> MailboxOut:
        return cls(
            connected=offer.found_by == "saved",
            found_by=offer.found_by,
            imap=MailServerIO.of(offer.settings.imap),
            smtp=MailServerIO.of(offer.settings.smtp),
            username=offer.settings.username,
        )


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    network: str = Field(max_length=40, examples=["github"])
    handle: str = Field(max_length=1000, examples=["octocat"])
    password: str | None = Field(
        default=None,
        max_length=1024,
        description="For networks proven by signing in (Matrix, XMPP, a Bluesky app password). "
        "Without it the account is added unverified.",
    )


class LinkPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    position: int | None = Field(
        default=None, ge=0, le=1000, description="The account's new place in the list."
    )
    audience: Audience | None = Field(
        default=None, description="Who sees the account: public, members, contacts, private."
    )
    handle: str | None = Field(
        default=None,
        max_length=1000,
        description="A corrected handle, checked as when adding. Only an unverified account's "
        "handle can be edited: a verified one keeps what its network gave (409).",
        examples=["@ada@mastodon.social"],
    )


class AuthorizeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    server: str = Field(
        default="",
        max_length=260,
        description="The instance (Mastodon), the provider's name (OpenID Connect) or the "
        "account's handle or DID (Bluesky).",
        examples=["mastodon.social"],
    )


class AuthorizeOut(BaseModel):
    url: str = Field(
        description="Open it in a browser signed in to this portal; the account is linked when "
        "the network sends the person back."
    )


class EmailCodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    handle: str = Field(max_length=1000, examples=["ada@example.org"])


class CodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(max_length=20, examples=["123456"])


class Accepted(BaseModel):
    detail: str = Field(examples=["Check your email: we sent you a link."])


class EmailConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(max_length=100, description="The token of the link in the email.")


class PasswordResetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(
        max_length=254, examples=["ada@example.org"], json_schema_extra={"format": "email"}
    )


class PasswordResetConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(max_length=100, description="The token of the link in the email.")
    new_password: str = Field(
        max_length=MAX_PASSWORD,
        description=f"At least {MIN_PASSWORD} characters.",
        json_schema_extra={"minLength": MIN_PASSWORD},
    )
    revoke_tokens: bool = Field(
        default=True,
        description="Also revoke every personal access token. Browser sessions always end.",
    )


class EmailChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    new_email: str = Field(
        max_length=254, examples=["ada@example.net"], json_schema_extra={"format": "email"}
    )
    password: str = Field(max_length=MAX_PASSWORD, description="My current password.")
