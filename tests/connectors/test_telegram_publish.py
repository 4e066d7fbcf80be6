"""Telegram: posting into a channel or group through the portal's bot.

No Telegram runs here, so the Bot API is faked at the HTTP layer with respx. Requests are
read as Telegram reads them (JSON, or multipart with ``attach://`` files), and every answer
has the shape https://core.telegram.org/bots/api documents: ``{"ok": true, "result": …}``,
or ``{"ok": false, "error_code": …, "description": …, "parameters": …}`` with descriptions
as Telegram words them.
"""

from __future__ import annotations

import email
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import respx

from connectors import base
from connectors.base import (
    AuthRevoked,
    ConnectorError,
    Credentials,
    Draft,
    Media,
    PermanentError,
    Published,
    RateLimited,
    Retriable,
    Thread,
    Upload,
)
from connectors.telegram import Telegram

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
API = f"https://api.telegram.org/bot{TOKEN}"
ACCOUNT = 424242424
"""The number of the linked account, as the Login Widget proved it."""
CHANNEL = {
    "id": -1001234567890,
    "title": "Portal news",
    "username": "portal_news",
    "type": "channel",
}
PRIVATE = {"id": -1009876543210, "title": "Backstage", "type": "channel"}
CONTEXT = base.Context(telegram_bot_token=TOKEN)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def ok(result: Any) -> httpx.Response:
    return httpx.Response(200, json={"ok": True, "result": result})


def failed(code: int, description: str, **parameters: Any) -> httpx.Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return httpx.Response(code, json=body)


def message(message_id: int, chat: dict[str, Any] = CHANNEL, **fields: Any) -> dict[str, Any]:
    """A Message as a channel post comes back: sent by the channel itself."""
    return {
        "message_id": message_id,
        "sender_chat": chat,
        "chat": chat,
        "date": 1764000000,
        **fields,
    }


def photo_message(message_id: int, chat: dict[str, Any] = CHANNEL, **fields: Any) -> dict[str, Any]:
    sizes = [
        {
            "file_id": f"AgAC{message_id}",
            "file_unique_id": f"AQAD{message_id}",
            "width": 90,
            "height": 60,
            "file_size": 1204,
        },
    ]
    return message(message_id, chat, photo=sizes, **fields)


def member(status: str, user_id: int = ACCOUNT, **rights: Any) -> dict[str, Any]:
    user = {"id": user_id, "is_bot": False, "first_name": "Ada", "username": "ada_lovelace"}
    return {"user": user, "status": status, **rights}


ADMIN_WHO_POSTS = member(
    "administrator",
    can_be_edited=False,
    is_anonymous=False,
    can_manage_chat=True,
    can_delete_messages=True,
    can_post_messages=True,
    can_edit_messages=True,
)


def sent_json(request: httpx.Request) -> dict[str, Any]:
    assert request.headers["content-type"] == "application/json"
    value: dict[str, Any] = json.loads(request.content)
    return value


def sent_form(request: httpx.Request) -> dict[str, tuple[str | None, bytes]]:
    """The multipart fields of a request: name → (file name or None, bytes)."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    parsed = email.message_from_bytes(head + request.read())
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in parsed.get_payload():
        assert isinstance(part, email.message.Message)
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        assert isinstance(name, str) and isinstance(payload, bytes)
        fields[name] = (part.get_filename(), payload)
    return fields


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
def admin(mock: respx.MockRouter) -> respx.Route:
    """The linked account runs the channel."""
    return mock.post(f"{API}/getChatMember").mock(return_value=ok(ADMIN_WHO_POSTS))


def account(http: httpx.AsyncClient, context: base.Context = CONTEXT, **extra: Any) -> Telegram:
    """The connector as the portal makes it: the widget's proven number in ``extra``."""
    credentials = Credentials(extra=extra or {"id": str(ACCOUNT)})
    return Telegram("ada_lovelace", credentials, http, context=context)


def draft(text: str = "Hello, channel", **fields: Any) -> Draft:
    return Draft(text, destination=fields.pop("destination", "@portal_news"), **fields)


def upload(width: int = 1200, height: int = 800) -> Upload:
    return Upload(PNG, "image/png", "A lighthouse at dusk", width=width, height=height)


# -- what Telegram takes ---------------------------------------------------------------------


def test_the_rules_are_telegrams() -> None:
    rules = Telegram.POST_RULES
    assert (rules.max_length, rules.caption_length, rules.max_media) == (4096, 1024, 10)
    assert rules.max_media_bytes == 10 * 1024 * 1024
    assert rules.threads
    assert Telegram.PUBLISHES_TO == "channel"
    assert Telegram.count_text("👍") == 2  # UTF-16, as Telegram counts


