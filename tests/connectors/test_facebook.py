"""Facebook Pages: posting with and without pictures, edits, deletes, and the Graph API's
errors and throttling.

No Facebook runs here, so the HTTP layer is faked with respx; the answers in
tests/testdata/facebook are written in the shapes developers.facebook.com documents (the
error objects are those of "Handling Errors", with the codes it lists).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
import respx

import connectors
from connectors import _graph
from connectors.base import (
    AuthRevoked,
    ConnectorError,
    Credentials,
    Draft,
    OAuthClient,
    PermanentError,
    Published,
    RateLimited,
    Retriable,
    Thread,
    Upload,
)
from connectors.facebook import Facebook

DATA = Path(__file__).resolve().parents[1] / "testdata" / "facebook"
GRAPH = f"https://graph.facebook.com/{_graph.VERSION}"
USER_TOKEN = "EAAUserTokenSECRET0123456789"
PAGE_TOKEN = "EAAPageTokenSECRET9876543210"
PAGE = "1234567890"
KEY = "post-1"
JPEG = b"\xff\xd8\xff\xe0" + b"picture" * 10


def answer(name: str, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, content=(DATA / f"{name}.json").read_bytes(), headers=headers)


def form(request: httpx.Request) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(request.content.decode()).items()}


def bearer(request: httpx.Request) -> str:
    return request.headers["authorization"].removeprefix("Bearer ")


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
def page(mock: respx.MockRouter) -> respx.Route:
    """The Page's own token, asked for with the person's."""
    return mock.get(f"{GRAPH}/{PAGE}", params={"fields": "access_token"}).mock(
        return_value=answer("page.access_token")
    )


@pytest.fixture
def feed(mock: respx.MockRouter) -> respx.Route:
    """The Page's latest posts: none yet."""
    return mock.get(f"{GRAPH}/{PAGE}/feed").mock(return_value=answer("feed.empty"))


def account(http: httpx.AsyncClient) -> Facebook:
    return Facebook("ada.lovelace", Credentials(access_token=USER_TOKEN), http)


def test_facebook_is_registered_as_a_network_that_publishes_to_pages() -> None:
    assert connectors.get("facebook") is Facebook
    assert Facebook.AUTH == "oauth2" and not Facebook.LINK_ONLY
    assert Facebook.CAN_PUBLISH and Facebook.CAN_DELETE and Facebook.CAN_EDIT
    assert Facebook.PUBLISHES_TO == "page"
    assert "pages_manage_posts" in Facebook.SCOPES


def test_the_handle_rules_are_those_of_the_link_only_network() -> None:
    assert Facebook.normalize_handle("https://m.facebook.com/Ada.Lovelace/") == "ada.lovelace"
    assert Facebook.profile_url("100012345678") == (
        "https://www.facebook.com/profile.php?id=100012345678"
    )


async def test_linking_is_facebook_login(http: httpx.AsyncClient) -> None:
    server = await Facebook.oauth_server("", http)
    assert server.authorization_endpoint == (
        f"https://www.facebook.com/{_graph.VERSION}/dialog/oauth"
    )
    assert server.token_endpoint == f"{GRAPH}/oauth/access_token"
    assert Facebook.server_name("") == "facebook.com"


