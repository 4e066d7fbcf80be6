"""Instagram: a username and links, and posting to a professional account.

Why it looks like this:

- Usernames: at most 30 letters, digits, periods and underscores (Instagram Help Center,
  https://help.instagram.com/); Threads (:mod:`connectors.links`) shares them.
- Posting is the Instagram API with Facebook Login (https://developers.facebook.com/docs/
  instagram-platform/content-publishing/): a professional account connected to a Facebook
  Page, found as the Page's ``instagram_business_account`` in ``GET /me/accounts``
  (:meth:`Instagram.accounts`); scopes ``instagram_basic`` and ``instagram_content_publish``
  with ``pages_show_list`` and ``pages_read_engagement`` to find it. Linking is Facebook
  Login, as for :mod:`connectors.facebook`: the code's short-lived user token is exchanged
  for a long-lived one (60 days, which the Instagram API is called with; Meta gives no
  refresh token, so the person logs in again after it), and the first professional account
  among the person's Pages is the one linked, its id kept (``ig_user_id``). Which accounts
  the app may reach is what the person chose in Facebook's dialog. Unlinking is
  ``DELETE /me/permissions``.
- Instagram takes no picture bytes: it fetches each picture from a public address ("We cURL
  media used in publishing attempts"). A picture with an address (:class:`~connectors.base.
  Media`) is given by it; one the portal holds (:class:`~connectors.base.Upload`) gets its
  address from :attr:`Context.media_url <connectors.base.Context.media_url>`, which the portal
  serves. Only JPEG is taken, of at most 8 MB.
- A post is made in steps: a container per picture (``POST /{ig-user-id}/media`` with
  ``image_url``, ``caption`` and ``alt_text``; several pictures are ``is_carousel_item``
  containers, then one ``media_type=CAROUSEL`` container with ``children``, up to ten), then
  ``GET /{container-id}?fields=status_code`` until ``FINISHED`` (``IN_PROGRESS`` is asked again
  every :attr:`Context.media_poll_interval` seconds for at most ``media_poll_timeout``;
  ``ERROR`` and ``EXPIRED`` are final), then ``POST /{ig-user-id}/media_publish`` with the
  ``creation_id`` (https://developers.facebook.com/docs/instagram-platform/
  instagram-graph-api/reference/ig-container).
- An account may publish a limited number of posts in a rolling day (50 when this was
  written); ``GET /{ig-user-id}/content_publishing_limit`` says how many are used, and a
  full quota is a wait, not a failure.
- A caption has at most 2,200 characters, 30 hashtags and 20 @ tags; links in it are not
  clickable, and a post needs a picture.
- The API takes no idempotency key, so the account's latest posts of the last day are looked
  at first: a post with exactly this caption is the one a lost answer did not report.
- The API cannot delete a post (``CAN_DELETE`` stays off): the person deletes it in the app.
- Errors and throttling are the Graph API's (:mod:`connectors._graph`).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from connectors import _graph
from connectors._graph import text_of
from connectors._profile import ProfileLink, words
from connectors.base import (
    PUBLIC,
    Actor,
    ConnectorError,
    Context,
    Credentials,
    Draft,
    OAuthClient,
    OAuthServer,
    PermanentError,
    PostRules,
    Published,
    RateLimited,
    Retriable,
)

USERNAME_PATTERN = r"(?!\.)(?!.*\.\.)(?!.*\.$)[a-z0-9._]{1,30}"
USERNAME_RULES = (
    "An Instagram username has at most 30 characters: letters, digits, periods and "
    "underscores, not starting or ending with a period."
)

WHERE = "Instagram"
NO_ACCOUNT = (
    "None of your Facebook Pages has an Instagram professional account Portal may use: "
    "connect one to a Page in Instagram's settings (and allow it when Facebook asks), then "
    "link it again."
)
MAX_HASHTAGS = 30
MAX_MENTIONS = 20
RECENT = timedelta(days=1)

_ID = re.compile(r"[0-9]{1,40}")
_HASHTAG = re.compile(r"(?<![\w&])#\w+")
_MENTION = re.compile(r"(?<![\w.])@[A-Za-z0-9._]+")


def _id(value: str, what: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise PermanentError(f"This {what} is not one Instagram gave.")
    return value


def _public(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme == "https" and bool(parts.hostname)


def caption_of(draft: Draft) -> str:
    """The caption: the text, and the link after it (Instagram shows it, not as a link)."""
    text = draft.text.strip()
    if draft.link and draft.link not in text:
        text = f"{text}\n\n{draft.link}" if text else draft.link
    return text


def check_caption(caption: str) -> None:
    """Refuse a caption Instagram would refuse, saying what to change."""
    if len(caption) > Instagram.POST_RULES.max_length:
        raise PermanentError(
            f"This caption has {len(caption)} characters, and Instagram takes "
            f"{Instagram.POST_RULES.max_length}: shorten it by "
            f"{len(caption) - Instagram.POST_RULES.max_length}."
        )
    hashtags = len(_HASHTAG.findall(caption))
    if hashtags > MAX_HASHTAGS:
        raise PermanentError(
            f"This caption has {hashtags} hashtags, and Instagram takes {MAX_HASHTAGS}."
        )
    mentions = len(_MENTION.findall(caption))
    if mentions > MAX_MENTIONS:
        raise PermanentError(
            f"This caption tags {mentions} accounts, and Instagram takes {MAX_MENTIONS}."
        )


def account_from_json(data: Any) -> Actor | None:
    """An Instagram professional account (an IG User), or ``None`` without an id and name."""
    if not isinstance(data, Mapping):
        return None
    account_id = text_of(data.get("id"))
    username = text_of(data.get("username")).lower()
    if not _ID.fullmatch(account_id) or not re.fullmatch(USERNAME_PATTERN, username):
        return None
    picture = text_of(data.get("profile_picture_url"))
    return Actor(
        network=Instagram.NAME,
        id=account_id,
        handle=username,
        display_name=text_of(data.get("name"))[:200],
        url=Instagram.profile_url(username),
        avatar_url=picture if _public(picture) else None,
    )


class Instagram(ProfileLink):
    NAME = "instagram"
    LABEL = "Instagram"
    HANDLE_EXAMPLE = "ada.lovelace"
    AT_SIGN = True
    HANDLE_PATTERN = USERNAME_PATTERN
    RULES = USERNAME_RULES
    HOSTS = ("instagram.com", "instagr.am")
    PROFILE_PATHS = (
        r"(?:_u/)?(?P<handle>[^/]+)",
        r"(?P<handle>[^/]+)/(?:reels|tagged|saved|guides|followers|following)",
    )
    RESERVED = words("p reel reels tv explore stories accounts direct about legal")
    PROFILE_URL = "https://www.instagram.com/{handle}/"

    LINK_ONLY = False
    AUTH = "oauth2"
    SCOPES = (
        "instagram_basic",
        "instagram_content_publish",
        "pages_show_list",
        "pages_read_engagement",
    )
    CAN_VERIFY = True
    CAN_PUBLISH = True
    MAX_TEXT_LENGTH = 2200
    POST_RULES = PostRules(
        max_length=2200,
        max_media=10,
        max_media_bytes=8 * 1024 * 1024,
        media_types=("image/jpeg",),
        media_required=True,
        links_clickable=False,
        threads=False,
    )
    SERVER: ClassVar[str] = "facebook.com"

    def __init__(
        self,
        handle: str,
        credentials: Credentials,
        http: httpx.AsyncClient,
        *,
        context: Context = PUBLIC,
    ) -> None:
        super().__init__(handle, credentials, http, context=context)
        self._account_id: str | None = None

    # -- OAuth (Facebook Login) --

    @classmethod
    async def oauth_server(
        cls, server: str, http: httpx.AsyncClient, *, context: Context = PUBLIC
    ) -> OAuthServer:
        return _graph.oauth_server()

    @classmethod
    def server_name(cls, raw: str, *, context: Context = PUBLIC) -> str:
        """Instagram professional accounts are linked through Facebook, one server."""
        return cls.SERVER

    @classmethod
    async def oauth_linked(
        cls,
        answer: Mapping[str, Any],
        credentials: Credentials,
        returned: Mapping[str, str],
        client: OAuthClient,
        http: httpx.AsyncClient,
        *,
        context: Context = PUBLIC,
    ) -> Credentials:
        """The long-lived token, and the professional account it publishes to."""
        linked = await _graph.long_lived(credentials, client, http, WHERE)
        accounts = await cls("", linked, http, context=context).accounts()
        if not accounts:
            raise PermanentError(NO_ACCOUNT)
        return Credentials(
            linked.access_token,
            linked.refresh_token,
            linked.expires_at,
            linked.scope,
            {**linked.extra, "ig_user_id": accounts[0].id},
        )

    async def revoke(self) -> bool:
        """``DELETE /me/permissions``: the app loses every permission the person gave it."""
        await self._call("DELETE", "me/permissions")
        return True

    # -- the account --

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return await _graph.call(
            self.http, method, path, token=self.credentials.access_token, where=WHERE, **kwargs
        )

    async def accounts(self) -> list[Actor]:
        """The professional accounts connected to the person's Pages, in Facebook's order."""
        fields = "instagram_business_account{id,username,name,profile_picture_url}"
        data = await self._call("GET", "me/accounts", params={"fields": fields, "limit": "100"})
        entries = data.get("data") if isinstance(data, Mapping) else None
        if not isinstance(entries, list):
            raise PermanentError("Facebook did not list the Pages.")
        found = [
            account_from_json(entry.get("instagram_business_account"))
            for entry in entries
            if isinstance(entry, Mapping)
        ]
        return [account for account in found if account is not None]

    async def get_actor(self) -> Actor:
        """The account kept with the credentials (``ig_user_id``), else the one named by the
        handle, else the first connected to one of the person's Pages."""
        kept = self.credentials.extra.get("ig_user_id")
        if isinstance(kept, str) and kept:
            fields = "id,username,name,profile_picture_url"
            data = await self._call("GET", _id(kept, "account id"), params={"fields": fields})
            actor = account_from_json(data)
        else:
            accounts = await self.accounts()
            if not accounts:
                raise PermanentError(NO_ACCOUNT)
            named = [account for account in accounts if account.handle == self.handle]
            actor = (named or accounts)[0] if not self.handle or named else None
        if actor is None:
            raise PermanentError("Instagram did not say which account this is.")
        if self.handle and actor.handle != self.handle:
            raise PermanentError(f"This Instagram account is now @{actor.handle}: link it again.")
        self._account_id = actor.id
        return actor

    async def _account(self) -> str:
        if self._account_id is None:
            kept = self.credentials.extra.get("ig_user_id")
            if isinstance(kept, str) and kept:
                self._account_id = _id(kept, "account id")
            else:
                await self.get_actor()
        assert self._account_id is not None
        return self._account_id

    # -- publishing --

    async def publish(self, draft: Draft, idempotency_key: str) -> Published:
        key = idempotency_key.strip() if isinstance(idempotency_key, str) else ""
        if not key or len(key) > 200 or not (key.isascii() and key.isprintable()):
            raise PermanentError("Publishing needs a key of up to 200 characters to happen once.")
        if draft.reply_to is not None:
            raise PermanentError("An Instagram post cannot answer another post.")
        caption = caption_of(draft)
        check_caption(caption)
        count = len(draft.media) + len(draft.uploads)
        if count == 0:
            raise PermanentError("An Instagram post needs a picture.")
        if count > self.POST_RULES.max_media:
            raise PermanentError(
                f"Instagram takes at most {self.POST_RULES.max_media} pictures in a post."
            )
        pictures = await self._addresses(draft)
        account = await self._account()
        if caption:
            earlier = await self._find(account, caption)
            if earlier is not None:
                return earlier
        await self._check_quota(account)
        if len(pictures) == 1:
            address, alt = pictures[0]
            container = await self._container(account, image_url=address, alt=alt, caption=caption)
        else:
            children = [
                await self._container(account, image_url=address, alt=alt, carousel_item=True)
                for address, alt in pictures
            ]
            for child in children:
                await self._wait(child)
            container = await self._container(account, children=children, caption=caption)
        await self._wait(container)
        data = await self._call("POST", f"{account}/media_publish", data={"creation_id": container})
        media_id = _id(text_of(data.get("id")) if isinstance(data, Mapping) else "", "post id")
        return Published(id=media_id, url=await self._permalink(media_id))

    async def _addresses(self, draft: Draft) -> list[tuple[str, str]]:
        """The public address and alt text of every picture, in order."""
        found: list[tuple[str, str]] = []
        for media in draft.media:
            if media.mime_type and media.mime_type != "image/jpeg":
                raise PermanentError("Instagram takes only JPEG pictures.")
            if not _public(media.url):
                raise PermanentError("Instagram fetches pictures by an https:// address.")
            found.append((media.url, media.description))
        for upload in draft.uploads:
            if upload.mime_type != "image/jpeg":
                raise PermanentError("Instagram takes only JPEG pictures.")
            if len(upload.data) > self.POST_RULES.max_media_bytes:
                raise PermanentError("Instagram takes pictures of at most 8 MB.")
            if self.context.media_url is None:
                raise PermanentError(
                    "Instagram fetches pictures from a public address, and this portal serves none."
                )
            address = await self.context.media_url(upload)
            if not _public(address):
                raise PermanentError("Instagram fetches pictures by an https:// address.")
            found.append((address, upload.description))
        return found

    async def _container(
        self,
        account: str,
        *,
        image_url: str = "",
        alt: str = "",
        caption: str = "",
        carousel_item: bool = False,
        children: list[str] | None = None,
    ) -> str:
        form: dict[str, str] = {}
        if children is not None:
            form["media_type"] = "CAROUSEL"
            form["children"] = ",".join(children)
        else:
            form["image_url"] = image_url
            if alt:
                form["alt_text"] = alt
        if carousel_item:
            form["is_carousel_item"] = "true"
        elif caption:
            form["caption"] = caption
        data = await self._call("POST", f"{account}/media", data=form)
        return _id(text_of(data.get("id")) if isinstance(data, Mapping) else "", "container id")

    async def _wait(self, container: str) -> None:
        """Ask for the container's ``status_code`` until it is ready to publish."""
        deadline = time.monotonic() + self.context.media_poll_timeout
        while True:
            data = await self._call("GET", container, params={"fields": "status_code,status"})
            state = data if isinstance(data, Mapping) else {}
            code = text_of(state.get("status_code"))
            if code in ("FINISHED", "PUBLISHED"):
                return
            if code == "ERROR":
                said = _graph.scrub(text_of(state.get("status")), self.credentials.access_token)
                raise PermanentError(
                    "Instagram could not prepare this post"
                    + (f" ({said})" if said else "")
                    + ": check that each picture is a JPEG Instagram can fetch."
                )
            if code == "EXPIRED":
                raise PermanentError("Instagram let this post expire before it was published.")
            if time.monotonic() >= deadline:
                raise Retriable("Instagram is still preparing the post")
            await asyncio.sleep(self.context.media_poll_interval)

    async def _check_quota(self, account: str) -> None:
        """A full quota of posts for the rolling day is a wait (``content_publishing_limit``)."""
        data = await self._call(
            "GET",
            f"{account}/content_publishing_limit",
            params={"fields": "quota_usage,config"},
        )
        entries = data.get("data") if isinstance(data, Mapping) else None
        entry = entries[0] if isinstance(entries, list) and entries else None
        if not isinstance(entry, Mapping):
            return
        used = entry.get("quota_usage")
        config = entry.get("config")
        total = config.get("quota_total") if isinstance(config, Mapping) else None
        if isinstance(used, int) and isinstance(total, int) and 0 < total <= used:
            raise RateLimited(
                f"This Instagram account has published its {total} posts of the last "
                "24 hours; Instagram takes more later.",
                retry_after=3600.0,
            )

    async def _find(self, account: str, caption: str) -> Published | None:
        """A post of the last day with exactly this caption, if there is one."""
        data = await self._call(
            "GET",
            f"{account}/media",
            params={"fields": "id,caption,permalink,timestamp", "limit": "10"},
        )
        entries = data.get("data") if isinstance(data, Mapping) else None
        since = datetime.now(UTC) - RECENT
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, Mapping) or entry.get("caption") != caption:
                continue
            created = _graph.graph_time(entry.get("timestamp"))
            media_id = text_of(entry.get("id"))
            if created is not None and created >= since and _ID.fullmatch(media_id):
                link = text_of(entry.get("permalink"))
                return Published(id=media_id, url=link if _on_instagram(link) else None)
        return None

    async def _permalink(self, media_id: str) -> str | None:
        """The post's address; the post is made even when Instagram does not say it."""
        try:
            data = await self._call("GET", media_id, params={"fields": "permalink"})
        except ConnectorError:
            return None
        link = text_of(data.get("permalink")) if isinstance(data, Mapping) else ""
        return link if _on_instagram(link) else None


def _on_instagram(link: str) -> bool:
    return link.startswith("https://www.instagram.com/")