def test_the_bot_token_stays_out_of_the_contexts_repr() -> None:
    assert TOKEN not in repr(CONTEXT)


# -- publishing ------------------------------------------------------------------------------


async def test_a_text_goes_by_send_message_once_the_account_is_found_an_admin(
    http: httpx.AsyncClient, mock: respx.MockRouter, admin: respx.Route
) -> None:
    sent = mock.post(f"{API}/sendMessage").mock(return_value=ok(message(41, text="Hello, channel")))
    published = await account(http).publish(draft(), "key-1")
    assert published == Published(id="41", url="https://t.me/portal_news/41", ref="-1001234567890")
    assert sent_json(admin.calls.last.request) == {"chat_id": "@portal_news", "user_id": ACCOUNT}
    assert sent_json(sent.calls.last.request) == {
        "chat_id": "@portal_news",
        "text": "Hello, channel",
    }


async def test_a_private_channel_gets_a_members_link(
    http: httpx.AsyncClient, mock: respx.MockRouter, admin: respx.Route
) -> None:
    mock.post(f"{API}/sendMessage").mock(return_value=ok(message(7, PRIVATE, text="Hi")))
    published = await account(http).publish(draft("Hi", destination="-1009876543210"), "key")
    assert published.url == "https://t.me/c/9876543210/7"
    assert sent_json(admin.calls.last.request)["chat_id"] == "-1009876543210"


async def test_one_picture_goes_by_send_photo_with_its_caption(
    http: httpx.AsyncClient, mock: respx.MockRouter, admin: respx.Route
) -> None:
    sent = mock.post(f"{API}/sendPhoto").mock(return_value=ok(photo_message(42, caption="At dusk")))
    published = await account(http).publish(draft("At dusk", uploads=(upload(),)), "key")
    fields = sent_form(sent.calls.last.request)
    assert fields["chat_id"] == (None, b"@portal_news")
    assert fields["caption"] == (None, b"At dusk")
    assert fields["photo"] == ("photo0.png", PNG)
    assert published == Published(
        id="42", url="https://t.me/portal_news/42", ref="-1001234567890:42"
    )


async def test_an_album_goes_by_send_media_group_with_the_caption_on_its_first_picture(
    http: httpx.AsyncClient, mock: respx.MockRouter, admin: respx.Route
) -> None:
    answer = [photo_message(43, PRIVATE, caption="Three")]
    answer += [photo_message(44, PRIVATE), photo_message(45, PRIVATE)]
    sent = mock.post(f"{API}/sendMediaGroup").mock(return_value=ok(answer))
    pictures = (upload(), upload(), upload())
    published = await account(http).publish(
        draft("Three", uploads=pictures, destination="-1009876543210"), "key"
    )
    fields = sent_form(sent.calls.last.request)
    assert json.loads(fields["media"][1]) == [
        {"type": "photo", "media": "attach://photo0", "caption": "Three"},
        {"type": "photo", "media": "attach://photo1"},
        {"type": "photo", "media": "attach://photo2"},
    ]
    assert [fields[f"photo{i}"] for i in range(3)] == [(f"photo{i}.png", PNG) for i in range(3)]
    assert published == Published(
        id="43", url="https://t.me/c/9876543210/43", ref="-1009876543210:43,44,45"
    )


async def test_pictures_by_address_are_fetched_by_telegram(
    http: httpx.AsyncClient, mock: respx.MockRouter, admin: respx.Route
) -> None:
    sent = mock.post(f"{API}/sendPhoto").mock(return_value=ok(photo_message(46)))
    picture = Media("https://portal.example/media/dusk.jpg", "image/jpeg")
    await account(http).publish(draft("", media=(picture,)), "key")
    assert sent_json(sent.calls.last.request) == {
        "chat_id": "@portal_news",
        "photo": "https://portal.example/media/dusk.jpg",
    }


async def test_a_thread_replies_each_part_to_the_one_before(
    http: httpx.AsyncClient, mock: respx.MockRouter, admin: respx.Route
) -> None:
    numbers = iter([51, 52, 53])
    sent = mock.post(f"{API}/sendMessage").mock(
        side_effect=lambda request: ok(message(next(numbers), text=sent_json(request)["text"]))
    )
    connection = account(http)
    first = await connection.publish(draft("1/3"), "key-1")
    second = await connection.publish(draft("2/3", reply_to=Thread(first, first)), "key-2")
    third = await connection.publish(draft("3/3", reply_to=Thread(first, second)), "key-3")
    bodies = [sent_json(call.request) for call in sent.calls]
    assert [body.get("reply_parameters") for body in bodies] == [
        None,
        {"message_id": 51},
        {"message_id": 52},
    ]
    assert [first.id, second.id, third.id] == ["51", "52", "53"]