async def test_the_short_lived_token_is_exchanged_for_a_long_lived_one(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    exchange = mock.post(f"{GRAPH}/oauth/access_token").mock(
        return_value=answer("oauth.long_lived")
    )
    client = OAuthClient("1234", "app-secret", "https://portal.example/me/accounts/fb/callback")
    short = Credentials(access_token=USER_TOKEN, scope="pages_show_list")
    long_lived = await Facebook.long_lived(short, client, http)
    assert long_lived.access_token == "EAALongLivedUserTokenSECRET"
    assert long_lived.expires_at is not None
    assert long_lived.expires_at > datetime.now(UTC) + timedelta(days=59)
    sent = form(exchange.calls.last.request)
    assert sent == {
        "grant_type": "fb_exchange_token",
        "client_id": "1234",
        "client_secret": "app-secret",
        "fb_exchange_token": USER_TOKEN,
    }
    assert "app-secret" not in str(exchange.calls.last.request.url)


async def test_the_pages_the_person_manages_are_listed(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    mock.get(f"{GRAPH}/me/accounts").mock(return_value=answer("me.accounts"))
    pages = await account(http).pages()
    assert [(p.id, p.display_name) for p in pages] == [
        ("1234567890", "Analytical Engines"),
        ("2345678901", "Poetical Science"),
    ]
    assert pages[0].url == "https://www.facebook.com/1234567890"


async def test_get_actor_is_the_person_who_logged_in(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    mock.get(f"{GRAPH}/me").mock(return_value=answer("me"))
    actor = await account(http).get_actor()
    assert (actor.id, actor.display_name, actor.url) == ("10158123456789012", "Ada Lovelace", None)


async def test_a_text_post_with_a_link_goes_to_the_page_feed_with_the_page_token(
    http: httpx.AsyncClient, mock: respx.MockRouter, page: respx.Route, feed: respx.Route
) -> None:
    post = mock.post(f"{GRAPH}/{PAGE}/feed").mock(return_value=answer("feed.post"))
    draft = Draft(text="New engine notes", link="https://example.org/", destination=PAGE)

    published = await account(http).publish(draft, KEY)

    assert published == Published(
        id="1234567890_5550001", url="https://www.facebook.com/1234567890_5550001"
    )
    assert bearer(page.calls.last.request) == USER_TOKEN
    request = post.calls.last.request
    assert bearer(request) == PAGE_TOKEN
    assert form(request) == {"message": "New engine notes", "link": "https://example.org/"}
    assert USER_TOKEN not in str(request.url) and PAGE_TOKEN not in str(request.url)


async def test_pictures_are_uploaded_unpublished_then_attached_to_one_post(
    http: httpx.AsyncClient, mock: respx.MockRouter, page: respx.Route, feed: respx.Route
) -> None:
    photos = mock.post(f"{GRAPH}/{PAGE}/photos").mock(
        side_effect=[
            httpx.Response(200, json={"id": "9010001"}),
            httpx.Response(200, json={"id": "9010002"}),
        ]
    )
    post = mock.post(f"{GRAPH}/{PAGE}/feed").mock(return_value=answer("feed.post"))
    draft = Draft(
        text="Two diagrams",
        link="https://example.org/",
        uploads=(Upload(JPEG, "image/jpeg", "The engine"), Upload(JPEG, "image/png")),
        destination=PAGE,
    )

    published = await account(http).publish(draft, KEY)

    assert published.id == "1234567890_5550001"
    first = photos.calls[0].request
    assert bearer(first) == PAGE_TOKEN
    assert b'name="source"; filename="picture.jpeg"' in first.content and JPEG in first.content
    assert b'name="published"\r\n\r\nfalse' in first.content
    assert b'name="alt_text_custom"\r\n\r\nThe engine' in first.content
    assert b"alt_text_custom" not in photos.calls[1].request.content
    sent = form(post.calls.last.request)
    assert sent["message"] == "Two diagrams\n\nhttps://example.org/"
    assert "link" not in sent
    assert json.loads(sent["attached_media[0]"]) == {"media_fbid": "9010001"}
    assert json.loads(sent["attached_media[1]"]) == {"media_fbid": "9010002"}


async def test_a_retry_after_a_lost_answer_finds_the_post_already_made(
    http: httpx.AsyncClient, mock: respx.MockRouter, page: respx.Route
) -> None:
    made = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
    mock.get(f"{GRAPH}/{PAGE}/feed").respond(
        json={
            "data": [
                {"id": "1234567890_4440001", "message": "Older", "created_time": made},
                {
                    "id": "1234567890_5550001",
                    "message": "New engine notes",
                    "created_time": made,
                    "permalink_url": "https://www.facebook.com/1234567890/posts/5550001",
                },
            ]
        }
    )
    post = mock.post(f"{GRAPH}/{PAGE}/feed")
    published = await account(http).publish(Draft(text="New engine notes", destination=PAGE), KEY)
    assert published == Published(
        id="1234567890_5550001", url="https://www.facebook.com/1234567890/posts/5550001"
    )
    assert not post.called


async def test_the_same_text_days_ago_is_posted_again(
    http: httpx.AsyncClient, mock: respx.MockRouter, page: respx.Route
) -> None:
    old = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S+0000")
    mock.get(f"{GRAPH}/{PAGE}/feed").respond(
        json={"data": [{"id": "1234567890_1", "message": "Weekly", "created_time": old}]}
    )
    post = mock.post(f"{GRAPH}/{PAGE}/feed").mock(return_value=answer("feed.post"))
    await account(http).publish(Draft(text="Weekly", destination=PAGE), KEY)
    assert post.called


async def test_delete_and_edit_use_the_page_token(
    http: httpx.AsyncClient, mock: respx.MockRouter, page: respx.Route
) -> None:
    post_id = "1234567890_5550001"
    deleted = mock.delete(f"{GRAPH}/{post_id}").mock(return_value=answer("success"))
    edited = mock.post(f"{GRAPH}/{post_id}").mock(return_value=answer("success"))
    connector = account(http)
    await connector.edit_post(Published(id=post_id), Draft(text="Corrected", destination=PAGE))
    await connector.delete_post(Published(id=post_id))
    assert form(edited.calls.last.request) == {"message": "Corrected"}
    assert bearer(edited.calls.last.request) == PAGE_TOKEN
    assert bearer(deleted.calls.last.request) == PAGE_TOKEN
    assert page.call_count == 1  # the Page's token is asked for once


async def test_a_post_already_gone_counts_as_deleted(
    http: httpx.AsyncClient, mock: respx.MockRouter, page: respx.Route
) -> None:
    mock.delete(f"{GRAPH}/1234567890_5550001").mock(return_value=answer("error.100.33", 400))
    await account(http).delete_post(Published(id="1234567890_5550001"), PAGE)


@pytest.mark.parametrize(
    ("name", "kind", "words"),
    [
        ("error.190", AuthRevoked, "no longer accepts Portal's access"),
        ("error.4", RateLimited, "too many requests"),
        ("error.17", RateLimited, "too many requests"),
        ("error.32", RateLimited, "too many requests"),
        ("error.613", RateLimited, "too many requests"),
        ("error.1", Retriable, "temporary problem"),
        ("error.2", Retriable, "temporary problem"),
        ("error.100", PermanentError, "The link you shared could not be read."),
        ("error.200", PermanentError, "did not give Portal the permission"),
        ("error.506", PermanentError, "the same as the last one"),
    ],
)
async def test_graph_errors_become_the_errors_they_mean(
    http: httpx.AsyncClient,
    mock: respx.MockRouter,
    page: respx.Route,
    feed: respx.Route,
    name: str,
    kind: type[ConnectorError],
    words: str,
) -> None:
    mock.post(f"{GRAPH}/{PAGE}/feed").mock(return_value=answer(name, 400))
    with pytest.raises(kind) as raised:
        await account(http).publish(Draft(text="Hi", destination=PAGE), KEY)
    assert type(raised.value) is kind
    message = raised.value.message
    assert words in message and message.startswith("Facebook")
    assert PAGE_TOKEN not in message and USER_TOKEN not in message


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"retry-after": "120"}, 120.0),
        (
            {
                "x-business-use-case-usage": json.dumps(
                    {
                        PAGE: [
                            {
                                "type": "pages",
                                "call_count": 100,
                                "total_cputime": 12,
                                "total_time": 30,
                                "estimated_time_to_regain_access": 7,
                            }
                        ]
                    }
                )
            },
            420.0,
        ),
        ({"x-app-usage": '{"call_count":100,"total_time":25,"total_cputime":25}'}, 300.0),
    ],
)
async def test_throttling_waits_as_long_as_meta_says(
    http: httpx.AsyncClient,
    mock: respx.MockRouter,
    page: respx.Route,
    feed: respx.Route,
    headers: dict[str, str],
    wait: float,
) -> None:
    mock.post(f"{GRAPH}/{PAGE}/feed").mock(return_value=answer("error.32", 400, **headers))
    with pytest.raises(RateLimited) as raised:
        await account(http).publish(Draft(text="Hi", destination=PAGE), KEY)
    assert raised.value.retry_after == wait


