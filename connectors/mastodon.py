"""Mastodon: an account is ``user@instance``; linking is OAuth 2 with the person's own server.

Why it looks like this (the API docs are the truth: https://docs.joinmastodon.org/):

- Every instance is its own authorization server, so Portal registers itself as a client of
  each instance the first time someone links an account there (``POST /api/v1/apps``,
  https://docs.joinmastodon.org/methods/apps/#create), with the one exact redirect URI.
- The endpoints come from RFC 8414 metadata, ``/.well-known/oauth-authorization-server``,
  served since Mastodon 4.3; a 404 means an older server, which has the fixed
  ``/oauth/authorize``, ``/oauth/token`` and ``/oauth/revoke``
  (https://docs.joinmastodon.org/methods/oauth/). Endpoints on another host are refused.
- Scopes (https://docs.joinmastodon.org/api/oauth-scopes/) are the least for what this
  connector does: ``profile`` (only ``verify_credentials``, Mastodon 4.3 and later),
  ``read:statuses`` for the account's posts, ``write:statuses`` and ``write:media`` to
  publish. An instance older than 4.3 does not know ``profile`` and refuses the registration.
- A handle's server part is the instance that issued the token, never a domain the instance
  claims for itself: a server could otherwise name someone else's domain.
- A status is limited to ``configuration.statuses.max_characters`` of the instance
  (https://docs.joinmastodon.org/entities/Instance/), 500 by default. Mastodon counts the
  content warning plus the text in grapheme clusters, every link as 23 characters and a
  mention ``@user@domain`` as ``@user``. There is no thread on publish, so a longer post is
  refused with its count rather than cut.
- Posts are read from ``GET /api/v1/accounts/:id/statuses`` without boosts (a boost is
  someone else's post) and only when public or unlisted: the owner's token also reads
  followers-only posts and private mentions, which must not leave Mastodon. Pages follow
  the ``Link`` header's ``max_id`` (https://docs.joinmastodon.org/api/guidelines/#pagination).
- Publishing sends an ``Idempotency-Key`` (https://docs.joinmastodon.org/methods/statuses/),
  so a retried request makes one status. Pictures go to ``POST /api/v2/media``, which may
  answer 202 and finish in the background; ``GET /api/v1/media/:id`` says when it is done
  (https://docs.joinmastodon.org/methods/media/).
- Errors: 401 is a revoked token; 403, 404 and 422 are refusals; 429 carries
  ``X-RateLimit-Reset`` (https://docs.joinmastodon.org/api/rate-limits/); 5xx, timeouts and
  unreachable servers may pass. Redirects are never followed.

``Credentials.extra`` of a linked account holds ``server`` (the instance, ``host`` or, in
development, ``localhost:port``). Exchanging codes, refreshing and revoking tokens are the
portal's OAuth flow, the same for every OAuth network.
"""

from __future__ import annotations

import asyncio
import mimetypes
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import SplitResult, parse_qs, quote, urlsplit

import httpx

from connectors import base
from connectors._http import http_date, parse_json, read_capped
from connectors._mastodon_text import (
    CONTROL,
    DEFAULT_MAX_CHARACTERS,
    DEFAULT_MAX_MEDIA,
    Limits,
    count_status,
    countable_text,
    html_to_text,
    limits_of,
    max_characters,
)
from connectors.base import (
    Actor,
    AuthRevoked,
    Draft,
    InvalidHandle,
    Media,
    OAuthClient,
    OAuthServer,
    Page,
    PermanentError,
    Post,
    Published,
    RateLimited,
    Retriable,
)

__all__ = [
    "Mastodon",
    "actor_from_json",
    "count_status",
    "countable_text",
    "html_to_text",
    "max_characters",
    "media_from_json",
    "post_from_json",
    "retry_after",
]

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
USER_AGENT = "Portal (self-hosted identity portal)"
MAX_ANSWER_BYTES = 4 * 1024 * 1024
MAX_MEDIA_BYTES = 16 * 1024 * 1024
"""The largest picture Portal fetches to attach (Mastodon's default image limit)."""
MAX_PAGE = 40
"""The most statuses Mastodon returns in one page."""
SHOWN_VISIBILITIES = ("public", "unlisted")
"""What anyone sees on the account's Mastodon profile; followers-only posts and private
mentions, which the owner's token also reads, are never taken."""