async def test_a_thread_under_an_album_replies_to_its_first_picture(
    http: httpx.AsyncClient, mock: respx.MockRouter, admin: respx.Route
) -> None:
    sent = mock.post(f"{API}/sendMessage").mock(return_value=ok(message(60, text="more")))
    album = Published("43", None, "-1001234567890:43,44,45")
    await account(http).publish(draft("more", reply_to=Thread(album, album)), "key")
    assert sent_json(sent.calls.last.request)["reply_parameters"] == {"message_id": 43}


# -- who may post ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        ok(member("member")),
        ok(member("left")),
        ok(member("kicked", until_date=0)),
        ok(member("restricted", is_member=True, can_send_messages=True)),
        ok(member("administrator", can_post_messages=False, can_edit_messages=True)),
        ok({**ADMIN_WHO_POSTS, "user": {"id": 777, "is_bot": False, "first_name": "Eve"}}),
        failed(400, "Bad Request: user not found"),
    ],
    ids=["subscriber", "left", "banned", "restricted", "admin-who-cannot-post", "other", "none"],
)
async def test_only_those_who_run_the_chat_may_post_through_the_shared_bot(
    http: httpx.AsyncClient, mock: respx.MockRouter, answer: httpx.Response
) -> None:
    mock.post(f"{API}/getChatMember").mock(return_value=answer)
    sent = mock.post(f"{API}/sendMessage").mock(return_value=ok(message(41)))
    with pytest.raises(PermanentError, match="You are not an administrator of this channel"):
        await account(http).publish(draft(), "key")
    assert not sent.called


async def test_the_creator_of_a_group_may_post(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    mock.post(f"{API}/getChatMember").mock(return_value=ok(member("creator", is_anonymous=False)))
    group = {"id": -1001111111111, "title": "Friends", "type": "supergroup"}
    mock.post(f"{API}/sendMessage").mock(return_value=ok(message(3, group, text="Hi")))
    published = await account(http).publish(draft("Hi", destination="-1001111111111"), "key")
    assert published.ref == "-1001111111111"


async def test_an_account_linked_without_its_number_must_log_in_again(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    checked = mock.post(f"{API}/getChatMember").mock(return_value=ok(ADMIN_WHO_POSTS))
    connection = Telegram("ada_lovelace", Credentials(), http, context=CONTEXT)
    with pytest.raises(AuthRevoked, match="log in with Telegram again"):
        await connection.publish(draft(), "key")
    assert not checked.called


async def test_a_portal_without_a_bot_cannot_post(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    with pytest.raises(PermanentError, match="no Telegram bot"):
        await account(http, context=base.PUBLIC).publish(draft(), "key")
    assert not mock.calls


@pytest.mark.parametrize(
    ("raw", "chat_id"),
    [
        ("@Portal_News", "@portal_news"),
        ("portal_news", "@portal_news"),
        ("https://t.me/portal_news", "@portal_news"),
        ("-1001234567890", "-1001234567890"),
    ],
)
async def test_a_channel_is_named_by_username_or_number(
    http: httpx.AsyncClient, mock: respx.MockRouter, admin: respx.Route, raw: str, chat_id: str
) -> None:
    mock.post(f"{API}/sendMessage").mock(return_value=ok(message(41)))
    await account(http).publish(draft(destination=raw), "key")
    assert sent_json(admin.calls.last.request)["chat_id"] == chat_id


@pytest.mark.parametrize("raw", ["", "424242424", "@a", "@portal news", "@bad_", "-0"])
async def test_what_is_not_a_channel_is_refused_before_any_request(
    http: httpx.AsyncClient, mock: respx.MockRouter, raw: str
) -> None:
    with pytest.raises(PermanentError):
        await account(http).publish(draft(destination=raw), "key")
    assert not mock.calls


# -- what Telegram would refuse, refused before asking -----------------------------------------


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"text": "x" * 4097}, "4097 characters"),
        ({"text": "x" * 1025, "uploads": (upload(),)}, "1024 with pictures"),
        ({"uploads": (upload(width=9000, height=1001),)}, "add up to 10000"),
        ({"uploads": (upload(width=2100, height=100),)}, "20 times"),
        ({"uploads": (Upload(b"GIF89a", "image/gif"),)}, "JPEG, PNG or WebP"),
        ({"uploads": (upload(),) * 11}, "at most 10 pictures"),
        ({"text": "  "}, "nothing to post"),
    ],
)
async def test_a_post_telegram_would_refuse_is_refused_in_words(
    http: httpx.AsyncClient,
    mock: respx.MockRouter,
    admin: respx.Route,
    changes: dict[str, Any],
    words: str,
) -> None:
    text = changes.pop("text", "Hello")
    with pytest.raises(PermanentError, match=words):
        await account(http).publish(draft(text, **changes), "key")
    assert not any("/send" in str(call.request.url) for call in mock.calls)


