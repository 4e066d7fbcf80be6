"""The Matrix connector: signing in once, verifying the session, direct messages, posts into
a room (the why of it is in :mod:`connectors.matrix`)."""

from __future__ import annotations

import contextlib
import mimetypes
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from connectors import base
from connectors.base import (
    Actor,
    Answer,
    AuthRevoked,
    ConnectorError,
    Credentials,
    Delivered,
    Draft,
    InvalidHandle,
    Linked,
    Media,
    PermanentError,
    PostRules,
    Published,
    Response,
    Retriable,
    Upload,
)
from connectors.matrix import _direct as direct
from connectors.matrix._answers import actor, answers
from connectors.matrix._discovery import checked_base_url, discover_homeserver
from connectors.matrix._homeserver import SIGNED_OUT, Homeserver, MatrixError, NotFound
from connectors.matrix._ids import (
    host_of,
    is_event_id,
    is_loopback,
    normalize_room,
    normalize_user_id,
    segment,
    server_of,
)
from connectors.matrix._publishing import (
    MAX_TEXT_BYTES,
    POST_RULES,
    events_of_post,
    filename,
    image_content,
    permalink,
    plain_text,
    redact,
    room_id_of,
    room_to_post_in,
    send,
    text_content,
    thread_relation,
    transaction_id,
)

DEVICE_NAME = "Portal"
"""How the session Portal opens is named in the person's list of devices."""

_MAX_BODY_BYTES = 60_000
"""A message must fit in one event, which may not exceed 65536 bytes in all."""
_REFUSED = "The Matrix server refused this user name or password."
_SEARCHED_ROOMS = 200
"""The most rooms outside ``m.direct`` that a try again looks in for the try before it."""