_USERNAME = re.compile(r"[A-Za-z0-9_]{1,30}", re.ASCII)
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)
_UNEXPECTED = "did not answer like a Mastodon server"


# -- JSON ↔ Portal's types -------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


def _web_url(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) > 2000:
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return value if parts.scheme in ("http", "https") and parts.hostname else None


def _timestamp(value: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise PermanentError(f"The server {_UNEXPECTED}: a post has no valid date.")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _handle_of(acct: str, instance: str) -> str:
    user, _, domain = acct.lstrip("@").partition("@")
    raw = f"{user}@{domain or instance}"
    try:
        return Mastodon.normalize_handle(raw)
    except InvalidHandle:
        return raw.lower()


def actor_from_json(data: Any, instance: str) -> Actor:
    """An Account entity as an :class:`Actor`; a local ``acct`` gets ``instance`` added.

    The bio is the plain text the person wrote (``source.note`` of a CredentialAccount) or
    else a plain-text rendering of the ``note`` HTML.
    """
    if not isinstance(data, Mapping):
        raise PermanentError(f"The server {_UNEXPECTED}: no account.")
    account_id = _text(data.get("id"))
    acct = _text(data.get("acct")) or _text(data.get("username"))
    if not account_id or not acct:
        raise PermanentError(f"The server {_UNEXPECTED}: the account has no id or name.")
    source = data.get("source")
    plain = source.get("note") if isinstance(source, Mapping) else None
    if isinstance(plain, str):
        bio = CONTROL.sub("", plain).strip()
    else:
        bio = html_to_text(_text(data.get("note")))
    avatar = _web_url(data.get("avatar"))
    if avatar and urlsplit(avatar).path.endswith("/missing.png"):
        avatar = None  # Mastodon's placeholder for "no picture"
    return Actor(
        network=Mastodon.NAME,
        id=account_id,
        handle=_handle_of(acct, instance),
        display_name=CONTROL.sub("", _text(data.get("display_name"))).strip(),
        url=_web_url(data.get("url")),
        avatar_url=avatar,
        bio=bio,
    )


def media_from_json(data: Any) -> Media | None:
    """A MediaAttachment as :class:`Media`, or ``None`` while it has no address yet."""
    if not isinstance(data, Mapping):
        return None
    url = _web_url(data.get("url")) or _web_url(data.get("remote_url"))
    url = url or _web_url(data.get("preview_url"))
    if url is None:
        return None
    mime_type = mimetypes.guess_type(urlsplit(url).path)[0] or ""
    return Media(url=url, mime_type=mime_type, description=_text(data.get("description")))


def post_from_json(data: Any, instance: str) -> Post:
    """A Status as a :class:`Post`: the HTML as given, and a plain-text rendering of it.

    :class:`Post` has no field for a content warning, so the plain text starts with it.
    """
    if not isinstance(data, Mapping) or not _text(data.get("id")):
        raise PermanentError(f"The server {_UNEXPECTED}: a post has no id.")
    html = _text(data.get("content"))
    text = html_to_text(html)
    warning = CONTROL.sub("", _text(data.get("spoiler_text"))).strip()
    if warning:
        text = f"CW: {warning}\n\n{text}".strip()
    attachments = data.get("media_attachments")
    media = [media_from_json(item) for item in attachments] if isinstance(attachments, list) else []
    return Post(
        network=Mastodon.NAME,
        id=_text(data["id"]),
        author=actor_from_json(data.get("account"), instance),
        published=_timestamp(data.get("created_at")),
        text=text,
        html=html,
        url=_web_url(data.get("url")) or _web_url(data.get("uri")),
        media=tuple(item for item in media if item is not None),
        reply_to=_text(data.get("in_reply_to_id")) or None,
    )


# -- HTTP ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    headers: httpx.Headers
    body: bytes
    links: dict[str | None, dict[str, str]]

    def json(self, where: str) -> Any:
        try:
            return parse_json(self.body)
        except ValueError as error:
            raise PermanentError(f"{where} {_UNEXPECTED}.") from error


def retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float:
    """Seconds to wait after a 429: ``Retry-After``, else ``X-RateLimit-Reset`` (ISO 8601).

    The reset time is measured from the answer's ``Date`` when it has one, so a clock that
    differs from the server's does not matter; the wait is between 1 second and 1 day.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    wait: float | None = None
    given = lowered.get("retry-after", "").strip()
    if given.isascii() and given.isdigit():
        wait = float(given)
    elif given:
        wait = _seconds_until(http_date(given), lowered, now)
    if wait is None:
        try:
            reset = datetime.fromisoformat(lowered.get("x-ratelimit-reset", "").strip())
        except ValueError:
            reset = None
        wait = _seconds_until(reset, lowered, now)
    return min(max(wait if wait is not None else 60.0, 1.0), 86400.0)


def _seconds_until(
    moment: datetime | None, headers: Mapping[str, str], now: datetime | None
) -> float | None:
    if moment is None:
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    reference = http_date(headers.get("date", "")) or now or datetime.now(UTC)
    reference = reference if reference.tzinfo else reference.replace(tzinfo=UTC)
    return (moment - reference).total_seconds()


def _server_error(answer: _Answer) -> str:
    """The server's own words for a refusal (``error``, ``error_description``), made safe."""
    try:
        payload = parse_json(answer.body)
    except ValueError:
        payload = None
    words = ""
    if isinstance(payload, Mapping):
        words = _text(payload.get("error_description")) or _text(payload.get("error"))
    return CONTROL.sub("", words).strip()[:300]


def _check(answer: _Answer, where: str) -> _Answer:
    status = answer.status
    if 200 <= status < 300:
        return answer
    said = _server_error(answer)
    detail = f": {said}" if said else f" ({status})"
    if 300 <= status < 400:
        target = urlsplit(answer.headers.get("location", "")).netloc or "another address"
        raise PermanentError(
            f"{where} sends Portal on to {target[:100]}, which Portal does not follow: "
            "if that is the Mastodon server, give its name instead."
        )
    if status == 401:
        raise AuthRevoked(f"{where} no longer accepts Portal's access{detail}")
    if status == 429:
        raise RateLimited(f"{where} asks Portal to slow down", retry_after(answer.headers))
    if status >= 500:
        raise Retriable(f"{where} answered {status}")
    if status == 404:
        raise PermanentError(f"{where} does not have this{detail}")
    raise PermanentError(f"{where} refused it{detail}")


def _user_agent(http: httpx.AsyncClient) -> dict[str, str]:
    current = http.headers.get("user-agent", "")
    return {} if current and not current.startswith("python-httpx") else {"user-agent": USER_AGENT}


async def _call(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    where: str,
    token: str = "",
    headers: Mapping[str, str] | None = None,
    limit: int = MAX_ANSWER_BYTES,
    **kwargs: Any,
) -> _Answer:
    """One request: a timeout, a User-Agent, no redirects, at most ``limit`` bytes read."""
    sent = {"accept": "application/json", **_user_agent(http), **(headers or {})}
    if token:
        sent["authorization"] = f"Bearer {token}"
    try:
        async with http.stream(
            method, url, headers=sent, timeout=TIMEOUT, follow_redirects=False, **kwargs
        ) as response:
            body = await read_capped(response, limit)
    except httpx.InvalidURL as error:
        raise PermanentError(f"Portal cannot use this address on {where}.") from error
    except httpx.TimeoutException as error:
        raise Retriable(f"{where} did not answer in time") from error
    except httpx.HTTPError as error:
        raise Retriable(f"{where} could not be reached") from error
    if body is None:
        raise PermanentError(f"{where} sent an answer larger than Portal accepts.")
    return _Answer(response.status_code, response.headers, body, response.links)


def _instance(raw: str) -> str:
    """A server as Portal keeps it: a host name, or ``localhost:port`` in development."""
    if not isinstance(raw, str):
        raise InvalidHandle("Give the server's name, like mastodon.social.")
    if "[" in raw:
        raise InvalidHandle("Give the server's name, not its IP address.")
    return base.normalize_server(raw, allow_loopback=Mastodon.allow_loopback)


def _same_server(url: Any, instance: str) -> str:
    """``url`` when it is an address on ``instance`` itself, else :class:`PermanentError`."""
    expected = urlsplit(base.server_url(instance))
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
    except ValueError:
        parts = None
    if parts is None or (parts.scheme, parts.netloc.lower()) != (expected.scheme, instance):
        raise PermanentError(f"{instance} names authorization addresses on another server.")
    return str(url)


def _id(value: str, what: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise PermanentError(f"This {what} is not one Mastodon gave.")
    return value


# -- the connector ---------------------------------------------------------------------------


class Mastodon(base.Connector):
    NAME = "mastodon"
    LABEL = "Mastodon"
    AUTH = "oauth2"
    SCOPES = ("profile", "read:statuses", "write:statuses", "write:media")
    HANDLE_LABEL = "Mastodon handle"
    HANDLE_EXAMPLE = "@ada@mastodon.social"
    CAN_VERIFY = True
    CAN_READ = True
    CAN_PUBLISH = True
    CAN_UPLOAD_MEDIA = True
    MAX_TEXT_LENGTH = DEFAULT_MAX_CHARACTERS
    TEXT_COUNTING = "graphemes"

    allow_loopback: ClassVar[bool] = False
    """Development only: accept ``localhost:port`` servers, reached over http."""
    media_poll_interval: ClassVar[float] = 1.0
    media_poll_timeout: ClassVar[float] = 120.0
    """How long to wait for an uploaded video or large picture to be processed."""

    def __init__(self, handle: str, credentials: base.Credentials, http: httpx.AsyncClient) -> None:
        super().__init__(handle, credentials, http)
        self._account_id: str | None = None
        self._limits: Limits | None = None

    # -- handles --

    @classmethod
    def normalize_handle(cls, raw: str) -> str:
        text = base.clean(raw, max_length=300)
        if "/" in text:
            user, domain = _handle_in_url(text)
        else:
            text = text.removeprefix("acct:").removeprefix("@")
            if text.count("@") != 1:
                raise InvalidHandle(
                    "A Mastodon handle has a name and a server, like @ada@mastodon.social."
                )
            user, domain = text.split("@")
        if not _USERNAME.fullmatch(user):
            raise InvalidHandle("A Mastodon name has 1 to 30 letters (a–z), digits or underscores.")
        return f"{user.lower()}@{_instance(domain)}"

    @classmethod
    def profile_url(cls, handle: str) -> str:
        user, _, instance = handle.partition("@")
        return f"{base.server_url(instance)}/@{quote(user, safe='')}"

    @classmethod
    def display_handle(cls, handle: str) -> str:
        return f"@{handle}"

    @classmethod
    def count_text(cls, text: str) -> int:
        return count_status(text)

    # -- OAuth --

    @classmethod
    async def oauth_server(cls, server: str, http: httpx.AsyncClient) -> OAuthServer:
        instance = _instance(server)
        root = base.server_url(instance)
        answer = await _call(
            http, "GET", f"{root}/.well-known/oauth-authorization-server", where=instance
        )
        if answer.status == 404:  # Mastodon before 4.3: the fixed paths
            return OAuthServer(
                issuer=root + "/",
                authorization_endpoint=f"{root}/oauth/authorize",
                token_endpoint=f"{root}/oauth/token",
                revocation_endpoint=f"{root}/oauth/revoke",
            )
        metadata = _check(answer, instance).json(instance)
        if not isinstance(metadata, Mapping):
            raise PermanentError(f"{instance} {_UNEXPECTED}.")
        scopes = metadata.get("scopes_supported")
        supported = (
            tuple(s for s in scopes if isinstance(s, str)) if isinstance(scopes, list) else ()
        )
        missing = [scope for scope in cls.SCOPES if supported and scope not in supported]
        if missing:
            raise PermanentError(
                f"{instance} does not offer the access Portal needs ({', '.join(missing)})."
            )
        optional = {
            key: _same_server(metadata[key], instance) if metadata.get(key) else None
            for key in ("revocation_endpoint", "userinfo_endpoint")
        }
        return OAuthServer(
            issuer=_same_server(metadata.get("issuer"), instance),
            authorization_endpoint=_same_server(metadata.get("authorization_endpoint"), instance),
            token_endpoint=_same_server(metadata.get("token_endpoint"), instance),
            revocation_endpoint=optional["revocation_endpoint"],
            userinfo_endpoint=optional["userinfo_endpoint"],
            scopes_supported=supported,
        )

    @classmethod
    async def register_client(
        cls, server: str, redirect_uri: str, http: httpx.AsyncClient
    ) -> OAuthClient:
        instance = _instance(server)
        parts = urlsplit(redirect_uri)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
            raise PermanentError("Portal's address for coming back is not an absolute web address.")
        answer = await _call(
            http,
            "POST",
            f"{base.server_url(instance)}/api/v1/apps",
            where=instance,
            data={
                "client_name": "Portal",
                "redirect_uris": redirect_uri,
                "scopes": " ".join(cls.SCOPES),
                "website": f"{parts.scheme}://{parts.netloc}",
            },
        )
        try:
            app = _check(answer, instance).json(instance)
        except PermanentError as error:
            if answer.status == 422 and "scope" in error.message.lower():
                raise PermanentError(
                    f"{error.message}. Mastodon before version 4.3 lacks the profile scope "
                    "Portal asks for."
                ) from error
            raise
        if not isinstance(app, Mapping):
            raise PermanentError(f"{instance} {_UNEXPECTED}.")
        client_id, secret = _text(app.get("client_id")), _text(app.get("client_secret"))
        if not client_id or not secret or len(client_id) + len(secret) > 1000:
            raise PermanentError(f"{instance} registered Portal without a client id or secret.")
        registered = app.get("redirect_uris")
        if not isinstance(registered, list):
            registered = _text(app.get("redirect_uri")).split("\n")
        if redirect_uri not in registered:
            raise PermanentError(f"{instance} registered Portal with another return address.")
        return OAuthClient(client_id=client_id, client_secret=secret, redirect_uri=redirect_uri)

    # -- the account --

    @property
    def instance(self) -> str:
        """The server of this account: from the credentials, else from the handle."""
        extra = self.credentials.extra
        value = extra.get("server") or self.handle.partition("@")[2]
        if not isinstance(value, str) or not value:
            raise PermanentError("This Mastodon account has no server on record: connect it again.")
        return _instance(value)

    async def _api(self, method: str, path: str, **kwargs: Any) -> _Answer:
        token = self.credentials.access_token
        if not token:
            raise AuthRevoked("Portal holds no access to this Mastodon account.")
        instance = self.instance
        url = base.server_url(instance) + path
        answer = await _call(self.http, method, url, where=instance, token=token, **kwargs)
        return _check(answer, instance)

    async def get_actor(self) -> Actor:
        """The token's own account, named on the server that issued the token and nowhere else."""
        instance = self.instance
        answer = await self._api("GET", "/api/v1/accounts/verify_credentials")
        data = answer.json(instance)
        actor = actor_from_json(data, instance)
        try:
            handle = self.normalize_handle(f"{_text(data.get('username'))}@{instance}")
        except InvalidHandle as error:
            raise PermanentError(f"{instance} named an account Portal cannot use.") from error
        if actor.handle != handle:  # an ``acct`` on another server: not this token's account
            raise PermanentError(f"{instance} named an account of another server.")
        self._account_id = _id(actor.id, "account id")
        profile = self.profile_url(handle)
        if actor.url and urlsplit(actor.url).netloc.lower() == urlsplit(profile).netloc:
            profile = actor.url
        return replace(actor, url=profile)

    async def get_posts(self, cursor: str | None = None, limit: int = 20) -> Page[Post]:
        if self._account_id is None:
            await self.get_actor()
        assert self._account_id is not None
        size = min(max(int(limit), 1), MAX_PAGE)
        params = {"limit": str(size), "exclude_reblogs": "true"}
        if cursor:
            params["max_id"] = _id(cursor, "page marker")
        path = f"/api/v1/accounts/{quote(self._account_id, safe='')}/statuses"
        answer = await self._api("GET", path, params=params)
        instance = self.instance
        statuses = answer.json(instance)
        if not isinstance(statuses, list):
            raise PermanentError(f"{instance} {_UNEXPECTED}.")
        items = [
            post_from_json(status, instance)
            for status in statuses
            if isinstance(status, Mapping)
            and not status.get("reblog")
            and status.get("visibility") in SHOWN_VISIBILITIES
        ]
        return Page(items=items, cursor=_next_cursor(answer, statuses, size))

    # -- publishing --

    async def _instance_limits(self) -> Limits | None:
        """The instance's limits, or ``None`` when it does not tell (the server then judges)."""
        if self._limits is None:
            instance = self.instance
            url = f"{base.server_url(instance)}/api/v2/instance"
            try:
                data = _check(await _call(self.http, "GET", url, where=instance), instance)
                info = data.json(instance)
            except base.ConnectorError:
                return None
            if not isinstance(info, Mapping):
                return None
            self._limits = limits_of(info)
        return self._limits

    def preview(self, draft: Draft) -> list[str]:
        """The status as it will be posted: one text; a longer one is refused on publishing."""
        return [_compose(draft)]

    async def publish(self, draft: Draft, idempotency_key: str) -> Published:
        key = idempotency_key.strip() if isinstance(idempotency_key, str) else ""
        if not key or len(key) > 200 or not (key.isascii() and key.isprintable()):
            raise PermanentError("Publishing needs a key of up to 200 characters to happen once.")
        text = _compose(draft)
        warning = draft.content_warning.strip()
        if not text.strip() and not draft.media:
            raise PermanentError("There is nothing to publish: write something or add a picture.")
        limits = await self._instance_limits()
        if limits is not None:
            count = count_status(text, warning, url_length=limits.url_length)
            if count > limits.max_characters:
                raise PermanentError(
                    f"This post is {count} characters as Mastodon counts them, and "
                    f"{self.instance} allows {limits.max_characters}: shorten it by "
                    f"{count - limits.max_characters}."
                )
        most = limits.max_media if limits else DEFAULT_MAX_MEDIA
        if len(draft.media) > most:
            raise PermanentError(f"{self.instance} takes at most {most} pictures in a post.")
        media_ids = [await self.upload_media(*await self._fetch(item)) for item in draft.media]
        form: dict[str, str | list[str]] = {"status": text}
        if warning:
            form["spoiler_text"] = warning
        if media_ids:
            form["media_ids[]"] = media_ids
        answer = await self._api(
            "POST", "/api/v1/statuses", data=form, headers={"idempotency-key": key}
        )
        status = answer.json(self.instance)
        status_id = _text(status.get("id")) if isinstance(status, Mapping) else ""
        if not status_id:
            raise PermanentError(f"{self.instance} {_UNEXPECTED}: the post has no id.")
        return Published(
            id=status_id, url=_web_url(status.get("url")) or _web_url(status.get("uri"))
        )

    async def _fetch(self, media: Media) -> tuple[Media, bytes]:
        """A picture to attach and its bytes, from its address (no redirects, size-limited)."""
        parts = _split(media.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PermanentError("A picture to attach has no web address.")
        where = parts.hostname
        answer = await _call(
            self.http,
            "GET",
            media.url,
            where=where,
            limit=MAX_MEDIA_BYTES,
            headers={"accept": "*/*"},
        )
        body = _check(answer, where).body
        if not media.mime_type:
            given = answer.headers.get("content-type", "").split(";")[0].strip().lower()
            media = replace(media, mime_type=given)
        return media, body

    async def upload_media(self, media: Media, data: bytes) -> str:
        if not data:
            raise PermanentError("This picture is empty.")
        path = _split(media.url).path
        mime_type = media.mime_type or mimetypes.guess_type(path)[0] or ""
        if "/" not in mime_type:
            raise PermanentError("Mastodon needs to know the picture's type (like image/png).")
        name = path.rsplit("/", 1)[-1] or "upload"
        if not mimetypes.guess_type(name)[0]:
            name += mimetypes.guess_extension(mime_type) or ""
        form = {"description": media.description} if media.description else {}
        answer = await self._api(
            "POST", "/api/v2/media", data=form, files={"file": (name, data, mime_type)}
        )
        attachment = answer.json(self.instance)
        media_id = _id(
            _text(attachment.get("id")) if isinstance(attachment, Mapping) else "", "media id"
        )
        if answer.status == 202 or not attachment.get("url"):
            await self._wait_for_media(media_id)
        return media_id

    async def _wait_for_media(self, media_id: str) -> None:
        """Poll ``GET /api/v1/media/:id`` until it answers 200 with an address (206 until then)."""
        deadline = time.monotonic() + self.media_poll_timeout
        while True:
            await asyncio.sleep(self.media_poll_interval)
            answer = await self._api("GET", f"/api/v1/media/{quote(media_id, safe='')}")
            attachment = answer.json(self.instance) if answer.status == 200 else None
            if isinstance(attachment, Mapping) and attachment.get("url"):
                return
            if time.monotonic() >= deadline:
                raise Retriable(f"{self.instance} is still processing the picture")


def _handle_in_url(text: str) -> tuple[str, str]:
    """``(user, server)`` of a profile: ``/@ada``, ``/@ada@other.server`` or ``/users/ada``."""
    candidate = text if "://" in text else "https://" + text
    try:
        parts = urlsplit(candidate)
        port = parts.port
    except ValueError as error:
        raise InvalidHandle("This address cannot be read.") from error
    if parts.scheme not in ("http", "https"):
        raise InvalidHandle("Give a web address that starts with https://.")
    if parts.username is not None or parts.password is not None:
        raise InvalidHandle("This address hides another one in it; give the profile's address.")
    host = parts.hostname or ""
    server = f"{host}:{port}" if port is not None else host
    path = parts.path.strip("/")
    if path.startswith("users/") and "/" not in path[6:]:
        return path[6:], server
    if not path.startswith("@") or "/" in path:
        raise InvalidHandle(
            "Give the profile's address, like https://mastodon.social/@ada, or the handle."
        )
    user, _, other = path[1:].partition("@")
    return user, other or server


def _split(url: str) -> SplitResult:
    """The parts of an address; an unreadable one has none."""
    try:
        return urlsplit(url)
    except ValueError:
        return urlsplit("")


def _compose(draft: Draft) -> str:
    text = draft.text.strip()
    if draft.link and draft.link not in text:
        text = f"{text}\n\n{draft.link}" if text else draft.link
    return text


def _next_cursor(answer: _Answer, statuses: list[Any], size: int) -> str | None:
    """The ``max_id`` of the ``Link: rel="next"`` page, else the last id of a full page."""
    if not statuses:
        return None
    if answer.headers.get("link"):
        target = answer.links.get("next", {}).get("url", "")
        found = parse_qs(urlsplit(target).query).get("max_id", [""])[0]
        return found if _ID.fullmatch(found) else None
    last = statuses[-1]
    last_id = _text(last.get("id")) if isinstance(last, Mapping) else ""
    return last_id if len(statuses) >= size and _ID.fullmatch(last_id) else None
