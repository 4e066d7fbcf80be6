"""The Mastodon connector (the why of it is in :mod:`connectors.mastodon`)."""

from __future__ import annotations

import asyncio
import mimetypes
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import SplitResult, parse_qs, quote, urlsplit

import httpx

from connectors import base
from connectors.base import (
    Actor,
    AuthRevoked,
    Delivered,
    Draft,
    InvalidHandle,
    Media,
    OAuthClient,
    OAuthServer,
    Page,
    PermanentError,
    Post,
    Published,
    Retriable,
    Upload,
)
from connectors.mastodon import _direct, _oauth
from connectors.mastodon._api import (
    UNEXPECTED,
    Answer,
    call,
    check,
    text_of,
)
from connectors.mastodon._model import (
    NETWORK,
    actor_from_json,
    normalize_handle,
    post_from_json,
    server_name,
    server_of,
    web_url,
)
from connectors.mastodon._text import (
    DEFAULT_MAX_CHARACTERS,
    DEFAULT_MAX_MEDIA,
    Limits,
    count_status,
    limits_of,
)

MAX_MEDIA_BYTES = 16 * 1024 * 1024
"""The largest picture Portal fetches to attach (Mastodon's default image limit)."""
MAX_PAGE = 40
"""The most statuses Mastodon returns in one page."""
HOME_PAGES = 5
"""The most pages of the home timeline read at once: 200 statuses."""
HOME_PATH = "/api/v1/timelines/home"
LIMITS_KEPT = 3600.0
"""Seconds an instance's limits are used again before they are asked anew."""
SHOWN_VISIBILITIES = ("public", "unlisted")
"""What anyone sees on the account's Mastodon profile; followers-only posts and private
mentions, which the owner's token also reads, are never taken."""

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)


