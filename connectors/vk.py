"""VK: a page's address and links, and posting to its wall or a community's.

Why it looks like this (the API docs are the truth: https://dev.vk.com/en/reference):

- Addresses: ``vk.com/id<number>`` or a chosen short address of Latin letters, digits, ``_``
  and ``.``.
- Linking is VK ID, OAuth 2.1 with PKCE (https://id.vk.com/about/business/go/docs/en/vkid/
  latest/vk-id/connection/api-integration/api-description): ``https://id.vk.com/authorize``;
  the person comes back with ``code``, ``state`` and a ``device_id``, and the code is
  exchanged at ``https://id.vk.com/oauth2/auth`` with the ``code_verifier``, the app's
  ``client_id``, that ``device_id`` and the ``state`` (a web app sends no secret: PKCE proves
  it). The answer gives ``access_token`` (an hour), ``refresh_token``, ``id_token`` and the
  ``user_id``; the ``device_id`` is kept with the tokens, since refreshing
  (``grant_type=refresh_token`` at the same address) needs it again, with a new random
  ``state``. Errors there are OAuth's (``{"error": "invalid_grant", "error_description"}``).
  Unlinking is ``POST /oauth2/revoke`` with the ``client_id`` and the ``access_token``, which
  takes back what the person allowed the app. Scopes: ``vkid.personal_info`` to know who it
  is, ``wall`` to post, ``photos`` to upload pictures.
- Every method is ``POST https://api.vk.com/method/<name>`` with ``v`` (the API version,
  :data:`VERSION`) and the ``access_token`` in the form, never in the address. VK answers
  HTTP 200 either way: ``{"response": …}`` or ``{"error": {"error_code", "error_msg"}}``
  (https://dev.vk.com/en/reference/errors). 5 is a token VK no longer accepts; 6 is more than
  three requests a second; 9 is flood control (too many of the same action) and 29 a method's
  daily limit; 1 and 10 are trouble on VK's side; 214 is a wall that takes no new posts, 15
  and 7 access Portal was not given; the rest are refusals told in VK's own words.
- A post is ``wall.post`` with ``message``, ``attachments`` (``photo<owner>_<id>``) and
  ``guid``: VK's "unique identifier … to prevent sending the same post twice", which carries
  the idempotency key, so a retried call makes one post. A post goes on the account's own
  wall (``PUBLISHES_TO`` is empty); a :attr:`~connectors.base.Draft.destination` naming a
  community (``club<id>``) posts on that community's wall as the community
  (``owner_id=-<id>``, ``from_group=1``), for a caller that names one.
- A picture is ``photos.getWallUploadServer``, the file sent as ``photo`` in a multipart
  ``POST`` to the ``upload_url`` it gives (a VK host, over https), then
  ``photos.saveWallPhoto`` with the ``server``, ``photo`` and ``hash`` that upload answered
  (https://dev.vk.com/en/api/upload/wall-photo).
- A post is known by ``<owner_id>_<post_id>``, as VK writes it (``vk.com/wall-1_2``);
  ``wall.delete`` and ``wall.edit`` take the two. ``wall.edit`` replaces the attachments
  with what it is given, so the post's own are read first (``wall.getById``) and given back.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from connectors import _http
from connectors._http import Failures, parse_json
from connectors._profile import ProfileLink, words
from connectors.base import (
    PUBLIC,
    Actor,
    AuthRevoked,
    ConnectorError,
    Context,
    Credentials,
    Draft,
    Media,
    OAuthClient,
    OAuthServer,
    PermanentError,
    PostRules,
    Published,
    RateLimited,
    Retriable,
    Upload,
)

API = "https://api.vk.com/method"
VERSION = "5.199"
ID_SERVER = "https://id.vk.com"
WHERE = "VK"
MAX_ANSWER = 1024 * 1024
UPLOAD_HOSTS = ("vk.com", "vk.ru", "userapi.com", "vkuser.net")
"""The hosts an ``upload_url`` may be on: Portal sends a picture nowhere else."""

AUTH_FAILED = 5
TOO_MANY_PER_SECOND = 6
FLOOD_CONTROL = 9
RATE_LIMIT = 29
TEMPORARY = frozenset({1, 10})
POSTING_DENIED = 214
ACCESS_DENIED = frozenset({7, 15, 203})

_POST = re.compile(r"(-?[1-9][0-9]{0,19})_([1-9][0-9]{0,19})")
_COMMUNITY = re.compile(r"(?:club|public|-)?([1-9][0-9]{0,19})")


def error_for(error: Mapping[str, Any], token: str) -> ConnectorError:
    """The error a VK ``error`` object means, in words for a person (never with the token)."""
    code = error.get("error_code")
    words = str(error.get("error_msg") or "")
    if token:
        words = words.replace(token, "…")
    said = "".join(char for char in words if char.isprintable()).strip()[:300]
    detail = f" ({said})" if said else ""
    if code == AUTH_FAILED:
        return AuthRevoked(f"VK no longer accepts Portal's access; connect it again{detail}.")
    if code == TOO_MANY_PER_SECOND:
        return RateLimited("VK takes at most three requests a second; Portal will wait.", 1.0)
    if code == FLOOD_CONTROL:
        return RateLimited(
            f"VK's flood control stops the same action repeated too often{detail}.", 3600.0
        )
    if code == RATE_LIMIT:
        return RateLimited(f"VK's daily limit for this is reached{detail}.", 3600.0)
    if code in TEMPORARY:
        return Retriable(f"VK had a temporary problem; Portal will try again{detail}.")
    if code == POSTING_DENIED:
        return PermanentError(f"VK does not let this account add a post on this wall{detail}.")
    if code in ACCESS_DENIED:
        return PermanentError(
            f"VK did not give Portal access to this; connect it again and allow it{detail}."
        )
    return PermanentError(f"VK refused the request{detail}.")


def _failures(where: str = WHERE) -> Failures:
    return Failures.about(
        where,
        unreachable=f"{where} could not be reached.",
        timeout=f"{where} did not answer in time.",
        too_large=f"{where} sent an answer larger than Portal accepts.",
    )


def _number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def post_url(post_id: str) -> str:
    return f"https://vk.com/wall{post_id}"


def _split_post(published: Published) -> tuple[int, int]:
    match = _POST.fullmatch(published.id) if isinstance(published.id, str) else None
    if not match:
        raise PermanentError("This post id is not one VK gave.")
    return int(match[1]), int(match[2])


def _on_vk(address: str) -> bool:
    try:
        parts = urlsplit(address)
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and any(
        host == allowed or host.endswith("." + allowed) for allowed in UPLOAD_HOSTS
    )


class VK(ProfileLink):
    NAME = "vk"
    LABEL = "VK"
    HANDLE_LABEL = "Short address or id"
    HANDLE_EXAMPLE = "ada_lovelace"
    HANDLE_PATTERN = (
        r"id[1-9][0-9]{0,11}|(?!.*\.\.)(?=.*[a-z])[a-z0-9_](?:[a-z0-9_.]{0,30}[a-z0-9_])?"
    )
    RULES = (
        "A VK address is id and the page's number, or a short address of at most 32 Latin "
        "letters, digits, underscores and periods."
    )
    HOSTS = ("vk.com", "vk.ru", "vkontakte.ru")
    RESERVED = words(
        "feed im friends groups audio audios video videos clips settings search apps "
        "market music services docs login join support about blog dev ads edit photos "
        "albums fave bugs"
    )
    PROFILE_URL = "https://vk.com/{handle}"

    LINK_ONLY = False
    AUTH = "oauth2"
    SCOPES = ("vkid.personal_info", "wall", "photos")
    CAN_VERIFY = True
    CAN_PUBLISH = True
    CAN_DELETE = True
    CAN_EDIT = True
    CAN_UPLOAD_MEDIA = True
    MAX_TEXT_LENGTH = 15000
    POST_RULES = PostRules(
        max_length=15000,
        max_media=10,
        max_media_bytes=50 * 1024 * 1024,
        media_types=("image/jpeg", "image/png", "image/gif"),
        threads=False,
    )
    """A wall post: up to ten attachments, photos of JPG, PNG or GIF up to 50 MB
    (https://dev.vk.com/en/api/upload/wall-photo). The reference names no longest
    ``message``; about 16,000 characters is what is commonly reported, so Portal keeps to
    15,000."""
    SERVER: ClassVar[str] = "vk.com"

    def __init__(
        self,
        handle: str,
        credentials: Credentials,
        http: httpx.AsyncClient,
        *,
        context: Context = PUBLIC,
    ) -> None:
        super().__init__(handle, credentials, http, context=context)
        self._user_id: int | None = None

    # -- OAuth (VK ID) --

    @classmethod
    async def oauth_server(
        cls, server: str, http: httpx.AsyncClient, *, context: Context = PUBLIC
    ) -> OAuthServer:
        return OAuthServer(
            issuer=ID_SERVER,
            authorization_endpoint=f"{ID_SERVER}/authorize",
            token_endpoint=f"{ID_SERVER}/oauth2/auth",
            revocation_endpoint=f"{ID_SERVER}/oauth2/revoke",
            userinfo_endpoint=f"{ID_SERVER}/oauth2/user_info",
            scopes_supported=cls.SCOPES,
            token_endpoint_auth_methods_supported=("none",),
        )

    OAUTH_RETURNS = ("device_id", "state")

    @classmethod
    def token_parameters(cls, grant_type: str, kept: Mapping[str, Any]) -> dict[str, str]:
        """VK ID's token requests name the device the person signed in on, and a state."""
        device = kept.get("device_id")
        if not isinstance(device, str) or not device or len(device) > 500:
            raise PermanentError(
                "VK did not say which device you signed in on, so the link cannot be "
                "completed: connect the account again."
            )
        if grant_type == "authorization_code":
            return {"device_id": device, "state": str(kept.get("state") or "")}
        return {"device_id": device, "state": secrets.token_urlsafe(32)}

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
        """Keep the device (for refreshing), the app (for unlinking) and whose tokens they are."""
        user_id = _number(answer.get("user_id"))
        if isinstance(answer.get("user_id"), str) and str(answer["user_id"]).isdigit():
            user_id = int(answer["user_id"])
        if user_id is None or user_id <= 0:
            raise PermanentError("VK did not say who signed in.")
        extra = {
            **credentials.extra,
            "device_id": returned["device_id"],
            "user_id": user_id,
            "client_id": client.client_id,
        }
        return Credentials(
            credentials.access_token,
            credentials.refresh_token,
            credentials.expires_at,
            credentials.scope,
            extra,
        )

    async def revoke(self) -> bool:
        """``POST /oauth2/revoke``: the app loses what the person allowed it."""
        client_id = self.credentials.extra.get("client_id")
        token = self.credentials.access_token
        if not token or not isinstance(client_id, str | int) or not str(client_id):
            return False
        response = await _http.send(
            self.http,
            "POST",
            f"{ID_SERVER}/oauth2/revoke",
            _failures("VK ID"),
            limit=MAX_ANSWER,
            data={"client_id": str(client_id), "access_token": token},
            headers={"accept": "application/json"},
        )
        try:
            answer = parse_json(response.content)
        except ValueError:
            return False
        return response.status_code == 200 and isinstance(answer, Mapping) and "error" not in answer

    @classmethod
    def server_name(cls, raw: str, *, context: Context = PUBLIC) -> str:
        """VK is one server, whatever is named."""
        return cls.SERVER

    # -- the API --

    async def call(self, method: str, **params: str | int) -> Any:
        """One API method; its ``response``, or the error VK's answer means."""
        token = self.credentials.access_token
        if not token:
            raise AuthRevoked("Portal holds no access to this VK account: connect it again.")
        form = {key: str(value) for key, value in params.items()}
        form.update(v=VERSION, access_token=token)
        response = await _http.send(
            self.http,
            "POST",
            f"{API}/{method}",
            _failures(),
            limit=MAX_ANSWER,
            data=form,
            headers={"accept": "application/json"},
        )
        _http.check(response, _failures())
        try:
            payload = parse_json(response.content)
        except ValueError as error:
            raise PermanentError("VK answered with something that is not its API's.") from error
        if not isinstance(payload, Mapping):
            raise PermanentError("VK answered with something that is not its API's.")
        if isinstance(payload.get("error"), Mapping):
            raise error_for(payload["error"], token)
        if "response" not in payload:
            raise PermanentError("VK answered with something that is not its API's.")
        return payload["response"]

    # -- the account --

    async def get_actor(self) -> Actor:
        """The token's own account (``users.get`` with no ids)."""
        data = await self.call("users.get", fields="screen_name,photo_200")
        person = data[0] if isinstance(data, list) and data else None
        user_id = _number(person.get("id")) if isinstance(person, Mapping) else None
        if not isinstance(person, Mapping) or user_id is None or user_id <= 0:
            raise PermanentError("VK did not say who this is.")
        signed_in = self.credentials.extra.get("user_id")
        if isinstance(signed_in, int) and signed_in != user_id:
            raise PermanentError("VK described another account than the one that signed in.")
        self._user_id = user_id
        screen = person.get("screen_name")
        handle = f"id{user_id}"
        if isinstance(screen, str) and screen:
            try:
                handle = self.normalize_handle(screen, context=self.context)
            except ConnectorError:
                handle = f"id{user_id}"
        name = " ".join(
            part
            for part in (person.get("first_name"), person.get("last_name"))
            if isinstance(part, str) and part
        )
        photo = person.get("photo_200")
        return Actor(
            network=self.NAME,
            id=str(user_id),
            handle=handle,
            display_name=name[:200],
            url=self.profile_url(handle),
            avatar_url=photo if isinstance(photo, str) and _on_vk(photo) else None,
        )

    async def _own_id(self) -> int:
        """The account's user id: kept with the credentials (``user_id`` of VK ID's token
        answer), in an ``id<number>`` handle, or asked for."""
        if self._user_id is None:
            kept = self.credentials.extra.get("user_id")
            if isinstance(kept, int | str) and str(kept).isdigit() and int(kept) > 0:
                self._user_id = int(kept)
            elif re.fullmatch(r"id[1-9][0-9]*", self.handle):
                self._user_id = int(self.handle[2:])
            else:
                await self.get_actor()
        assert self._user_id is not None
        return self._user_id

    # -- publishing --

    async def publish(self, draft: Draft, idempotency_key: str) -> Published:
        key = idempotency_key.strip() if isinstance(idempotency_key, str) else ""
        if not key or len(key) > 200 or not (key.isascii() and key.isprintable()):
            raise PermanentError("Publishing needs a key of up to 200 characters to happen once.")
        if draft.reply_to is not None:
            raise PermanentError("A VK wall post cannot answer another post.")
        community = _community(draft.destination)
        text = draft.text.strip()
        if draft.link and draft.link not in text:
            text = f"{text}\n\n{draft.link}" if text else draft.link
        pictures = len(draft.uploads) + len(draft.media)
        if not text and not pictures:
            raise PermanentError("There is nothing to publish: write something or add a picture.")
        if pictures > self.POST_RULES.max_media:
            raise PermanentError(
                f"VK takes at most {self.POST_RULES.max_media} attachments in a post."
            )
        if draft.media:
            raise PermanentError("VK takes the pictures themselves, not their addresses.")
        attachments = [await self._upload(upload, community) for upload in draft.uploads]
        params: dict[str, str | int] = {"guid": key}
        if text:
            params["message"] = text
        if attachments:
            params["attachments"] = ",".join(attachments)
        if community is not None:
            params.update(owner_id=-community, from_group=1)
        data = await self.call("wall.post", **params)
        post_id = _number(data.get("post_id")) if isinstance(data, Mapping) else None
        if post_id is None or post_id <= 0:
            raise PermanentError("VK did not say which post it made.")
        owner = -community if community is not None else await self._own_id()
        published_id = f"{owner}_{post_id}"
        return Published(id=published_id, url=post_url(published_id))

    async def upload_media(self, media: Media, data: bytes) -> str:
        """A picture on the account's own wall album: ``photo<owner>_<id>`` to attach."""
        upload = Upload(data=data, mime_type=media.mime_type, description=media.description)
        return await self._upload(upload, None)

    async def _upload(self, upload: Upload, community: int | None) -> str:
        """The three steps of a wall picture; the attachment that names it."""
        if upload.mime_type not in self.POST_RULES.media_types:
            raise PermanentError("VK takes JPEG, PNG and GIF pictures.")
        if not upload.data or len(upload.data) > self.POST_RULES.max_media_bytes:
            raise PermanentError("VK takes pictures of at most 50 MB.")
        group = {"group_id": community} if community is not None else {}
        server = await self.call("photos.getWallUploadServer", **group)
        upload_url = server.get("upload_url") if isinstance(server, Mapping) else None
        if not isinstance(upload_url, str) or not _on_vk(upload_url):
            raise PermanentError("VK named an upload address Portal does not send pictures to.")
        extension = upload.mime_type.rsplit("/", 1)[-1]
        response = await _http.send(
            self.http,
            "POST",
            upload_url,
            _failures("VK's upload server"),
            limit=MAX_ANSWER,
            files={"photo": (f"picture.{extension}", upload.data, upload.mime_type)},
            timeout=httpx.Timeout(60.0, connect=5.0),
        )
        _http.check(response, _failures("VK's upload server"))
        try:
            sent = parse_json(response.content)
        except ValueError as error:
            raise PermanentError("VK's upload server did not answer as expected.") from error
        photo = sent.get("photo") if isinstance(sent, Mapping) else None
        if not isinstance(photo, str) or photo in ("", "[]"):
            said = sent.get("error") if isinstance(sent, Mapping) else None
            detail = f" ({str(said)[:200]})" if isinstance(said, str) and said else ""
            raise PermanentError(f"VK did not take the picture{detail}.")
        save: dict[str, str | int] = {
            "server": str(sent.get("server", "")),
            "photo": photo,
            "hash": str(sent.get("hash", "")),
        }
        if upload.description:
            save["caption"] = upload.description[:2048]
        if community is not None:
            save["group_id"] = community
        saved = await self.call("photos.saveWallPhoto", **save)
        first = saved[0] if isinstance(saved, list) and saved else None
        photo_id = _number(first.get("id")) if isinstance(first, Mapping) else None
        owner = _number(first.get("owner_id")) if isinstance(first, Mapping) else None
        if photo_id is None or owner is None:
            raise PermanentError("VK did not say which picture it saved.")
        return f"photo{owner}_{photo_id}"

    async def delete_post(self, published: Published, destination: str = "") -> None:
        owner, post = _split_post(published)
        await self.call("wall.delete", owner_id=owner, post_id=post)

    async def edit_post(self, published: Published, draft: Draft) -> None:
        owner, post = _split_post(published)
        text = draft.text.strip()
        if draft.link and draft.link not in text:
            text = f"{text}\n\n{draft.link}" if text else draft.link
        attachments = await self._attachments(published.id)
        if not text and not attachments:
            raise PermanentError("A VK post cannot be edited to have nothing in it.")
        params: dict[str, str | int] = {"owner_id": owner, "post_id": post, "message": text}
        if attachments:
            params["attachments"] = ",".join(attachments)
        await self.call("wall.edit", **params)

    async def _attachments(self, post_id: str) -> list[str]:
        """The photos a post has now, as ``wall.edit`` takes them back."""
        data = await self.call("wall.getById", posts=post_id)
        items = data.get("items") if isinstance(data, Mapping) else data
        post = items[0] if isinstance(items, list) and items else None
        found = post.get("attachments") if isinstance(post, Mapping) else None
        kept: list[str] = []
        for item in found if isinstance(found, list) else []:
            photo = item.get("photo") if isinstance(item, Mapping) else None
            if not isinstance(photo, Mapping):
                continue
            owner, photo_id = _number(photo.get("owner_id")), _number(photo.get("id"))
            if owner is not None and photo_id is not None:
                access = photo.get("access_key")
                suffix = f"_{access}" if isinstance(access, str) and access.isalnum() else ""
                kept.append(f"photo{owner}_{photo_id}{suffix}")
        return kept


def _community(destination: str) -> int | None:
    """The community a destination names (``123``, ``-123``, ``club123``), or ``None``."""
    if not destination:
        return None
    match = _COMMUNITY.fullmatch(destination.strip())
    if not match:
        raise PermanentError("Name the VK community by its number, like club123.")
    return int(match[1])