# -- errors ----------------------------------------------------------------------------------


async def test_flood_control_says_how_long_to_wait(
    http: httpx.AsyncClient, mock: respx.MockRouter, admin: respx.Route
) -> None:
    mock.post(f"{API}/sendMessage").mock(
        return_value=failed(429, "Too Many Requests: retry after 35", retry_after=35)
    )
    with pytest.raises(RateLimited) as caught:
        await account(http).publish(draft(), "key")
    assert caught.value.retry_after == 35


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (failed(400, "Bad Request: message is too long"), "4096 characters"),
        (failed(400, "Bad Request: message caption is too long"), "1024 characters"),
        (failed(400, "Bad Request: chat not found"), "no channel or group of that name"),
        (failed(403, "Forbidden: bot is not a member of the channel chat"), "add it to"),
        (failed(403, "Forbidden: bot was kicked from the channel chat"), "add it to"),
        (failed(400, "Bad Request: need administrator rights in the channel chat"), "add it"),
        (failed(400, "Bad Request: PHOTO_INVALID_DIMENSIONS"), "shape Telegram does not take"),
        (failed(400, "Bad Request: message to be replied not found"), "no longer in the chat"),
        (failed(401, "Unauthorized"), "token is wrong or was revoked"),
        (
            failed(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                migrate_to_chat_id=-1001999999999,
            ),
            "post to -1001999999999 instead",
        ),
        (
            failed(400, "Bad Request: something new"),
            "Telegram refused this: Bad Request: something new",
        ),
    ],
)
async def test_refusals_are_told_in_words(
    http: httpx.AsyncClient,
    mock: respx.MockRouter,
    admin: respx.Route,
    answer: httpx.Response,
    words: str,
) -> None:
    mock.post(f"{API}/sendMessage").mock(return_value=answer)
    with pytest.raises(PermanentError, match=words):
        await account(http).publish(draft(), "key")


@pytest.mark.parametrize(
    "answer",
    [
        failed(500, "Internal Server Error"),
        failed(502, "Bad Gateway"),
        httpx.Response(502, text="<html><body>502 Bad Gateway</body></html>"),
        httpx.ConnectTimeout("timed out"),
        httpx.ConnectError("connection refused"),
    ],
    ids=["500", "502", "proxy-page", "timeout", "unreachable"],
)
async def test_failures_that_may_pass_are_retriable(
    http: httpx.AsyncClient, mock: respx.MockRouter, admin: respx.Route, answer: Any
) -> None:
    route = mock.post(f"{API}/sendMessage")
    if isinstance(answer, Exception):
        route.mock(side_effect=answer)
    else:
        route.mock(return_value=answer)
    with pytest.raises(Retriable) as caught:
        await account(http).publish(draft(), "key")
    assert not isinstance(caught.value, RateLimited)


@pytest.mark.parametrize(
    "answer",
    [
        failed(400, f"Bad Request: wrong parameter in /bot{TOKEN}/sendMessage"),
        failed(401, "Unauthorized"),
        failed(429, "Too Many Requests: retry after 3", retry_after=3),
        failed(500, "Internal Server Error"),
        httpx.ConnectTimeout(f"timed out: {API}/sendMessage"),
        httpx.ConnectError(f"cannot connect to {API}/sendMessage"),
        httpx.InvalidURL(f"bad address {API}/sendMessage"),
    ],
)
async def test_the_token_is_in_no_error(
    http: httpx.AsyncClient, mock: respx.MockRouter, admin: respx.Route, answer: Any
) -> None:
    route = mock.post(f"{API}/sendMessage")
    if isinstance(answer, Exception):
        route.mock(side_effect=answer)
    else:
        route.mock(return_value=answer)
    with pytest.raises(ConnectorError) as caught:
        await account(http).publish(draft(), "key")
    error: BaseException | None = caught.value
    secret = TOKEN.split(":")[1]
    while error is not None:  # the error, and every one it was raised from or during
        assert secret not in str(error) and secret not in repr(error)
        assert secret not in repr(getattr(error, "args", ()))
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)


