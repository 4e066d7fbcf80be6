"""The Bluesky connector: linking with an app password, the session, the profile,
publishing (posts, pictures, threads, taking a post down), and direct messages (``_chat``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import httpx

from connectors.atproto import (
    CHAT_SCOPE,
    INVALID_HANDLE,
    DPoP,
    Identity,
    XrpcError,
    blob_cid,
    did_problem,
    handle_problem,
    is_valid_handle,
    normalize_did,
    xrpc,
)
from connectors.base import (
    PUBLIC,
    Actor,
    Answer,
    AuthRevoked,
    Connector,
    ConnectorError,
    Context,
    Credentials,
    Delivered,
    Draft,
    InvalidHandle,
    Linked,
    Media,
    PermanentError,
    PostRules,
    Published,
    RateLimited,
    Response,
    Retriable,
    Upload,
    clean,
    path_from_url,
)
from connectors.bluesky import _chat, _model
from connectors.bluesky._model import (
    NETWORK,
    POSTS,
    actor_from_profile,
    actor_from_profile_record,
    post_record,
    published_post,
)
from connectors.bluesky._publish import check_draft, check_picture, compose, record_key, refusal
from connectors.bluesky._richtext import facets, mentioned_handles

REFUSED = "Bluesky refused this handle or app password."
ASK_FOR_APP_CREDENTIAL = (
    "Sign in with an app password, not your account's password: create one in Bluesky under "
    "Settings → Privacy and security → App passwords (it looks like xxxx-xxxx-xxxx-xxxx), "
    "with “Allow access to your direct messages” ticked if Portal is to write there for you."
)
TWO_FACTOR = (
    "This Bluesky account asks for a code sent by email to sign in. Use an app password "
    "instead: Bluesky → Settings → Privacy and security → App passwords."
)
REVOKED = "Bluesky no longer accepts this sign-in: the app password or the session was revoked."
_APP_PASSWORD = re.compile(r"[a-zA-Z0-9]{4}(-[a-zA-Z0-9]{4}){3}")
_AUTH_ERRORS = frozenset({"AuthenticationRequired", "InvalidToken", "ExpiredToken"})
_THREAD_DEPTH = 10
"""How deep below a post its thread is read: replies to replies, ten levels down."""
_MAX_MENTIONS = 50
"""At most this many handles of one post are resolved: a 300-grapheme text holds fewer."""


class Bluesky(Connector):
    NAME = NETWORK
    MESSENGER = True
    LABEL = "Bluesky"
    AUTH = "atproto"
    HANDLE_LABEL = "Handle"
    HANDLE_EXAMPLE = "ada.bsky.social"
    CAN_VERIFY = True
    CAN_PUBLISH = True
    CAN_UPLOAD_MEDIA = True
    CAN_DELETE = True
    CAN_BACKFEED = True
    CAN_MESSAGE = True
    CAN_READ_ANSWERS = True
    MAX_TEXT_LENGTH = 300
    TEXT_COUNTING = "graphemes"
    POST_RULES = PostRules(
        max_length=300,
        max_media=4,
        max_media_bytes=1_000_000,
        media_types=("image/jpeg", "image/png", "image/webp"),
        threads=True,
        content_warning=False,
    )

    def __init__(
        self,
        handle: str,
        credentials: Credentials,
        http: httpx.AsyncClient,
        *,
        context: Context = PUBLIC,
    ) -> None:
        super().__init__(handle, credentials, http, context=context)
        kept = credentials.extra.get("dpop")
        self._dpop = DPoP(kept) if isinstance(kept, Mapping) else None
        """The session's key when it was made by OAuth (its tokens are bound to it)."""

    # -- handles --

    @classmethod
    def normalize_handle(cls, raw: str, *, context: Context = PUBLIC) -> str:
        text = clean(raw, max_length=300)
        if text[:5].lower() == "at://":
            text = text[5:].split("/", 1)[0]
        else:
            path = path_from_url(text, ("bsky.app",))
            if path is not None:
                parts = path.split("/")
                if len(parts) < 2 or parts[0] != "profile" or not parts[1]:
                    raise InvalidHandle(
                        "This Bluesky address is not a profile (https://bsky.app/profile/…)."
                    )
                text = unquote(parts[1])
        text = text.removeprefix("@")
        if not text:
            raise InvalidHandle("Enter a handle.")
        if text[:4].lower() == "did:":
            did = normalize_did(text)
            problem = did_problem(did)
            if problem is not None:
                raise InvalidHandle(problem)
            return did
        handle = text.lower()
        problem = handle_problem(handle)
        if problem is not None:
            raise InvalidHandle(problem)
        return handle

    @classmethod
    def profile_url(cls, handle: str) -> str | None:
        return _model.profile_url(handle)

    @classmethod
    def display_handle(cls, handle: str) -> str:
        return handle if handle.startswith("did:") else f"@{handle}"

    @classmethod
    def public_feed(
        cls, handle: str, server: str = "", *, known: Mapping[str, Any] | None = None
    ) -> str | None:
        """The account's posts as its own PDS serves them to anyone: the public records of
        ``app.bsky.feed.post`` in its repository (``com.atproto.repo.listRecords``, newest
        first), which every PDS answers, with or without an AppView. Named from the DID and
        the PDS its proof found, so an account only typed in has none."""
        did, pds = (known or {}).get("did"), (known or {}).get("pds")
        if not isinstance(did, str) or not isinstance(pds, str) or not did or not pds:
            return None
        return _model.posts_address(pds, did)

    # -- linking with an app password --

    @classmethod
    async def sign_in(
        cls,
        handle: str,
        secret: str,
        http: httpx.AsyncClient,
        *,
        context: Context = PUBLIC,
    ) -> Linked:
        """Sign in with an app password and keep the session's two JWTs (not the password)."""
        identifier = cls.normalize_handle(handle, context=context)
        password = secret.strip() if isinstance(secret, str) else ""
        if not password:
            raise PermanentError("Enter an app password.")
        if _APP_PASSWORD.fullmatch(password) is None:
            raise PermanentError(ASK_FOR_APP_CREDENTIAL)
        identity = await context.resolver.resolve(identifier, http)
        try:
            session = await xrpc(
                http,
                identity.pds,
                "com.atproto.server.createSession",
                body={"identifier": identity.did, "password": password},
                label="Bluesky",
            )
        except XrpcError as error:
            if error.error == "AuthFactorTokenRequired":
                raise PermanentError(TWO_FACTOR) from error
            if error.error == "AccountTakedown":
                raise PermanentError("Bluesky has taken this account down.") from error
            if error.status == 401 or error.error in _AUTH_ERRORS:
                raise PermanentError(REFUSED) from error
            raise PermanentError(f"Bluesky refused to sign in: {error.message}") from error
        access, refresh = session.get("accessJwt"), session.get("refreshJwt")
        if not isinstance(access, str) or not isinstance(refresh, str):
            raise Retriable("Bluesky's answer to signing in had no session in it.")
        if session.get("did") != identity.did:
            raise PermanentError(
                f"The server of {cls.display_handle(identifier)} signed in another account."
            )
        if session.get("active") is False:
            status = session.get("status")
            raise PermanentError(
                f"This Bluesky account is {status if isinstance(status, str) else 'inactive'}:"
                " activate it again before linking it."
            )
        actor = await _load_actor(http, identity, access)
        credentials = Credentials(
            access_token=access,
            refresh_token=refresh,
            extra={"did": identity.did, "pds": identity.pds},
        )
        return Linked(actor=actor, credentials=credentials)

    # -- with credentials --

    async def get_actor(self) -> Actor:
        """Who the session belongs to; the handle is confirmed again when it changed.

        An app-password session is renewed first: the PDS checks an access JWT by its
        signature alone, so only the refresh tells whether the app password was revoked.
        """
        did, pds = self._account()
        if self._dpop is None:
            await self._refresh()
        session = await self._call("com.atproto.server.getSession")
        if session.get("did") != did:
            raise AuthRevoked("This Bluesky session belongs to another account now.")
        if session.get("active") is False:
            raise AuthRevoked("This Bluesky account is no longer active.")
        claimed = session.get("handle")
        handle: str | None = None
        if isinstance(claimed, str) and claimed != INVALID_HANDLE and is_valid_handle(claimed):
            claimed = claimed.lower()
            if claimed == self.handle:
                handle = claimed
            else:
                # The PDS says the handle changed: believe it only when it is confirmed.
                handle = await self.context.resolver.confirmed_handle(did, self.http)
        identity = Identity(did=did, handle=handle, pds=pds)
        return await _load_actor(
            self.http, identity, self.credentials.access_token, dpop=self._dpop
        )

    # -- publishing --

    async def publish(self, draft: Draft, idempotency_key: str) -> Published:
        """Write one ``app.bsky.feed.post`` record, exactly once per ``idempotency_key``.

        The record's key is a TID derived from ``idempotency_key`` alone, so every attempt
        names the same record: a record already there is the first attempt's, read back and
        returned (before writing, and again when writing fails, since a PDS answers a key in
        use with an error of its own, or the answer may be lost on the way back).
        """
        did, _ = self._account()
        rkey = record_key(idempotency_key)
        text = compose(draft)
        check_draft(draft, text, self.POST_RULES)
        first = await self._published_record(did, rkey)
        if first is not None:
            return first
        images = [(await self._upload_blob(item), item) for item in draft.uploads]
        dids = await self._mentions(text)
        record = post_record(
            text,
            datetime.now(UTC),
            facets=facets(text, dids),
            images=images,
            reply_to=draft.reply_to,
        )
        request = {"repo": did, "collection": POSTS, "rkey": rkey, "record": record}
        try:
            created = await self._call("com.atproto.repo.createRecord", body=request)
        except RateLimited:
            raise
        except (XrpcError, Retriable) as error:
            try:
                first = await self._published_record(did, rkey)
            except ConnectorError:
                first = None
            if first is not None:
                return first
            if isinstance(error, XrpcError):
                raise refusal(error, "the post") from error
            raise
        uri, cid = created.get("uri"), created.get("cid")
        if not isinstance(uri, str) or not isinstance(cid, str) or not uri.endswith(f"/{rkey}"):
            raise Retriable("Bluesky's answer to publishing did not name the new post.")
        return published_post(self.handle, uri, cid)

    async def delete_post(self, published: Published, destination: str = "") -> None:
        """``com.atproto.repo.deleteRecord`` of the post's record; a record that is gone
        counts as deleted (the PDS answers so itself, https://docs.bsky.app/docs/api/
        com-atproto-repo-delete-record)."""
        did, _ = self._account()
        prefix = f"at://{did}/{POSTS}/"
        rkey = published.id.removeprefix(prefix)
        if not published.id.startswith(prefix) or not rkey or "/" in rkey:
            raise PermanentError("This is not a post of this Bluesky account.")
        try:
            await self._call(
                "com.atproto.repo.deleteRecord",
                body={"repo": did, "collection": POSTS, "rkey": rkey},
            )
        except XrpcError as error:
            if error.error == "RecordNotFound":
                return
            raise refusal(error, "taking the post down") from error

    # -- what people did with a post --

    async def responses(self, published: Published, destination: str = "") -> list[Response]:
        """Replies (``app.bsky.feed.getPostThread``, every level of the thread below the
        post), quotes (``getQuotes``), reposts (``getRepostedBy``) and likes (``getLikes``),
        the newest 100 of each: reads the account's PDS passes to its AppView, as the Bluesky
        app's are (https://docs.bsky.app/docs/api/app-bsky-feed-get-post-thread). A post
        deleted there has none."""
        uri = published.id
        if not uri.startswith("at://") or f"/{POSTS}/" not in uri:
            raise PermanentError("This is not a Bluesky post.")
        params = {"uri": uri, "depth": str(_THREAD_DEPTH), "parentHeight": "0"}
        thread = await self._read("app.bsky.feed.getPostThread", params)
        if thread is None:
            return []
        found = [_model.response("reply", view) for view in _model.replies_in(thread.get("thread"))]
        quotes = await self._read("app.bsky.feed.getQuotes", {"uri": uri, "limit": "100"})
        found += [_model.response("quote", view) for view in _list(quotes, "posts")]
        reposts = await self._read("app.bsky.feed.getRepostedBy", {"uri": uri, "limit": "100"})
        for profile in _list(reposts, "repostedBy"):
            actor = actor_from_profile(profile)
            found.append(Response("repost", actor.id, actor))
        likes = await self._read("app.bsky.feed.getLikes", {"uri": uri, "limit": "100"})
        for like in _list(likes, "likes"):
            liker = like.get("actor")
            if isinstance(liker, Mapping):
                actor = actor_from_profile(liker)
                when = _model.moment(like.get("createdAt"))
                found.append(Response("like", actor.id, actor, published=when))
        return found

    async def _read(self, nsid: str, params: Mapping[str, str]) -> dict[str, Any] | None:
        """A read its AppView answers; ``None`` for a post that is gone. (A PDS whose AppView
        is away answers with a 5xx: :class:`Retriable`.)"""
        try:
            return await self._call(nsid, params)
        except XrpcError as error:
            if error.error == "NotFound":
                return None
            raise refusal(error, "the answers to the post") from error

    # -- direct messages (``_chat``) --

    async def send_message(
        self,
        to: str,
        text: str,
        key: str = "",
        *,
        again: bool = False,
        picture: Upload | None = None,
    ) -> Delivered:
        """A chat message to ``to`` in their direct conversation with this account; a try
        ``again`` first looks there for the first try's. Where answers come
        (:attr:`Delivered.thread`) is the conversation's id. Chat takes no picture: the
        ``picture``'s portal address (:attr:`Upload.url`, the same on every try) follows the
        text."""
        chat = self._chat()
        address = picture.url if picture is not None else ""
        body = _chat.check_text(f"{text.strip()}\n\n{address}" if address else text)
        recipient = self.normalize_handle(to, context=self.context)
        who = self.display_handle(recipient)
        if recipient != self.handle and not recipient.startswith("did:"):
            # Chat needs the DID alone: the handle's DID, not its whole identity.
            recipient = await self.context.resolver.resolve_handle(recipient, self.http)
        if recipient in (self.handle, chat.did):
            raise PermanentError("A Bluesky account cannot write a direct message to itself.")
        convo = await chat.conversation(recipient, who)
        if again:
            first = await chat.sent_before(convo, body, who)
            if first is not None:
                return Delivered(first, thread=convo)
        sent = await chat.send(convo, body, facets(body, await self._mentions(body)), who)
        return Delivered(sent, thread=convo)

    async def answers(self, to: str, delivered: Delivered, since: datetime) -> list[Answer]:
        """What the other member of the message's conversation wrote since ``since``."""
        who = self.display_handle(self.normalize_handle(to, context=self.context))
        return await self._chat().answers(delivered.thread, since, who)

    def _chat(self) -> _chat.Chat:
        """The account's conversations, where its session may reach them."""
        did, _ = self._account()
        if self._dpop is not None and CHAT_SCOPE not in self.credentials.scope.split():
            raise PermanentError(_chat.NO_ACCESS_BY_SIGN_IN)
        return _chat.Chat(self._call, did)

    async def upload_media(self, media: Media, data: bytes) -> str:
        """Upload a picture as a blob (``com.atproto.repo.uploadBlob``); its CID.

        A blob nothing refers to is removed by the PDS after a while: :meth:`publish`
        uploads the pictures of a draft itself, right before the post that refers to them.
        """
        upload = Upload(data=data, mime_type=media.mime_type, description=media.description)
        check_picture(upload, self.POST_RULES)
        cid = blob_cid(await self._upload_blob(upload))
        if cid is None:
            raise Retriable("Bluesky's answer to the upload did not name the picture.")
        return cid

    async def _upload_blob(self, upload: Upload) -> dict[str, Any]:
        """The blob reference of an uploaded picture, as the PDS wrote it."""
        try:
            answer = await self._call(
                "com.atproto.repo.uploadBlob", content=upload.data, content_type=upload.mime_type
            )
        except XrpcError as error:
            raise refusal(error, "the picture") from error
        blob = answer.get("blob")
        if not isinstance(blob, dict) or blob_cid(blob) is None:
            raise Retriable("Bluesky's answer to the upload did not name the picture.")
        return blob

    async def _published_record(self, did: str, rkey: str) -> Published | None:
        """The post already written at ``rkey`` (``com.atproto.repo.getRecord``), if any."""
        try:
            found = await self._call(
                "com.atproto.repo.getRecord",
                {"repo": did, "collection": POSTS, "rkey": rkey},
            )
        except XrpcError as error:
            if error.error == "RecordNotFound":
                return None
            raise refusal(error, "the post") from error
        uri, cid = found.get("uri"), found.get("cid")
        if not isinstance(uri, str) or not isinstance(cid, str) or not cid:
            raise Retriable("Bluesky's answer about the post did not name it.")
        return published_post(self.handle, uri, cid)

    async def _mentions(self, text: str) -> dict[str, str]:
        """The DID of each handle the text mentions that resolves; the others are left out
        (their mention stays plain text, as in the Bluesky app)."""
        dids: dict[str, str] = {}
        for handle in mentioned_handles(text)[:_MAX_MENTIONS]:
            try:
                dids[handle] = await self.context.resolver.resolve_handle(handle, self.http)
            except (InvalidHandle, Retriable):
                continue
        return dids

    async def revoke(self) -> bool:
        """End the session at the PDS; a session that is already gone counts as ended."""
        _, pds = self._account()
        if not self.credentials.refresh_token or self._dpop is not None:
            return False  # an OAuth session is revoked at its authorization server
        try:
            await self._with_refresh_token(pds, "com.atproto.server.deleteSession")
        except XrpcError as error:
            if error.status == 401 or error.error in _AUTH_ERRORS:
                return True
            raise
        return True

    def _account(self) -> tuple[str, str]:
        did, pds = self.credentials.extra.get("did"), self.credentials.extra.get("pds")
        if not isinstance(did, str) or not isinstance(pds, str) or not did or not pds:
            raise AuthRevoked("This Bluesky link lacks its account and server: link it again.")
        return did, pds

    async def _call(
        self,
        nsid: str,
        params: Mapping[str, str] | None = None,
        *,
        body: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        content_type: str = "application/octet-stream",
        proxy: str | None = None,
    ) -> dict[str, Any]:
        """A query (``params``) or a procedure (``body`` as JSON, or ``content`` as it is) with
        the access JWT, refreshed once when the PDS says it expired; passed on by the PDS to
        the service ``proxy`` names, where it names one (``atproto-proxy``)."""
        _, pds = self._account()
        headers = {"atproto-proxy": proxy} if proxy else None
        for attempt in range(2):
            try:
                return await xrpc(
                    self.http,
                    pds,
                    nsid,
                    params=params,
                    body=body,
                    content=content,
                    content_type=content_type,
                    token=self.credentials.access_token,
                    dpop=self._dpop,
                    label="Bluesky",
                    headers=headers,
                )
            except XrpcError as error:
                if error.error == "ExpiredToken" and attempt == 0 and self._dpop is None:
                    await self._refresh()
                    continue
                if proxy == _chat.SERVICE and _chat.lacks_access(error):
                    raise PermanentError(_chat.NO_ACCESS) from error
                if error.error in ("AccountTakedown", "AccountDeactivated"):
                    raise AuthRevoked(
                        "Bluesky has suspended or deactivated this account."
                    ) from error
                if error.status == 401 or error.error in _AUTH_ERRORS:
                    raise AuthRevoked(REVOKED) from error
                raise
        raise AuthRevoked(REVOKED)

    async def _refresh(self) -> None:
        """Trade the refresh JWT for a new pair; :attr:`credentials` holds the new one."""
        _, pds = self._account()
        if not self.credentials.refresh_token:
            raise AuthRevoked(REVOKED)
        try:
            session = await self._with_refresh_token(pds, "com.atproto.server.refreshSession")
        except XrpcError as error:
            raise AuthRevoked(REVOKED) from error
        access, refresh = session.get("accessJwt"), session.get("refreshJwt")
        if not isinstance(access, str) or not isinstance(refresh, str):
            raise Retriable("Bluesky's answer to refreshing the session had no session in it.")
        if session.get("did") != self.credentials.extra.get("did"):
            raise AuthRevoked("This Bluesky session belongs to another account now.")
        self.credentials = replace(self.credentials, access_token=access, refresh_token=refresh)

    async def _with_refresh_token(self, pds: str, nsid: str) -> dict[str, Any]:
        """A procedure on the session itself, which the refresh JWT authorises."""
        return await xrpc(
            self.http, pds, nsid, token=self.credentials.refresh_token, post=True, label="Bluesky"
        )