async def test_a_token_meta_echoes_back_never_reaches_a_message(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    mock.get(f"{GRAPH}/{PAGE}").respond(
        400,
        json={
            "error": {
                "message": f"Malformed access token {USER_TOKEN}",
                "type": "OAuthException",
                "code": 190,
            }
        },
    )
    with pytest.raises(AuthRevoked) as raised:
        await account(http).publish(Draft(text="Hi", destination=PAGE), KEY)
    assert USER_TOKEN not in raised.value.message and "Malformed access token" in (
        raised.value.message
    )


async def test_a_page_the_person_no_longer_manages_needs_a_new_connection(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    mock.get(f"{GRAPH}/{PAGE}").respond(json={"id": PAGE})
    with pytest.raises(AuthRevoked, match="no access to this Page"):
        await account(http).publish(Draft(text="Hi", destination=PAGE), KEY)


async def test_facebook_down_may_pass(
    http: httpx.AsyncClient, mock: respx.MockRouter, page: respx.Route, feed: respx.Route
) -> None:
    mock.post(f"{GRAPH}/{PAGE}/feed").respond(503, text="Service Unavailable")
    with pytest.raises(Retriable):
        await account(http).publish(Draft(text="Hi", destination=PAGE), KEY)


@pytest.mark.parametrize(
    ("draft", "words"),
    [
        (Draft(text="Hi"), "Choose the Facebook Page"),
        (Draft(text="Hi", destination="../me"), "None of the Pages .* is called '../me'"),
        (Draft(text="", destination=PAGE), "nothing to publish"),
        (
            Draft(
                text="Hi",
                destination=PAGE,
                reply_to=Thread(Published("1234567890_1"), Published("1234567890_1")),
            ),
            "cannot answer another post",
        ),
    ],
)
async def test_drafts_facebook_would_refuse_are_refused_before_any_request(
    http: httpx.AsyncClient, mock: respx.MockRouter, draft: Draft, words: str
) -> None:
    with pytest.raises(PermanentError, match=words):
        await account(http).publish(draft, KEY)
    assert not mock.calls


async def test_revoke_takes_back_every_permission(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    revoked = mock.delete(f"{GRAPH}/me/permissions").mock(return_value=answer("success"))
    assert await account(http).revoke()
    assert bearer(revoked.calls.last.request) == USER_TOKEN
