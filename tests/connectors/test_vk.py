"""VK: posting to a wall, pictures through the upload chain, edits, deletes and VK's errors.

No VK runs here, so the HTTP layer is faked with respx; the answers in tests/testdata/vk are
written in the shapes dev.vk.com documents for each method and error.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx

import connectors
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
    Upload,
)
from connectors.vk import VK

DATA = Path(__file__).resolve().parents[1] / "testdata" / "vk"
API = "https://api.vk.com/method"
TOKEN = "vk1.a.SECRET-user-token-0123456789"
KEY = "post-7f3c-0"
JPEG = b"\xff\xd8\xff\xe0" + b"picture" * 10


def answer(name: str) -> httpx.Response:
    return httpx.Response(200, content=(DATA / f"{name}.json").read_bytes())


def form(request: httpx.Request) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(request.content.decode()).items()}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


def account(http: httpx.AsyncClient, **extra: Any) -> VK:
    return VK("durov", Credentials(access_token=TOKEN, extra={"user_id": 1, **extra}), http)


def test_vk_is_registered_as_a_network_that_publishes() -> None:
    assert connectors.get("vk") is VK
    assert VK.AUTH == "oauth2" and not VK.LINK_ONLY
    assert VK.CAN_PUBLISH and VK.CAN_DELETE and VK.CAN_EDIT and VK.CAN_UPLOAD_MEDIA
    assert VK.POST_RULES is not None and not VK.POST_RULES.threads


def test_the_handle_rules_are_those_of_the_link_only_network() -> None:
    assert VK.normalize_handle("https://m.vk.com/Ada.Lovelace?from=profile") == "ada.lovelace"
    assert VK.profile_url("id1") == "https://vk.com/id1"


async def test_linking_is_vk_id_with_its_fixed_endpoints(http: httpx.AsyncClient) -> None:
    server = await VK.oauth_server("", http)
    assert server.authorization_endpoint == "https://id.vk.com/authorize"
    assert server.token_endpoint == "https://id.vk.com/oauth2/auth"
    assert server.revocation_endpoint == "https://id.vk.com/oauth2/revoke"
    assert VK.server_name("anything") == "vk.com"
    assert set(VK.SCOPES) == {"vkid.personal_info", "wall", "photos"}


async def test_a_text_post_goes_on_the_own_wall_once_with_its_key_as_guid(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    post = mock.post(f"{API}/wall.post").mock(return_value=answer("wall.post"))
    draft = Draft(text="Hello from Portal", link="https://example.org/")

    published = await account(http).publish(draft, KEY)

    assert published == Published(id="1_3", url="https://vk.com/wall1_3")
    sent = form(post.calls.last.request)
    assert sent == {
        "guid": KEY,
        "message": "Hello from Portal\n\nhttps://example.org/",
        "v": "5.199",
        "access_token": TOKEN,
    }
    assert TOKEN not in str(post.calls.last.request.url)


async def test_retrying_sends_the_same_guid_so_vk_makes_one_post(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    post = mock.post(f"{API}/wall.post").mock(return_value=answer("wall.post"))
    connector = account(http)
    first = await connector.publish(Draft(text="Once"), KEY)
    second = await connector.publish(Draft(text="Once"), KEY)
    assert first == second
    assert [form(call.request)["guid"] for call in post.calls] == [KEY, KEY]


async def test_pictures_go_through_the_upload_chain_to_a_community_wall(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    server = mock.post(f"{API}/photos.getWallUploadServer").mock(
        return_value=answer("photos.getWallUploadServer")
    )
    upload_url = json.loads((DATA / "photos.getWallUploadServer.json").read_text())["response"][
        "upload_url"
    ]
    uploaded = mock.post(upload_url).mock(return_value=answer("upload"))
    saved = mock.post(f"{API}/photos.saveWallPhoto").mock(
        return_value=answer("photos.saveWallPhoto")
    )
    post = mock.post(f"{API}/wall.post").mock(return_value=answer("wall.post"))
    draft = Draft(
        text="Two pictures",
        uploads=(Upload(JPEG, "image/jpeg", "A cat"), Upload(JPEG, "image/jpeg")),
        destination="club42",
    )

    published = await account(http).publish(draft, KEY)

    assert published == Published(id="-42_3", url="https://vk.com/wall-42_3")
    assert server.call_count == 2 and form(server.calls.last.request)["group_id"] == "42"
    body = uploaded.calls.last.request.content
    assert b'name="photo"; filename="picture.jpeg"' in body and JPEG in body
    assert TOKEN.encode() not in body  # the upload server is given the picture, not the token
    save = form(saved.calls[0].request)
    assert save["server"] == "909218" and save["hash"] == "d5c3a9e4f0b1c2d3e4f5a6b7c8d9e0f1"
    assert save["photo"].startswith("[{") and save["group_id"] == "42"
    assert save["caption"] == "A cat" and "caption" not in form(saved.calls[1].request)
    sent = form(post.calls.last.request)
    assert sent["attachments"] == "photo-42_457239017,photo-42_457239017"
    assert sent["owner_id"] == "-42" and sent["from_group"] == "1" and sent["guid"] == KEY


async def test_an_upload_address_off_vk_is_not_sent_the_picture(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    mock.post(f"{API}/photos.getWallUploadServer").respond(
        json={"response": {"upload_url": "https://evil.example/upload.php"}}
    )
    elsewhere = mock.post("https://evil.example/upload.php")
    with pytest.raises(PermanentError, match="upload address"):
        await account(http).publish(Draft(text="x", uploads=(Upload(JPEG, "image/jpeg"),)), KEY)
    assert not elsewhere.called


async def test_an_upload_vk_did_not_take_is_refused(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    mock.post(f"{API}/photos.getWallUploadServer").mock(
        return_value=answer("photos.getWallUploadServer")
    )
    mock.post(url__startswith="https://pu.vk.com/").respond(
        json={"server": 1, "photo": "[]", "hash": "x"}
    )
    with pytest.raises(PermanentError, match="did not take the picture"):
        await account(http).publish(Draft(text="x", uploads=(Upload(JPEG, "image/jpeg"),)), KEY)


async def test_upload_media_gives_an_attachment_of_the_own_wall(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    server = mock.post(f"{API}/photos.getWallUploadServer").mock(
        return_value=answer("photos.getWallUploadServer")
    )
    mock.post(url__startswith="https://pu.vk.com/").mock(return_value=answer("upload"))
    mock.post(f"{API}/photos.saveWallPhoto").mock(return_value=answer("photos.saveWallPhoto"))
    attachment = await account(http).upload_media(Media("", "image/png", "alt"), JPEG)
    assert attachment == "photo-42_457239017"
    assert "group_id" not in form(server.calls.last.request)


async def test_the_own_id_is_asked_for_when_not_kept(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    mock.post(f"{API}/wall.post").mock(return_value=answer("wall.post"))
    users = mock.post(f"{API}/users.get").mock(return_value=answer("users.get"))
    connector = VK("durov", Credentials(access_token=TOKEN), http)
    published = await connector.publish(Draft(text="Hi"), KEY)
    assert published.id == "1_3" and users.call_count == 1


async def test_get_actor_names_the_account(http: httpx.AsyncClient, mock: respx.MockRouter) -> None:
    mock.post(f"{API}/users.get").mock(return_value=answer("users.get"))
    actor = await account(http).get_actor()
    assert (actor.id, actor.handle, actor.display_name) == ("1", "durov", "Pavel Durov")
    assert actor.url == "https://vk.com/durov"
    assert actor.avatar_url == "https://sun9-2.userapi.com/s/v1/ig2/durov.jpg"


async def test_delete_names_the_owner_and_the_post(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    deleted = mock.post(f"{API}/wall.delete").respond(json={"response": 1})
    await account(http).delete_post(Published(id="-42_3"))
    sent = form(deleted.calls.last.request)
    assert (sent["owner_id"], sent["post_id"]) == ("-42", "3")


async def test_edit_keeps_the_posts_pictures(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    looked = mock.post(f"{API}/wall.getById").mock(return_value=answer("wall.getById"))
    edited = mock.post(f"{API}/wall.edit").respond(json={"response": {"post_id": 3}})
    await account(http).edit_post(Published(id="1_3"), Draft(text="Hello, edited"))
    assert form(looked.calls.last.request)["posts"] == "1_3"
    sent = form(edited.calls.last.request)
    assert sent["message"] == "Hello, edited"
    assert sent["attachments"] == "photo1_457239017_6b2a1c9d8e7f6a5b4c"
    assert (sent["owner_id"], sent["post_id"]) == ("1", "3")


@pytest.mark.parametrize(
    ("code", "kind", "words"),
    [
        (5, AuthRevoked, "no longer accepts Portal's access"),
        (6, RateLimited, "three requests a second"),
        (9, RateLimited, "flood control"),
        (10, Retriable, "temporary problem"),
        (214, PermanentError, "does not let this account add a post"),
    ],
)
async def test_vk_errors_become_the_errors_they_mean(
    http: httpx.AsyncClient,
    mock: respx.MockRouter,
    code: int,
    kind: type[ConnectorError],
    words: str,
) -> None:
    mock.post(f"{API}/wall.post").mock(return_value=answer(f"error.{code}"))
    with pytest.raises(kind) as raised:
        await account(http).publish(Draft(text="Hi"), KEY)
    assert type(raised.value) is kind
    assert words in raised.value.message and raised.value.message.endswith(".")
    assert TOKEN not in raised.value.message


async def test_waits_are_those_vk_documents(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    route = mock.post(f"{API}/wall.post")
    route.mock(return_value=answer("error.6"))
    with pytest.raises(RateLimited) as per_second:
        await account(http).publish(Draft(text="Hi"), KEY)
    route.mock(return_value=answer("error.9"))
    with pytest.raises(RateLimited) as flood:
        await account(http).publish(Draft(text="Hi"), KEY)
    assert per_second.value.retry_after == 1.0
    assert flood.value.retry_after is not None and flood.value.retry_after >= 60


async def test_a_token_vk_echoes_back_never_reaches_a_message(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    mock.post(f"{API}/wall.post").respond(
        json={"error": {"error_code": 100, "error_msg": f"One of the parameters: {TOKEN}"}}
    )
    with pytest.raises(PermanentError) as raised:
        await account(http).publish(Draft(text="Hi"), KEY)
    assert TOKEN not in raised.value.message and "One of the parameters" in raised.value.message


async def test_vk_down_may_pass(http: httpx.AsyncClient, mock: respx.MockRouter) -> None:
    mock.post(f"{API}/wall.post").respond(502)
    with pytest.raises(Retriable):
        await account(http).publish(Draft(text="Hi"), KEY)
    mock.post(f"{API}/wall.post").mock(side_effect=httpx.ConnectTimeout("slow"))
    with pytest.raises(Retriable) as raised:
        await account(http).publish(Draft(text="Hi"), KEY)
    assert TOKEN not in raised.value.message


@pytest.mark.parametrize(
    ("draft", "words"),
    [
        (Draft(text=""), "nothing to publish"),
        (Draft(text="x", destination="a community"), "community by its number"),
        (Draft(text="x", uploads=(Upload(b"GIF89a", "image/webp"),)), "JPEG, PNG and GIF"),
    ],
)
async def test_drafts_vk_would_refuse_are_refused_before_any_request(
    http: httpx.AsyncClient, mock: respx.MockRouter, draft: Draft, words: str
) -> None:
    with pytest.raises(PermanentError, match=words):
        await account(http).publish(draft, KEY)
    assert not mock.calls


async def test_no_token_is_a_connection_to_make_again(http: httpx.AsyncClient) -> None:
    with pytest.raises(AuthRevoked):
        await VK("durov", Credentials(), http).publish(Draft(text="Hi"), KEY)