# -- changing and deleting -------------------------------------------------------------------


async def test_a_text_is_edited_and_a_caption_is_edited_on_the_first_picture(
    http: httpx.AsyncClient, mock: respx.MockRouter, admin: respx.Route
) -> None:
    text = mock.post(f"{API}/editMessageText").mock(return_value=ok(message(41, text="New")))
    caption = mock.post(f"{API}/editMessageCaption").mock(return_value=ok(photo_message(43)))
    connection = account(http)
    await connection.edit_post(Published("41", None, "-1001234567890"), draft("New"))
    await connection.edit_post(Published("43", None, "-1001234567890:43,44"), draft("Caption"))
    assert sent_json(text.calls.last.request) == {
        "chat_id": "-1001234567890",
        "message_id": 41,
        "text": "New",
    }
    assert sent_json(caption.calls.last.request) == {
        "chat_id": "-1001234567890",
        "message_id": 43,
        "caption": "Caption",
    }


async def test_an_edit_that_changes_nothing_is_done(
    http: httpx.AsyncClient, mock: respx.MockRouter, admin: respx.Route
) -> None:
    mock.post(f"{API}/editMessageText").mock(
        return_value=failed(
            400,
            "Bad Request: message is not modified: specified new message content and reply "
            "markup are exactly the same as a current content and reply markup of the message",
        )
    )
    await account(http).edit_post(Published("41", None, "-1001234567890"), draft("Same"))


async def test_a_message_is_deleted(
    http: httpx.AsyncClient, mock: respx.MockRouter, admin: respx.Route
) -> None:
    deleted = mock.post(f"{API}/deleteMessage").mock(return_value=ok(True))
    await account(http).delete_post(Published("41", None, "-1001234567890"))
    assert sent_json(deleted.calls.last.request) == {"chat_id": "-1001234567890", "message_id": 41}
    assert sent_json(admin.calls.last.request)["chat_id"] == "-1001234567890"


async def test_an_album_is_deleted_with_every_message(
    http: httpx.AsyncClient, mock: respx.MockRouter, admin: respx.Route
) -> None:
    deleted = mock.post(f"{API}/deleteMessages").mock(return_value=ok(True))
    await account(http).delete_post(Published("43", None, "-1001234567890:43,44,45"))
    assert sent_json(deleted.calls.last.request) == {
        "chat_id": "-1001234567890",
        "message_ids": [43, 44, 45],
    }


async def test_a_message_already_gone_counts_as_deleted(
    http: httpx.AsyncClient, mock: respx.MockRouter, admin: respx.Route
) -> None:
    mock.post(f"{API}/deleteMessage").mock(
        return_value=failed(400, "Bad Request: message to delete not found")
    )
    await account(http).delete_post(Published("41", None, "-1001234567890"))


async def test_only_those_who_run_the_chat_may_delete(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    mock.post(f"{API}/getChatMember").mock(return_value=ok(member("member")))
    deleted = mock.post(f"{API}/deleteMessage").mock(return_value=ok(True))
    with pytest.raises(PermanentError, match="not an administrator"):
        await account(http).delete_post(Published("41", None, "-1001234567890"))
    assert not deleted.called


async def test_a_message_too_old_to_delete_is_refused_in_words(
    http: httpx.AsyncClient, mock: respx.MockRouter, admin: respx.Route
) -> None:
    mock.post(f"{API}/deleteMessage").mock(
        return_value=failed(400, "Bad Request: message can't be deleted for everyone")
    )
    with pytest.raises(PermanentError, match="48 hours"):
        await account(http).delete_post(Published("41", None, "-1001234567890"))


@pytest.mark.parametrize(
    "post",
    [
        Published("41", None, ""),
        Published("41", None, "@portal_news"),
        Published("41", None, "-1001234567890:42,43"),
        Published("x", None, "-1001234567890"),
        Published("41", None, "-1001234567890:41,;"),
    ],
)
async def test_a_post_portal_did_not_publish_is_refused(
    http: httpx.AsyncClient, mock: respx.MockRouter, post: Published
) -> None:
    with pytest.raises(PermanentError, match="not a post Portal published"):
        await account(http).delete_post(post)
    assert not mock.calls
