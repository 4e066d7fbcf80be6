"""Facebook: a person's handle and links, and posting to the Pages they manage.

Why it looks like this:

- Usernames: letters, digits and periods, at least 5, periods and case not counted
  (https://www.facebook.com/help/105399436216001); profiles without a username are
  ``profile.php?id=<number>``; Messenger (:mod:`connectors.messengers`) uses the same names.
- Linking is Facebook Login (https://developers.facebook.com/docs/facebook-login/guides/
  advanced/manual-flow): the login dialog, the code exchanged for a short-lived user token,
  that token exchanged for a long-lived one (``grant_type=fb_exchange_token``,
  https://developers.facebook.com/docs/facebook-login/guides/access-tokens/get-long-lived),
  then ``GET /me/accounts?fields=id,name,access_token`` lists the Pages the person let the
  app reach in Facebook's dialog, each with its own token, which posting needs
  (:meth:`Facebook.page_tokens`). Those are kept with the account (encrypted, as every
  credential): a Page token made from a long-lived user token does not expire, so posting
  goes on after the user token's 60 days. A Page not kept (added since) has its token asked
  for when it is used (``GET /{page-id}?fields=access_token``) with the person's token.
- Scopes (https://developers.facebook.com/docs/permissions): ``pages_show_list`` to list the
  Pages, ``pages_manage_posts`` to post, edit and delete, ``pages_read_engagement`` to read
  the Page's posts (needed to find a post published before a lost answer).
- A post goes to one Page, named by :attr:`~connectors.base.Draft.destination`: its id, or
  the name of a Page kept at the link, so the person chooses the Page for each post:
  ``POST /{page-id}/feed`` with ``message`` and ``link``; with pictures, each is first sent
  unpublished to ``POST /{page-id}/photos`` and the post names them in ``attached_media``
  (https://developers.facebook.com/docs/pages-api/posts). Editing is ``POST /{post-id}`` with
  a new ``message``; deleting is ``DELETE /{post-id}``; a post already gone (error 100,
  subcode 33) counts as deleted.
- The Graph API takes no idempotency key. Facebook refuses the same text twice in a row on
  a Page (error 506), so a post with text is first looked for among the Page's latest posts
  of the last day: when a retry follows a lost answer, the post already made is returned.
- Pictures travel inside :meth:`Facebook.publish`: an unpublished photo belongs to one Page,
  so there is no upload that stands alone (``CAN_UPLOAD_MEDIA`` stays off).
- Errors and throttling are the Graph API's (:mod:`connectors._graph`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx

from connectors import _graph, base
from connectors._graph import text_of
from connectors._profile import ProfileLink, words
from connectors.base import (
    PUBLIC,
    Actor,
    AuthRevoked,
    Context,
    Credentials,
    Draft,
    OAuthClient,
    OAuthServer,
    PermanentError,
    PostRules,
    Published,
    Upload,
    url_quote,
)

WHERE = "Facebook"
MAX_PAGES = 100
"""The most Pages of one person listed (four answers of ``/me/accounts``)."""
RECENT = timedelta(days=1)
"""How far back a post is looked for before posting again."""

_ID = re.compile(r"[0-9]{1,40}(?:_[0-9]{1,40})?")


def _id(value: str, what: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise PermanentError(f"This {what} is not one Facebook gave.")
    return value


def post_url(post_id: str) -> str:
    """The web address of a Page post (``{page-id}_{post-id}`` opens the post)."""
    return f"https://www.facebook.com/{url_quote(post_id)}"


def page_from_json(data: Any) -> Actor | None:
    """A Page of ``/me/accounts``, or ``None`` when the entry has no id."""
    if not isinstance(data, Mapping):
        return None
    page_id = text_of(data.get("id"))
    if not _ID.fullmatch(page_id):
        return None
    return Actor(
        network=Facebook.NAME,
        id=page_id,
        handle=page_id,
        display_name=text_of(data.get("name"))[:200],
        url=f"https://www.facebook.com/{page_id}",
    )


class Facebook(ProfileLink):
    NAME = "facebook"
    LABEL = "Facebook"
    HANDLE_EXAMPLE = "ada.lovelace"
    HANDLE_PATTERN = r"[1-9][0-9]{0,19}|(?=.*[a-z])(?!.*\.php$)[a-z0-9.]{5,50}"
    RULES = (
        "A Facebook username has at least 5 letters, digits and periods (or it is the "
        "number of the profile)."
    )
    HOSTS = ("facebook.com", "fb.com", "web.facebook.com")
    PROFILE_PATHS = (
        r"(?P<handle>[^/]+)",
        r"people/[^/]+/(?P<handle>[0-9]+)",
        r"p/[^/]*-(?P<handle>[0-9]+)",
    )
    RESERVED = words(
        "people pages groups events watch marketplace gaming login friends messages "
        "settings photos videos reels stories sharer share search hashtag business "
        "policies privacy help notifications bookmarks profile recover"
    )

    LINK_ONLY = False
    AUTH = "oauth2"
    SCOPES = ("pages_show_list", "pages_manage_posts", "pages_read_engagement")
    CAN_VERIFY = True
    CAN_PUBLISH = True
    CAN_DELETE = True
    CAN_EDIT = True
    PUBLISHES_TO = "page"
    MAX_TEXT_LENGTH = 63206
    POST_RULES = PostRules(
        max_length=63206,
        max_media=10,
        max_media_bytes=4 * 1024 * 1024,
        media_types=("image/jpeg", "image/png", "image/gif"),
        threads=False,
    )
    """A Page post's text (63,206 characters); photos of at most 4 MB
    (https://developers.facebook.com/docs/graph-api/reference/page/photos/)."""
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
        self._page_tokens: dict[str, str] = {}

    # -- handles --

    @classmethod
    def handle_from_path(cls, path: str, query: dict[str, list[str]]) -> str | None:
        if path == "profile.php":
            ids = query.get("id")
            return ids[0] if ids else None
        return super().handle_from_path(path, query)

    @classmethod
    def profile_url(cls, handle: str) -> str | None:
        if handle.isdigit():
            return "https://www.facebook.com/profile.php?id=" + handle
        return "https://www.facebook.com/" + url_quote(handle)

    # -- OAuth --

    @classmethod
    async def oauth_server(
        cls, server: str, http: httpx.AsyncClient, *, context: Context = PUBLIC
    ) -> OAuthServer:
        return _graph.oauth_server()

    @classmethod
    def server_name(cls, raw: str, *, context: Context = PUBLIC) -> str:
        """Facebook is one server, whatever is named."""
        return cls.SERVER

    @classmethod
    async def long_lived(
        cls, short_lived: Credentials, client: OAuthClient, http: httpx.AsyncClient
    ) -> Credentials:
        """The long-lived user token (about 60 days) for the short-lived one the code gave."""
        return await _graph.long_lived(short_lived, client, http, WHERE)

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
        """The long-lived token, and the Pages the person let Portal post to, each with its
        own token (which, made from a long-lived user token, does not expire)."""
        linked = await cls.long_lived(credentials, client, http)
        pages = await cls("", linked, http, context=context).page_tokens()
        kept = [
            {"id": page.id, "name": page.display_name, "access_token": token}
            for page, token in pages
        ]
        return Credentials(
            linked.access_token,
            linked.refresh_token,
            linked.expires_at,
            linked.scope,
            {**linked.extra, "pages": kept},
        )

    async def revoke(self) -> bool:
        """``DELETE /me/permissions``: the app loses every permission the person gave it."""
        await self._call("DELETE", "me/permissions")
        return True

    # -- the account --

    async def _call(self, method: str, path: str, *, token: str = "", **kwargs: Any) -> Any:
        return await _graph.call(
            self.http,
            method,
            path,
            token=token or self.credentials.access_token,
            where=WHERE,
            **kwargs,
        )

    async def get_actor(self) -> Actor:
        """The person who logged in (``GET /me``): Facebook names them by an id of this app's
        own, so their profile address is known only when Facebook gives ``link``."""
        data = await self._call("GET", "me", params={"fields": "id,name,link"})
        person = data if isinstance(data, Mapping) else {}
        person_id = text_of(person.get("id"))
        if not _ID.fullmatch(person_id):
            raise PermanentError("Facebook did not say who this is.")
        link = text_of(person.get("link"))
        return Actor(
            network=self.NAME,
            id=person_id,
            handle=person_id,
            display_name=text_of(person.get("name"))[:200],
            url=link if link.startswith("https://www.facebook.com/") else None,
        )

    async def pages(self) -> list[Actor]:
        """The Pages the person manages (``GET /me/accounts``), in Facebook's order."""
        return [page for page, _ in await self._listed("id,name")]

    async def page_tokens(self) -> list[tuple[Actor, str]]:
        """The Pages the person manages with the token of each (``access_token`` of
        ``/me/accounts``); a Page listed without one (the person may not post there) is left
        out."""
        return [
            (page, token) for page, token in await self._listed("id,name,access_token") if token
        ]

    async def _listed(self, fields: str) -> list[tuple[Actor, str]]:
        found: list[tuple[Actor, str]] = []
        params = {"fields": fields, "limit": "25"}
        while len(found) < MAX_PAGES:
            data = await self._call("GET", "me/accounts", params=params)
            entries = data.get("data") if isinstance(data, Mapping) else None
            if not isinstance(entries, list):
                raise PermanentError("Facebook did not list the Pages.")
            for entry in entries:
                page = page_from_json(entry)
                if page is not None:
                    found.append((page, text_of(entry.get("access_token"))))
            paging = data.get("paging")
            cursors = paging.get("cursors") if isinstance(paging, Mapping) else None
            after = text_of(cursors.get("after")) if isinstance(cursors, Mapping) else ""
            if not entries or not after or not isinstance(paging, Mapping) or "next" not in paging:
                break
            params = {**params, "after": after}
        return found[:MAX_PAGES]

    def _kept_pages(self) -> list[Mapping[str, Any]]:
        """The Pages kept with the credentials when the account was linked."""
        kept = self.credentials.extra.get("pages")
        return (
            [page for page in kept if isinstance(page, Mapping)] if isinstance(kept, list) else []
        )

    async def _page_token(self, page_id: str) -> str:
        """The Page's own token: kept since the link, or made from the person's (who must
        still manage the Page)."""
        for page in self._kept_pages():
            token = text_of(page.get("access_token"))
            if text_of(page.get("id")) == page_id and token:
                self._page_tokens.setdefault(page_id, token)
        if page_id not in self._page_tokens:
            data = await self._call("GET", page_id, params={"fields": "access_token"})
            token = text_of(data.get("access_token")) if isinstance(data, Mapping) else ""
            if not token:
                raise AuthRevoked(
                    "Facebook gives Portal no access to this Page: the account may no longer "
                    "manage it, or did not allow Portal to post there. Connect it again."
                )
            self._page_tokens[page_id] = token
        return self._page_tokens[page_id]

    # -- publishing --

    async def publish(self, draft: Draft, idempotency_key: str) -> Published:
        base.idempotency_key(idempotency_key)
        page_id = self._destination(draft.destination)
        if draft.reply_to is not None:
            raise PermanentError("A Facebook Page post cannot answer another post.")
        text = draft.text.strip()
        if not text and not draft.link and not draft.uploads:
            raise PermanentError("There is nothing to publish: write something or add a picture.")
        rules = self.POST_RULES
        if len(draft.uploads) > rules.max_media:
            raise PermanentError(f"Facebook takes at most {rules.max_media} pictures in a post.")
        token = await self._page_token(page_id)
        message = text
        if draft.uploads and draft.link and draft.link not in text:
            message = f"{text}\n\n{draft.link}" if text else draft.link
        if message:
            earlier = await self._find(page_id, message, token)
            if earlier is not None:
                return earlier
        form: dict[str, str] = {"message": message} if message else {}
        if draft.link and not draft.uploads:
            form["link"] = draft.link
        for index, upload in enumerate(draft.uploads):
            photo_id = await self._upload(page_id, upload, token)
            form[f"attached_media[{index}]"] = f'{{"media_fbid":"{photo_id}"}}'
        data = await self._call("POST", f"{page_id}/feed", token=token, data=form)
        post_id = text_of(data.get("id")) if isinstance(data, Mapping) else ""
        return Published(id=_id(post_id, "post id"), url=post_url(post_id))

    def _destination(self, destination: str) -> str:
        """The id of the Page ``destination`` names: its id, or the name of a Page kept when
        the account was linked (case and outer spaces aside)."""
        named = destination.strip() if isinstance(destination, str) else ""
        if not named:
            raise PermanentError("Choose the Facebook Page to post to.")
        if _ID.fullmatch(named):
            return named
        wanted = named.casefold()
        for page in self._kept_pages():
            if text_of(page.get("name")).strip().casefold() == wanted:
                return _id(text_of(page.get("id")), "Page")
        names = ", ".join(text_of(page.get("name")) for page in self._kept_pages())
        raise PermanentError(
            f"None of the Pages this Facebook account manages is called {named[:100]!r}"
            + (f" (it manages {names[:300]})." if names else "; connect the account again.")
        )

    async def _upload(self, page_id: str, upload: Upload, token: str) -> str:
        """One picture, sent unpublished to the Page, to be attached to a post."""
        if upload.mime_type not in self.POST_RULES.media_types:
            raise PermanentError("Facebook takes JPEG, PNG and GIF pictures.")
        if len(upload.data) > self.POST_RULES.max_media_bytes:
            raise PermanentError("Facebook takes pictures of at most 4 MB.")
        extension = upload.mime_type.rsplit("/", 1)[-1]
        form = {"published": "false"}
        if upload.description:
            form["alt_text_custom"] = upload.description
        data = await self._call(
            "POST",
            f"{page_id}/photos",
            token=token,
            data=form,
            files={"source": (f"picture.{extension}", upload.data, upload.mime_type)},
        )
        return _id(text_of(data.get("id")) if isinstance(data, Mapping) else "", "photo id")

    async def _find(self, page_id: str, message: str, token: str) -> Published | None:
        """A post of the last day on the Page with exactly this text, if there is one."""
        data = await self._call(
            "GET",
            f"{page_id}/feed",
            token=token,
            params={"fields": "id,message,created_time,permalink_url", "limit": "10"},
        )
        entries = data.get("data") if isinstance(data, Mapping) else None
        since = datetime.now(UTC) - RECENT
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, Mapping) or entry.get("message") != message:
                continue
            created = _graph.graph_time(entry.get("created_time"))
            post_id = text_of(entry.get("id"))
            if created is not None and created >= since and _ID.fullmatch(post_id):
                link = text_of(entry.get("permalink_url"))
                return Published(
                    id=post_id,
                    url=link if link.startswith("https://www.facebook.com/") else post_url(post_id),
                )
        return None

    def _page_of(self, published: Published, destination: str) -> str:
        post_id = _id(published.id, "post id")
        return self._destination(destination or post_id.partition("_")[0])

    async def delete_post(self, published: Published, destination: str = "") -> None:
        token = await self._page_token(self._page_of(published, destination))
        try:
            await self._call("DELETE", published.id, token=token)
        except _graph.Missing:
            return  # gone already

    async def edit_post(self, published: Published, draft: Draft) -> None:
        token = await self._page_token(self._page_of(published, draft.destination))
        text = draft.text.strip()
        if not text:
            raise PermanentError("A Facebook post cannot be edited to have no text.")
        await self._call("POST", published.id, token=token, data={"message": text})