class Matrix(base.Connector):
    NAME = "matrix"
    MESSENGER = True
    LABEL = "Matrix"
    AUTH = "password"
    HANDLE_LABEL = "Matrix ID"
    HANDLE_EXAMPLE = "@ada:example.org"
    CAN_VERIFY = True
    CAN_MESSAGE = True
    CAN_READ_ANSWERS = True
    CAN_WITHDRAW = True
    CAN_PUBLISH = True
    CAN_DELETE = True
    CAN_BACKFEED = True
    CAN_UPLOAD_MEDIA = True
    PUBLISHES_TO = "room"
    MAX_TEXT_LENGTH = MAX_TEXT_BYTES
    TEXT_COUNTING = "bytes"
    POST_RULES = POST_RULES

    # -- handles --

    @classmethod
    def normalize_handle(cls, raw: str, *, context: base.Context = base.PUBLIC) -> str:
        return normalize_user_id(raw)

    @classmethod
    def profile_url(cls, handle: str) -> str:
        return f"https://matrix.to/#/{quote(handle, safe='@:[]/=+')}"

    # -- signing in --

    @classmethod
    async def sign_in(
        cls,
        handle: str,
        secret: str,
        http: httpx.AsyncClient,
        *,
        context: base.Context = base.PUBLIC,
    ) -> Linked:
        user_id = cls.normalize_handle(handle, context=context)
        if not secret:
            raise PermanentError("Enter the password of this Matrix account.")
        base_url = await discover_homeserver(
            server_of(user_id), http, allow_loopback=context.allow_loopback
        )
        server = Homeserver(http, base_url)
        await server.require_password_login()
        try:
            login = await server.call(
                "POST",
                "/_matrix/client/v3/login",
                {
                    "type": "m.login.password",
                    "identifier": {"type": "m.id.user", "user": user_id},
                    "password": secret,
                    "initial_device_display_name": DEVICE_NAME,
                },
            )
        except MatrixError as error:
            if error.errcode == "M_USER_DEACTIVATED":
                raise PermanentError("This Matrix account has been deactivated.") from None
            if error.errcode in ("M_FORBIDDEN", "M_UNAUTHORIZED") or error.status in (401, 403):
                raise PermanentError(_REFUSED) from None
            raise
        token = login.get("access_token")
        if not isinstance(token, str) or not token:
            raise PermanentError("The Matrix server signed in without giving Portal a session.")
        server.token = token
        try:
            whoami = await server.call("GET", "/_matrix/client/v3/account/whoami")
            signed_in = _user_id_in(whoami)
            if signed_in != user_id:
                raise PermanentError(
                    f"The Matrix server signed in {signed_in or 'someone else'}, not {user_id}: "
                    "Portal did not link it."
                )
            profile = await server.profile(user_id)
        except Exception:
            await server.logout_quietly()
            raise
        device_id = login.get("device_id") or whoami.get("device_id") or ""
        expires_in = login.get("expires_in_ms")
        expires_at = (
            datetime.now(UTC) + timedelta(milliseconds=expires_in)
            if isinstance(expires_in, int) and not isinstance(expires_in, bool) and expires_in > 0
            else None
        )
        credentials = Credentials(
            access_token=token,
            expires_at=expires_at,
            extra={"homeserver": base_url, "device_id": str(device_id)},
        )
        return Linked(actor(user_id, profile), credentials)

    # -- with an account --

    async def get_actor(self) -> Actor:
        server = await self._server()
        whoami = await server.call("GET", "/_matrix/client/v3/account/whoami")
        if _user_id_in(whoami) != self.handle:
            raise AuthRevoked(f"Portal's Matrix session no longer belongs to {self.handle}.")
        return actor(self.handle, await server.profile(self.handle))

    async def send_message(
        self,
        to: str,
        text: str,
        key: str = "",
        *,
        again: bool = False,
        picture: Upload | None = None,
    ) -> Delivered:
        """The text into the direct room with ``to``, after ``picture`` as an ``m.image`` of
        its own (uploaded to the account's media repository): two events, each with its own
        transaction id made from ``key``, so that a try again repeats neither. The text's
        event is the message: answers, receipts and taking it back go by it."""
        recipient = self.normalize_handle(to, context=self.context)
        if recipient == self.handle:
            raise PermanentError("A Matrix account cannot send a direct message to itself.")
        body = text.replace("\x00", "")
        if not body.strip():
            raise PermanentError("The message is empty.")
        if len(body.encode()) > _MAX_BODY_BYTES:
            raise PermanentError("This message is too long for one Matrix message.")
        server = await self._server()
        # The server sends a transaction id it saw from the same device in a room once: the
        # key makes a repeated try one (the spec's "Transaction identifiers") in the room
        # the try before went to, which this one looks for first.
        transaction = base.idempotency_key(key) if key else uuid.uuid4().hex
        before = await self._sent_before(server, recipient, transaction) if again and key else None
        if before is not None and before.id:
            return before
        room_id = (
            before.thread if before is not None else await self._direct_room(server, recipient)
        )
        if picture is not None:
            uri = await self._upload(server, picture.data, picture.mime_type)
            image = image_content(picture, uri, None, None)
            await send(server, (room_id, room_id), f"{transaction}.picture", image)
        content = {"msgtype": "m.text", "body": body}
        event_id = await send(server, (room_id, room_id), transaction, content)
        return Delivered(event_id, thread=room_id)

    async def answers(self, to: str, delivered: Delivered, since: datetime) -> list[Answer]:
        """What ``to`` wrote in the message's direct room since ``since``
        (:mod:`connectors.matrix._direct`)."""
        recipient = self.normalize_handle(to, context=self.context)
        server = await self._server()
        room_id = await self._conversation(server, recipient, delivered)
        return await direct.answers(server, room_id, recipient, since, server_of(self.handle))

    async def message_read(self, to: str, delivered: Delivered) -> bool:
        """Whether ``to`` has a public read receipt on the message or after it, or wrote
        after it."""
        recipient = self.normalize_handle(to, context=self.context)
        server = await self._server()
        room_id = await self._conversation(server, recipient, delivered)
        return await direct.read(server, room_id, delivered.id, recipient)

    async def withdraw_message(self, to: str, delivered: Delivered) -> None:
        """Redact the message; one redacted already, or gone, is done."""
        recipient = self.normalize_handle(to, context=self.context)
        server = await self._server()
        room_id = await self._conversation(server, recipient, delivered)
        await direct.withdraw(server, room_id, delivered.id, self.handle)

    # -- posts into a room --

    async def post_rules(self) -> PostRules:
        """:attr:`POST_RULES`, with pictures no larger than the server takes (``m.upload.size``,
        https://spec.matrix.org/latest/client-server-api/#get_matrixclientv1mediaconfig)."""
        rules = self.POST_RULES
        try:
            server = await self._server()
            config = await server.call("GET", "/_matrix/client/v1/media/config")
        except ConnectorError:
            return rules  # publishing will say what is wrong, if anything is
        size = config.get("m.upload.size")
        if isinstance(size, int) and not isinstance(size, bool) and size > 0:
            return replace(rules, max_media_bytes=min(rules.max_media_bytes, size))
        return rules

    async def publish(self, draft: Draft, idempotency_key: str) -> Published:
        if not isinstance(idempotency_key, str) or not idempotency_key.strip():
            raise PermanentError("Publishing needs a key to happen once.")
        text = plain_text(draft.text).strip()
        if not text and not draft.uploads:
            raise PermanentError("There is nothing to publish: write something or add a picture.")
        if self.count_text(text) > MAX_TEXT_BYTES:
            raise PermanentError(
                f"This post is {self.count_text(text):,} bytes, and Portal posts at most "
                f"{MAX_TEXT_BYTES:,} in one Matrix message."
            )
        if len(draft.uploads) > POST_RULES.max_media:
            raise PermanentError(f"Portal attaches at most {POST_RULES.max_media} pictures.")
        thread = draft.reply_to
        if thread and not (is_event_id(thread.root.id) and is_event_id(thread.parent.id)):
            raise PermanentError("This thread does not start with a Matrix message.")
        server = await self._server()
        room = await room_to_post_in(server, draft.destination.strip(), thread)
        first = ""
        if text:
            relation = thread_relation(thread.root.id, thread.parent.id) if thread else None
            first = await send(
                server, room, transaction_id(idempotency_key, 0), text_content(text, relation)
            )
        for index, upload in enumerate(draft.uploads, start=1):
            uri = await self._upload(server, upload.data, upload.mime_type)
            previous = first or (thread.parent.id if thread else "")
            relation = thread_relation(thread.root.id, previous) if thread else None
            content = image_content(upload, uri, relation, part_of=first or None)
            event_id = await send(server, room, transaction_id(idempotency_key, index), content)
            first = first or event_id
        room_id = room[0]
        return Published(first, permalink(room_id, first, server_of(self.handle)), ref=room_id)

    async def delete_post(self, published: Published, destination: str = "") -> None:
        if not is_event_id(published.id):
            raise PermanentError("This is not a Matrix message.")
        if not (published.ref or destination.strip()):
            raise PermanentError("Portal does not know which Matrix room this post is in.")
        try:
            named = normalize_room(published.ref or destination)
        except InvalidHandle as error:
            raise PermanentError(error.message) from None
        server = await self._server()
        room_id = await room_id_of(server, named)
        for event_id in await events_of_post(server, room_id, published.id, self.handle):
            await redact(server, room_id, event_id)

    async def responses(self, published: Published, destination: str = "") -> list[Response]:
        """Replies to the post (in its thread, or quoting it) and reactions to it, in the room
        it went to (:mod:`connectors.matrix._answers`)."""
        if not is_event_id(published.id) or not published.ref:
            raise PermanentError("This is not a Matrix message Portal posted.")
        server = await self._server()
        return await answers(server, published.ref, published.id, server_of(self.handle))

    async def upload_media(self, media: Media, data: bytes) -> str:
        """Put a picture in the account's media repository; its ``mxc://`` URI."""
        mime_type = media.mime_type or mimetypes.guess_type(media.url)[0] or ""
        return await self._upload(await self._server(), data, mime_type)

    async def revoke(self) -> bool:
        server = await self._server()
        with contextlib.suppress(AuthRevoked):  # already ended
            await server.call("POST", "/_matrix/client/v3/logout", {})
        return True

    # -- helpers --

    async def _upload(self, server: Homeserver, data: bytes, mime_type: str) -> str:
        if not data:
            raise PermanentError("This picture is empty.")
        if not mime_type.startswith("image/"):
            raise PermanentError("Matrix needs to know the picture's type (like image/png).")
        try:
            return await server.upload(data, mime_type, filename(mime_type))
        except MatrixError as error:
            if error.errcode == "M_TOO_LARGE" or error.status == 413:
                raise PermanentError(
                    "This picture is larger than the Matrix server takes."
                ) from None
            raise

    async def _server(self) -> Homeserver:
        token = self.credentials.access_token
        if not token:
            raise AuthRevoked(SIGNED_OUT)
        stored = self.credentials.extra.get("homeserver")
        server_name = server_of(self.handle)
        loopback = self.context.allow_loopback and is_loopback(host_of(server_name))
        if isinstance(stored, str) and stored:
            base_url = checked_base_url(stored, loopback=loopback)
        else:
            base_url = await discover_homeserver(
                server_name, self.http, allow_loopback=self.context.allow_loopback
            )
        return Homeserver(self.http, base_url, token)

    async def _conversation(self, server: Homeserver, recipient: str, delivered: Delivered) -> str:
        """The room a direct message to ``recipient`` went to: the one it names, or for a
        message that names none (sent before rooms were kept), the direct room with them
        that a message would go to now; none is made."""
        if not is_event_id(delivered.id):
            raise PermanentError("This is not a Matrix message.")
        if delivered.thread:
            try:
                room_id = normalize_room(delivered.thread)
            except InvalidHandle as error:
                raise PermanentError(error.message) from None
            if not room_id.startswith("!"):
                raise PermanentError("This Matrix message names no room it went to.")
            return room_id
        found = await self._usable_direct_room(server, recipient, await self._direct(server))
        if found is None:
            raise PermanentError(f"Portal finds no direct conversation with {recipient} on Matrix.")
        return found

    async def _direct(self, server: Homeserver) -> dict[str, Any] | None:
        """The rooms the account marked direct, by person (``m.direct``); ``None`` where the
        server does not tell."""
        try:
            return await server.call("GET", self._direct_path())
        except NotFound:
            return {}
        except PermanentError:
            return None

    def _direct_path(self) -> str:
        return f"/_matrix/client/v3/user/{segment(self.handle)}/account_data/m.direct"

    async def _usable_direct_room(
        self, server: Homeserver, recipient: str, direct: dict[str, Any] | None
    ) -> str | None:
        """The newest room of ``direct`` with ``recipient`` that can carry a message."""
        rooms = (direct or {}).get(recipient)
        for room_id in reversed(rooms if isinstance(rooms, list) else []):
            if isinstance(room_id, str) and await self._usable(server, room_id, recipient):
                return room_id
        return None

    async def _sent_before(
        self, server: Homeserver, recipient: str, transaction: str
    ) -> Delivered | None:
        """Where a try before this one sent the message with ``transaction``, if one did
        (:func:`connectors.matrix._direct.sent_before`). It need not be the room this try
        would choose: two messages to someone without a direct room yet each make one, and
        ``m.direct``, written whole by each, may keep only the other's. So the rooms marked
        direct with ``recipient`` are searched, then every other room of the account that
        ``recipient`` is or was in (of the first :data:`_SEARCHED_ROOMS`)."""
        listed = (await self._direct(server) or {}).get(recipient)
        listed = listed if isinstance(listed, list) else []
        rooms = [room_id for room_id in reversed(listed) if isinstance(room_id, str)]
        found = await direct.sent_before(server, rooms, self.handle, transaction)
        if found is not None:
            return found
        joined = (await server.call("GET", "/_matrix/client/v3/joined_rooms")).get("joined_rooms")
        others = [
            room_id
            for room_id in (joined if isinstance(joined, list) else [])[:_SEARCHED_ROOMS]
            if isinstance(room_id, str)
            and room_id not in rooms
            and await self._membership(server, room_id, recipient)
        ]
        return await direct.sent_before(server, others, self.handle, transaction)

    async def _membership(self, server: Homeserver, room_id: str, user_id: str) -> str:
        """``user_id``'s membership of ``room_id`` (``join``, ``invite``, ``leave``…); empty
        where they never were in it, or the room cannot be read."""
        state = f"/_matrix/client/v3/rooms/{segment(room_id)}/state/m.room.member"
        try:
            member = await server.call("GET", f"{state}/{segment(user_id)}")
        except PermanentError:
            return ""
        membership = member.get("membership")
        return membership if isinstance(membership, str) else ""

    async def _direct_room(self, server: Homeserver, recipient: str) -> str:
        """A direct room with ``recipient`` that can carry an unencrypted message."""
        direct = await self._direct(server)
        found = await self._usable_direct_room(server, recipient, direct)
        if found is not None:
            return found
        rooms = (direct or {}).get(recipient)
        try:
            await server.call("GET", f"/_matrix/client/v3/profile/{segment(recipient)}")
        except NotFound:
            raise PermanentError(f"There is no Matrix user {recipient}.") from None
        except PermanentError:
            pass  # the profile is private; the invitation will tell
        created = await server.call(
            "POST",
            "/_matrix/client/v3/createRoom",
            {"preset": "trusted_private_chat", "is_direct": True, "invite": [recipient]},
        )
        room_id = created.get("room_id")
        if not isinstance(room_id, str) or not room_id:
            raise Retriable("The Matrix server did not say which room it created.")
        if direct is not None:
            listed = [r for r in (rooms if isinstance(rooms, list) else []) if isinstance(r, str)]
            direct = {**direct, recipient: [*listed, room_id]}
            # Should this fail, the room works all the same; clients just do not list it as direct.
            with contextlib.suppress(PermanentError):
                await server.call("PUT", self._direct_path(), direct)
        return room_id

    async def _usable(self, server: Homeserver, room_id: str, recipient: str) -> bool:
        """We are joined, the recipient is joined or invited, and the room is not encrypted."""
        if await self._membership(server, room_id, self.handle) != "join":
            return False
        if await self._membership(server, room_id, recipient) not in ("join", "invite"):
            return False
        try:
            await server.call(
                "GET", f"/_matrix/client/v3/rooms/{segment(room_id)}/state/m.room.encryption"
            )
        except NotFound:
            return True
        except PermanentError:
            return False
        return False


def _user_id_in(whoami: dict[str, Any]) -> str | None:
    user_id = whoami.get("user_id")
    if not isinstance(user_id, str):
        return None
    try:
        return Matrix.normalize_handle(user_id)
    except InvalidHandle:
        return None
