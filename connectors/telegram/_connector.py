"""The Telegram connector (the why of it is in :mod:`connectors.telegram`)."""

from __future__ import annotations

import mimetypes
from typing import Any, ClassVar

import httpx

from connectors import _http, base
from connectors.base import AuthRevoked, Draft, PermanentError, Published
from connectors.telegram import _bot
from connectors.telegram._bot import Gone, NoSuchMember, Unchanged
from connectors.telegram._login import (
    NETWORK,
    normalize_handle,
    profile_url,
    verify_login,
)

MAX_TEXT = 4096
"""The longest text of one message (``sendMessage``)."""
MAX_CAPTION = 1024
"""The longest text that goes with a picture or an album."""
MAX_PICTURES = 10
"""The most pictures of one album (``sendMediaGroup`` takes 2 to 10)."""
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_PHOTO_SIDES = 10_000
"""The most a photo's width and height may add up to."""
MAX_PHOTO_RATIO = 20
"""The most one side of a photo may be times the other."""
PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp")
"""What goes as a photo; a GIF would become a still picture."""

NOT_ADMIN = (
    "You are not an administrator of this channel or group who may post in it, so Portal "
    "will not post there for you. Its creator can make your Telegram account one."
)
NO_ACCOUNT_NUMBER = (
    "Portal does not know the number of your Telegram account, which it checks before "
    "posting for you: log in with Telegram again."
)