def _id(value: str, what: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise PermanentError(f"This {what} is not one Mastodon gave.")
    return value


# -- the connector ---------------------------------------------------------------------------


class Mastodon(base.Connector):
    NAME = NETWORK
    MESSENGER = True
    LABEL = "Mastodon"
    AUTH = "oauth2"
    SCOPES = ("profile", "read:statuses", "write:statuses", "write:media")
    SCOPES_BEFORE_4_3: ClassVar[tuple[str, ...]] = (
        "read:accounts",
        "read:statuses",
        "write:statuses",
        "write:media",
    )
    """What a server whose metadata lists granular scopes but not ``profile`` is asked for:
    ``read:accounts`` lets Portal call ``verify_credentials``."""
    CLASSIC_SCOPES: ClassVar[tuple[str, ...]] = ("read", "write")
    """What a server that lists no granular scopes (or publishes no metadata) is asked for:
    reading the account and its posts, and posting, with everything else ``read`` and
    ``write`` cover (https://docs.joinmastodon.org/api/oauth-scopes/#read)."""
    HANDLE_LABEL = "Mastodon handle"
    HANDLE_EXAMPLE = "@ada@mastodon.social"
    CAN_VERIFY = True
    CAN_READ = True
    CAN_PUBLISH = True
    CAN_DELETE = True
    CAN_EDIT = True
    CAN_BACKFEED = True
    CAN_MESSAGE = True
    CAN_READ_ANSWERS = True
    CAN_WITHDRAW = True
    CAN_UPLOAD_MEDIA = True
    MAX_TEXT_LENGTH = DEFAULT_MAX_CHARACTERS
    TEXT_COUNTING = "graphemes"
    POST_RULES: ClassVar[base.PostRules] = base.PostRules(
        max_length=DEFAULT_MAX_CHARACTERS,
        max_media=DEFAULT_MAX_MEDIA,
        max_media_bytes=MAX_MEDIA_BYTES,
        content_warning=True,
    )
    """Mastodon's defaults; :meth:`post_rules` reads the instance's own."""
    RULES_FROM_SERVER = True

    def __init__(
        self,
        handle: str,
        credentials: base.Credentials,
        http: httpx.AsyncClient,
        *,
        context: base.Context = base.PUBLIC,
    ) -> None:
        super().__init__(handle, credentials, http, context=context)
        self._account_id: str | None = None
        self._limits: Limits | None = None

    # -- handles --

    @classmethod
    def normalize_handle(cls, raw: str, *, context: base.Context = base.PUBLIC) -> str:
        """``user@instance``; an instance on this machine (``localhost:port``) only where the
        context allows loopback."""
        return normalize_handle(raw, allow_loopback=context.allow_loopback)

    @classmethod
    def profile_url(cls, handle: str) -> str:
        user, _, instance = handle.partition("@")
        return f"{base.server_url(instance)}/@{quote(user, safe='')}"

    @classmethod
    def display_handle(cls, handle: str) -> str:
        return f"@{handle}"

    @classmethod
    def public_feed(
        cls, handle: str, server: str = "", *, known: Mapping[str, Any] | None = None
    ) -> str | None:
        """The profile's RSS: its public posts, without replies or boosts."""
        return f"{cls.profile_url(handle)}.rss"

    @classmethod
    def count_text(cls, text: str) -> int:
        return count_status(text)

    # -- OAuth --

    @classmethod
    def oauth_scopes(cls, server: OAuthServer) -> tuple[str, ...]:
        """:attr:`SCOPES` where the metadata lists them (Mastodon 4.3 and later),
        :attr:`SCOPES_BEFORE_4_3` where it lists those, else :attr:`CLASSIC_SCOPES`: a server
        that does not say it knows a granular scope may refuse it, at registration or later."""
        supported = set(server.scopes_supported)
        for scopes in (cls.SCOPES, cls.SCOPES_BEFORE_4_3):
            if set(scopes) <= supported:
                return scopes
        return cls.CLASSIC_SCOPES

    @classmethod
    def server_name(cls, raw: str, *, context: base.Context = base.PUBLIC) -> str:
        """The server of the person's account, named by itself (``mastodon.social``, with a
        port in development), by a handle (``@ada@mastodon.social``, ``ada@mastodon.social``)
        or by a profile address (``https://mastodon.social/@ada``)."""
        return server_of(raw, allow_loopback=context.allow_loopback)

    @classmethod
    async def oauth_server(
        cls, server: str, http: httpx.AsyncClient, *, context: base.Context = base.PUBLIC
    ) -> OAuthServer:
        instance = server_name(server, allow_loopback=context.allow_loopback)
        found = await _oauth.discover(instance, http)
        supported = found.scopes_supported
        missing = [
            scope for scope in cls.oauth_scopes(found) if supported and scope not in supported
        ]
        if missing:
            raise PermanentError(
                f"{instance} does not offer the access Portal needs ({', '.join(missing)})."
            )
        return found

    @classmethod
    async def register_client(
        cls,
        server: str,
        redirect_uri: str,
        http: httpx.AsyncClient,
        *,
        scopes: Sequence[str],
        context: base.Context = base.PUBLIC,
    ) -> OAuthClient:
        instance = server_name(server, allow_loopback=context.allow_loopback)
        return await _oauth.register(instance, redirect_uri, scopes, http)

    # -- the account --

    @property
    def instance(self) -> str:
        """The server of this account: from the credentials, else from the handle."""
        extra = self.credentials.extra
        value = extra.get("server") or self.handle.partition("@")[2]
        if not isinstance(value, str) or not value:
            raise PermanentError("This Mastodon account has no server on record: connect it again.")
        return server_name(value, allow_loopback=self.context.allow_loopback)

    async def _api(self, method: str, path: str, **kwargs: Any) -> Answer:
        token = self.credentials.access_token
        if not token:
            raise AuthRevoked("Portal holds no access to this Mastodon account.")
        instance = self.instance
        url = base.server_url(instance) + path
        answer = await call(self.http, method, url, where=instance, token=token, **kwargs)
        return check(answer, instance)

    async def get_actor(self) -> Actor:
        """The token's own account, named on the server that issued the token and nowhere else."""
        instance = self.instance
        answer = await self._api("GET", "/api/v1/accounts/verify_credentials")
        data = answer.json(instance)
        actor = actor_from_json(data, instance, allow_loopback=self.context.allow_loopback)
        try:
            username = text_of(data.get("username"))
            handle = self.normalize_handle(f"{username}@{instance}", context=self.context)
        except InvalidHandle as error:
            raise PermanentError(f"{instance} named an account Portal cannot use.") from error
        if actor.handle != handle:  # an ``acct`` on another server: not this token's account
            raise PermanentError(f"{instance} named an account of another server.")
        self._account_id = _id(actor.id, "account id")
        # The profile address exactly as the server gives it (scheme, port and path: GoToSocial,
        # Pleroma and Takahē write it otherwise than Mastodon), if it is on the server itself.
        given = actor.url
        if not given or not _on_server(given, instance):
            given = self.profile_url(handle)
        return replace(actor, url=given)

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
            raise PermanentError(f"{instance} {UNEXPECTED}.")
        items = [
            post_from_json(status, instance, allow_loopback=self.context.allow_loopback)
            for status in statuses
            if isinstance(status, Mapping)
            and not status.get("reblog")
            and status.get("visibility") in SHOWN_VISIBILITIES
        ]
        return Page(items=items, cursor=_next_cursor(answer, statuses, size))

    async def home_timeline(
        self, since_id: str | None = None, *, pages: int = HOME_PAGES
    ) -> list[Mapping[str, Any]]:
        """What the account reads (``GET /api/v1/timelines/home``,
        https://docs.joinmastodon.org/methods/timelines/#home), newest first: the newest page,
        then older pages by the ``Link`` header's ``rel="next"``, down to ``since_id`` (the
        newest status seen before) and at most ``pages`` pages. A ``next`` link is followed
        only on this server and this path, so the token never goes elsewhere."""
        params = {"limit": str(MAX_PAGE)}
        if since_id:
            params["since_id"] = _id(since_id, "status id")
        statuses: list[Mapping[str, Any]] = []
        for _ in range(max(pages, 1)):
            answer = await self._api("GET", HOME_PATH, params=params)
            page = answer.json(self.instance)
            if not isinstance(page, list):
                raise PermanentError(f"{self.instance} {UNEXPECTED}.")
            statuses += [status for status in page if isinstance(status, Mapping)]
            older = _older_page(answer, since_id) if len(page) >= MAX_PAGE else None
            if older is None:
                break
            params = older
        return statuses

    # -- publishing --

    async def _instance_limits(self) -> Limits | None:
        """The instance's limits, or ``None`` when it does not tell (the server then judges).
        Kept an hour in the context's :attr:`~connectors.base.Context.kept`, where it has one."""
        kept = self.context.kept
        if self._limits is None and kept is not None:
            found = kept.get(("mastodon:limits", self.instance))
            self._limits = found if isinstance(found, Limits) else None
        if self._limits is None:
            instance = self.instance
            url = f"{base.server_url(instance)}/api/v2/instance"
            try:
                data = check(await call(self.http, "GET", url, where=instance), instance)
                info = data.json(instance)
            except base.ConnectorError:
                return None
            if not isinstance(info, Mapping):
                return None
            self._limits = limits_of(info)
            if kept is not None:
                kept.put(("mastodon:limits", instance), self._limits, LIMITS_KEPT)
        return self._limits

    async def post_rules(self) -> base.PostRules:
        """The instance's own limits (``GET /api/v2/instance``), the defaults where it does
        not tell. Every link counts :attr:`Limits.url_length` whatever its length."""
        limits = await self._instance_limits()
        if limits is None:
            return self.POST_RULES
        return replace(
            self.POST_RULES, max_length=limits.max_characters, max_media=limits.max_media
        )

    async def _check_length(self, text: str, warning: str) -> Limits | None:
        """The instance's limits, once the text and warning are known to fit in them."""
        limits = await self._instance_limits()
        if limits is not None:
            count = count_status(text, warning, url_length=limits.url_length)
            if count > limits.max_characters:
                raise PermanentError(
                    f"This post is {count} characters as Mastodon counts them, and "
                    f"{self.instance} allows {limits.max_characters}: shorten it by "
                    f"{count - limits.max_characters}."
                )
        return limits

    async def publish(self, draft: Draft, idempotency_key: str) -> Published:
        key = base.idempotency_key(idempotency_key)
        text = _compose(draft)
        warning = draft.content_warning.strip()
        if not text.strip() and not draft.media and not draft.uploads:
            raise PermanentError("There is nothing to publish: write something or add a picture.")
        limits = await self._check_length(text, warning)
        most = limits.max_media if limits else DEFAULT_MAX_MEDIA
        if len(draft.media) + len(draft.uploads) > most:
            raise PermanentError(f"{self.instance} takes at most {most} pictures in a post.")
        media_ids = [await self.upload_media(*await self._fetch(item)) for item in draft.media]
        for upload in draft.uploads:
            media = Media("", upload.mime_type, upload.description)
            media_ids.append(await self.upload_media(media, upload.data))
        form: dict[str, str | list[str]] = {"status": text}
        if warning:
            form["spoiler_text"] = warning
        if media_ids:
            form["media_ids[]"] = media_ids
        if draft.reply_to is not None:
            form["in_reply_to_id"] = _id(draft.reply_to.parent.id, "post id")
        answer = await self._api(
            "POST", "/api/v1/statuses", data=form, headers={"idempotency-key": key}
        )
        status = answer.json(self.instance)
        status_id = text_of(status.get("id")) if isinstance(status, Mapping) else ""
        if not status_id:
            raise PermanentError(f"{self.instance} {UNEXPECTED}: the post has no id.")
        return Published(id=status_id, url=web_url(status.get("url")) or web_url(status.get("uri")))

    async def edit_post(self, published: Published, draft: Draft) -> None:
        """Replace the text and content warning of a status (``PUT /api/v1/statuses/:id``,
        Mastodon 3.5 and later, https://docs.joinmastodon.org/methods/statuses/#edit). An
        edit names the pictures the status keeps: those it has (read first), unchanged."""
        path = f"/api/v1/statuses/{quote(_id(published.id, 'post id'), safe='')}"
        text = _compose(draft)
        warning = draft.content_warning.strip()
        await self._check_length(text, warning)
        current = (await self._api("GET", path)).json(self.instance)
        attached = current.get("media_attachments") if isinstance(current, Mapping) else None
        media_ids = [
            text_of(item.get("id"))
            for item in (attached if isinstance(attached, list) else [])
            if isinstance(item, Mapping) and text_of(item.get("id"))
        ]
        if not text.strip() and not media_ids:
            raise PermanentError("There is nothing to publish: write something.")
        form: dict[str, str | list[str]] = {"status": text, "spoiler_text": warning}
        if media_ids:
            form["media_ids[]"] = media_ids
        await self._api("PUT", path, data=form)

    async def delete_post(self, published: Published, destination: str = "") -> None:
        """``DELETE /api/v1/statuses/:id``; a status that is gone already counts as deleted
        (https://docs.joinmastodon.org/methods/statuses/#delete)."""
        status_id = quote(_id(published.id, "post id"), safe="")
        token = self.credentials.access_token
        if not token:
            raise AuthRevoked("Portal holds no access to this Mastodon account.")
        url = f"{base.server_url(self.instance)}/api/v1/statuses/{status_id}"
        answer = await call(self.http, "DELETE", url, where=self.instance, token=token)
        if answer.status != 404:
            check(answer, self.instance)

    # -- direct messages (``_direct``) --

    async def send_message(
        self,
        to: str,
        text: str,
        key: str = "",
        *,
        again: bool = False,
        picture: Upload | None = None,
    ) -> Delivered:
        """A status only ``to`` sees (``visibility: direct``, their mention first), sent with
        ``key`` as its ``Idempotency-Key``: a try again within the hour Mastodon keeps a key
        gets the first try's status. ``picture`` is uploaded first (``POST /api/v2/media``)
        and attached (``media_ids``). One that reached someone else or no one is taken down
        and said. Its thread is its own id: answers come below it."""
        instance = self.instance
        recipient = self.normalize_handle(to, context=self.context)
        if recipient == self.handle:
            raise PermanentError("A Mastodon account cannot send a direct message to itself.")
        if not text.strip():
            raise PermanentError("The message is empty.")
        # No length check before sending: the instance's 422 says what is too long in its words.
        status = _direct.status_text(recipient, instance, text)
        token = self.credentials.access_token
        if not token:
            raise AuthRevoked("Portal holds no access to this Mastodon account.")
        form: dict[str, str | list[str]] = {"status": status, "visibility": "direct"}
        if picture is not None:
            media = Media("", picture.mime_type, picture.description)
            form["media_ids[]"] = [await self.upload_media(media, picture.data)]
        answer = await call(
            self.http,
            "POST",
            f"{base.server_url(instance)}/api/v1/statuses",
            where=instance,
            token=token,
            data=form,
            headers={"idempotency-key": base.idempotency_key(key)} if key else None,
        )
        if answer.status in (404, 422):
            raise PermanentError(_direct.refused(answer, instance))
        sent = check(answer, instance).json(instance)
        status_id = _id(text_of(sent.get("id")) if isinstance(sent, Mapping) else "", "status id")
        loopback = self.context.allow_loopback
        if not _direct.reached(sent, recipient, instance, allow_loopback=loopback):
            await self.delete_post(Published(status_id))
            raise PermanentError(
                f"{instance} did not make the message one only @{recipient} sees (it could "
                "not find them, or cannot send direct messages), so Portal took it down."
            )
        return Delivered(status_id, thread=status_id)

    async def answers(self, to: str, delivered: Delivered, since: datetime) -> list[base.Answer]:
        """``to``'s statuses below the message (its context's descendants), since ``since``."""
        recipient = self.normalize_handle(to, context=self.context)
        status_id = quote(_id(delivered.thread or delivered.id, "message id"), safe="")
        answer = await self._api("GET", f"/api/v1/statuses/{status_id}/context")
        return _direct.answers_in(
            answer.json(self.instance),
            recipient,
            self.instance,
            since,
            allow_loopback=self.context.allow_loopback,
        )

    async def message_read(self, to: str, delivered: Delivered) -> bool:
        """Whether ``to`` favourited the message: Mastodon tells no other sign of reading
        (``GET /api/v1/statuses/:id/favourited_by``). A message gone there is not read."""
        recipient = self.normalize_handle(to, context=self.context)
        status_id = quote(_id(delivered.id, "message id"), safe="")
        try:
            answer = await self._api(
                "GET", f"/api/v1/statuses/{status_id}/favourited_by", params={"limit": "80"}
            )
        except PermanentError:
            return False
        accounts = answer.json(self.instance)
        return any(
            _direct.is_account(
                account, recipient, self.instance, allow_loopback=self.context.allow_loopback
            )
            for account in (accounts if isinstance(accounts, list) else [])
        )

    async def withdraw_message(self, to: str, delivered: Delivered) -> None:
        """Delete the message's status; one deleted already is done."""
        await self.delete_post(Published(delivered.id))

    # -- what people did with a post --

    async def responses(self, published: Published, destination: str = "") -> list[base.Response]:
        """Replies below the post (``GET /api/v1/statuses/:id/context``, its descendants),
        quotes (``/quotes``, Mastodon 4.5 and later; older servers have none), and who
        boosted and favourited it (``/reblogged_by``, ``/favourited_by``: the newest 80 each)
        (https://docs.joinmastodon.org/methods/statuses/). A post deleted there has none."""
        status_id = quote(_id(published.id, "post id"), safe="")
        path = f"/api/v1/statuses/{status_id}"
        try:
            context = (await self._api("GET", f"{path}/context")).json(self.instance)
        except PermanentError:
            return []  # deleted on the server, or never shown to this account
        found = [
            base.Response.answering("reply", post)
            for post in self._shown(
                context.get("descendants") if isinstance(context, Mapping) else None
            )
        ]
        try:
            quotes = await self._api("GET", f"{path}/quotes", params={"limit": "40"})
        except PermanentError:
            quotes = None  # a server without quotes
        if quotes is not None:
            found += [
                base.Response.answering("quote", post)
                for post in self._shown(quotes.json(self.instance))
            ]
        for kind, who in (("repost", "reblogged_by"), ("like", "favourited_by")):
            answer = await self._api("GET", f"{path}/{who}", params={"limit": "80"})
            accounts = answer.json(self.instance)
            for account in accounts if isinstance(accounts, list) else []:
                actor = actor_from_json(
                    account, self.instance, allow_loopback=self.context.allow_loopback
                )
                found.append(base.Response(kind, actor.id, actor))  # type: ignore[arg-type]
        return found

    def _shown(self, statuses: Any) -> list[Post]:
        """The statuses of a list anyone may see (not the followers-only or private ones)."""
        return [
            post_from_json(status, self.instance, allow_loopback=self.context.allow_loopback)
            for status in (statuses if isinstance(statuses, list) else [])
            if isinstance(status, Mapping) and status.get("visibility") in SHOWN_VISIBILITIES
        ]

    async def _fetch(self, media: Media) -> tuple[Media, bytes]:
        """A picture to attach and its bytes, from its address (no redirects, size-limited)."""
        parts = _split(media.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PermanentError("A picture to attach has no web address.")
        where = parts.hostname
        answer = await call(
            self.http,
            "GET",
            media.url,
            where=where,
            limit=MAX_MEDIA_BYTES,
            headers={"accept": "*/*"},
        )
        body = check(answer, where).body
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
            text_of(attachment.get("id")) if isinstance(attachment, Mapping) else "", "media id"
        )
        if answer.status == 202 or not attachment.get("url"):
            await self._wait_for_media(media_id)
        return media_id

    async def _wait_for_media(self, media_id: str) -> None:
        """Poll ``GET /api/v1/media/:id`` until it answers 200 with an address (206 until then)."""
        deadline = time.monotonic() + self.context.media_poll_timeout
        while True:
            await asyncio.sleep(self.context.media_poll_interval)
            answer = await self._api("GET", f"/api/v1/media/{quote(media_id, safe='')}")
            attachment = answer.json(self.instance) if answer.status == 200 else None
            if isinstance(attachment, Mapping) and attachment.get("url"):
                return
            if time.monotonic() >= deadline:
                raise Retriable(f"{self.instance} is still processing the picture")


def _on_server(url: str, instance: str) -> bool:
    """Whether ``url`` is an address on the host of ``instance`` (any scheme or port)."""
    host = (_split(url).hostname or "").rstrip(".")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    expected = instance.rsplit(":", 1)[0] if ":" in instance else instance
    return bool(host) and host == expected


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


def _older_page(answer: Answer, since_id: str | None) -> dict[str, str] | None:
    """The query of the ``rel="next"`` page of the home timeline (``max_id``), kept down to
    ``since_id``; ``None`` when there is none or it points off the path."""
    target = answer.links.get("next", {}).get("url", "")
    parts = _split(target)
    if parts.path != HOME_PATH:
        return None
    max_id = parse_qs(parts.query).get("max_id", [""])[0]
    if not _ID.fullmatch(max_id):
        return None
    query = {"limit": str(MAX_PAGE), "max_id": max_id}
    if since_id:
        query["since_id"] = since_id
    return query


def _next_cursor(answer: Answer, statuses: list[Any], size: int) -> str | None:
    """The ``max_id`` of the ``Link: rel="next"`` page, else the last id of a full page."""
    if not statuses:
        return None
    if answer.headers.get("link"):
        target = answer.links.get("next", {}).get("url", "")
        found = parse_qs(urlsplit(target).query).get("max_id", [""])[0]
        return found if _ID.fullmatch(found) else None
    last = statuses[-1]
    last_id = text_of(last.get("id")) if isinstance(last, Mapping) else ""
    return last_id if len(statuses) >= size and _ID.fullmatch(last_id) else None