def _list(answer: Mapping[str, Any] | None, key: str) -> list[Mapping[str, Any]]:
    items = answer.get(key) if answer is not None else None
    return [item for item in items if isinstance(item, Mapping)] if isinstance(items, list) else []


async def _load_actor(
    http: httpx.AsyncClient, identity: Identity, access_token: str, *, dpop: DPoP | None = None
) -> Actor:
    """The profile through the PDS's AppView, or from the profile record when it has none."""
    try:
        data = await xrpc(
            http,
            identity.pds,
            "app.bsky.actor.getProfile",
            params={"actor": identity.did},
            token=access_token,
            dpop=dpop,
            label="Bluesky",
        )
    except RateLimited:
        raise
    except (XrpcError, Retriable):
        data = None
    if data is not None and data.get("did") == identity.did:
        actor = actor_from_profile(data)
        # The handle we show is the one we confirmed ourselves.
        shown = identity.handle or identity.did
        return replace(actor, handle=shown, url=Bluesky.profile_url(shown))
    try:
        record = await xrpc(
            http,
            identity.pds,
            "com.atproto.repo.getRecord",
            params={"repo": identity.did, "collection": "app.bsky.actor.profile", "rkey": "self"},
            label="Bluesky",
        )
    except XrpcError as error:
        if error.error != "RecordNotFound":
            raise
        record = {}
    return actor_from_profile_record(identity.did, identity.handle, record, identity.pds)