class Telegram(base.Connector):
    NAME = NETWORK
    MESSENGER = True
    LABEL = "Telegram"
    AUTH = "widget"
    HANDLE_LABEL = "Telegram username"
    HANDLE_EXAMPLE = "@ada_lovelace"
    CAN_PUBLISH = True
    CAN_DELETE = True
    CAN_EDIT = True
    ANSWERS_COME_TO_BOT = True
    MESSAGES_BY_BOT = True
    MAX_TEXT_LENGTH = MAX_TEXT
    TEXT_COUNTING = "utf16"
    """Telegram counts in UTF-16 code units, as its message entities do; never fewer than
    the characters."""
    PUBLISHES_TO = "channel"
    POST_RULES: ClassVar[base.PostRules] = base.PostRules(
        max_length=MAX_TEXT,
        caption_length=MAX_CAPTION,
        max_media=MAX_PICTURES,
        max_media_bytes=MAX_PHOTO_BYTES,
        media_types=PHOTO_TYPES,
    )

    def __init__(
        self,
        handle: str,
        credentials: base.Credentials,
        http: httpx.AsyncClient,
        *,
        context: base.Context = base.PUBLIC,
    ) -> None:
        super().__init__(handle, credentials, http, context=context)
        self._may_post_in: set[str] = set()

    # -- handles --

    @classmethod
    def normalize_handle(cls, raw: str, *, context: base.Context = base.PUBLIC) -> str:
        return normalize_handle(raw)

    @classmethod
    def profile_url(cls, handle: str) -> str:
        return profile_url(handle)

    @classmethod
    def deep_link(cls, handle: str) -> str:
        return f"tg://resolve?domain={handle}"

    @classmethod
    def display_handle(cls, handle: str) -> str:
        return f"@{handle}"

    verify_login = staticmethod(verify_login)
    """:func:`~connectors.telegram.verify_login`, also reachable from the class the registry
    gives."""

    # -- publishing --

    async def publish(self, draft: Draft, idempotency_key: str) -> Published:
        """Post into the channel or group ``draft.destination`` as the portal's bot, once the
        linked account is found to be its creator or an administrator who may post.

        Telegram takes no idempotency key, and the Bot API offers no way to look up what a
        chat already holds, so ``idempotency_key`` is not used and a first copy cannot be
        found: if the portal stops, or an answer is lost, after Telegram posted and before
        the portal recorded it, a retry posts the message a second time. An album goes in
        one request, so it is never posted in part. The id returned is the first message's.
        """
        chat = _bot.destination(draft.destination)
        text = _compose(draft)
        media, files = _pictures(draft)
        if not media and not text:
            raise PermanentError("There is nothing to post: write something or add a picture.")
        self._check_length(text, MAX_CAPTION if media else MAX_TEXT)
        body: dict[str, Any] = {"chat_id": chat}
        if draft.reply_to is not None:
            parent = draft.reply_to.parent.id
            if not (parent.isascii() and parent.isdigit()):
                raise PermanentError("The message this one answers is not a Telegram message.")
            body["reply_parameters"] = {"message_id": int(parent)}
        await self._may_post(chat)
        if not media:
            result = await self._call("sendMessage", {**body, "text": text})
            return _bot.published([result], pictures=False)
        if len(media) == 1:
            if text:
                body["caption"] = text
            if files:
                result = await self._call("sendPhoto", body, files={"photo": files.popitem()[1]})
            else:
                result = await self._call("sendPhoto", {**body, "photo": media[0]})
            return _bot.published([result], pictures=True)
        album: list[dict[str, str]] = [{"type": "photo", "media": item} for item in media]
        if text:
            album[0]["caption"] = text
        result = await self._call("sendMediaGroup", {**body, "media": album}, files=files)
        return _bot.published(result if isinstance(result, list) else [], pictures=True)

    async def edit_post(self, published: Published, draft: Draft) -> None:
        """``editMessageText``, or ``editMessageCaption`` for a post with pictures (the first
        picture's caption is the album's); the pictures stay as they are. A text that is
        already the message's counts as done."""
        chat, numbers, pictures = _bot.parse_reference(published)
        text = _compose(draft)
        self._check_length(text, MAX_CAPTION if pictures else MAX_TEXT)
        body: dict[str, Any] = {"chat_id": chat, "message_id": numbers[0]}
        if pictures:
            method, body["caption"] = "editMessageCaption", text
        elif text:
            method, body["text"] = "editMessageText", text
        else:
            raise PermanentError("A message cannot be left without text.")
        await self._may_post(chat)
        try:
            await self._call(method, body)
        except Unchanged:
            return

    async def delete_post(self, published: Published, destination: str = "") -> None:
        """``deleteMessage``, or ``deleteMessages`` with every message of an album; a message
        already gone counts as deleted. The chat is the one ``published`` names."""
        chat, numbers, _ = _bot.parse_reference(published)
        await self._may_post(chat)
        try:
            if len(numbers) == 1:
                await self._call("deleteMessage", {"chat_id": chat, "message_id": numbers[0]})
            else:
                await self._call("deleteMessages", {"chat_id": chat, "message_ids": numbers})
        except Gone:
            return

    # -- the bot, for this account --

    async def _call(
        self,
        method: str,
        body: dict[str, Any],
        *,
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> Any:
        return await _bot.call(
            self.http, self.context.telegram_bot_token, method, body, files=files
        )

    async def _may_post(self, chat: str) -> None:
        """Refuse unless the linked account is the chat's creator, or an administrator who may
        post (``can_post_messages`` is only sent for channels): the bot is everyone's, so it
        acts only where the person could act themselves
        (https://core.telegram.org/bots/api#getchatmember). Asked once per chat for the
        life of this object, which the portal makes for one delivery."""
        if chat in self._may_post_in:
            return
        account = self._account_number()
        try:
            found = await self._call("getChatMember", {"chat_id": chat, "user_id": account})
        except NoSuchMember:
            found = {}
        member = _http.json_object(found)
        status = member.get("status")
        is_account = _http.json_object(member.get("user")).get("id") == account
        may_post = status == "creator" or (
            status == "administrator" and member.get("can_post_messages") is not False
        )
        if not (is_account and may_post):
            raise PermanentError(NOT_ADMIN)
        self._may_post_in.add(chat)

    def _account_number(self) -> int:
        """The Telegram account's number, as the Login Widget proved it."""
        given = self.credentials.extra.get("id")
        text = str(given) if isinstance(given, str | int) and not isinstance(given, bool) else ""
        if not (text.isascii() and text.isdigit() and 0 < len(text) <= 20 and int(text) > 0):
            raise AuthRevoked(NO_ACCOUNT_NUMBER)
        return int(text)

    def _check_length(self, text: str, limit: int) -> None:
        count = self.count_text(text)
        if count > limit:
            where = "in one message" if limit == MAX_TEXT else "with pictures"
            raise PermanentError(
                f"This text is {count} characters as Telegram counts them, and Telegram takes "
                f"{limit} {where}: shorten it by {count - limit}."
            )


def _compose(draft: Draft) -> str:
    text = draft.text.strip()
    if draft.link and draft.link not in text:
        text = f"{text}\n\n{draft.link}" if text else draft.link
    warning = draft.content_warning.strip()
    if warning and not text.startswith(warning):
        text = f"{warning}\n\n{text}" if text else warning
    return text


def _pictures(draft: Draft) -> tuple[list[str], dict[str, tuple[str, bytes, str]]]:
    """The ``media`` of each picture (an address Telegram fetches, or ``attach://<name>``)
    and the files to send with them, refusing what Telegram would."""
    media: list[str] = []
    files: dict[str, tuple[str, bytes, str]] = {}
    if len(draft.media) + len(draft.uploads) > MAX_PICTURES:
        raise PermanentError(f"Telegram takes at most {MAX_PICTURES} pictures in one post.")
    for item in draft.media:
        if not item.url.startswith("https://"):
            raise PermanentError("A picture to attach has no https address.")
        media.append(item.url)
    for upload in draft.uploads:
        if upload.mime_type not in PHOTO_TYPES:
            raise PermanentError("Telegram takes pictures as JPEG, PNG or WebP.")
        if not upload.data:
            raise PermanentError("This picture is empty.")
        if len(upload.data) > MAX_PHOTO_BYTES:
            raise PermanentError("A picture is larger than the 10 MB Telegram takes.")
        width, height = upload.width, upload.height
        if (
            width > 0
            and height > 0
            and (
                width + height > MAX_PHOTO_SIDES
                or max(width, height) > MAX_PHOTO_RATIO * min(width, height)
            )
        ):
            raise PermanentError(
                f"A picture of {width}×{height} pixels has a shape Telegram does not take: "
                f"width and height may add up to {MAX_PHOTO_SIDES} at most, and one may be "
                f"at most {MAX_PHOTO_RATIO} times the other."
            )
        name = f"photo{len(files)}"
        extension = mimetypes.guess_extension(upload.mime_type) or ""
        files[name] = (name + extension, upload.data, upload.mime_type)
        media.append(f"attach://{name}")
    return media, files
