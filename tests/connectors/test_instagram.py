"""Instagram: content publishing through containers, their polling, the daily quota, and the
Graph API's errors.

No Instagram runs here, so the HTTP layer is faked with respx; the answers in
tests/testdata/instagram are written in the shapes developers.facebook.com documents for the
IG User, IG Container and content publishing endpoints.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
import respx

import connectors
from connectors import _graph
from connectors.base import (
    AuthRevoked,
    Context,
    Credentials,
    Draft,
    Media,
    PermanentError,
    Published,
    RateLimited,
    Retriable,
    Upload,
)
from connectors.instagram import Instagram

DATA = Path(__file__).resolve().parents[1] / "testdata" / "instagram"
GRAPH = f"https://graph.facebook.com/{_graph.VERSION}"
TOKEN = "EAAUserTokenSECRET0123456789"
IG = "17841405822304914"
CONTAINER = "17889455560051444"
KEY = "post-1"
JPEG = b"\xff\xd8\xff\xe0" + b"picture" * 10
PICTURE = Media("https://cdn.example/engine.jpg", "image/jpeg", "The engine")


def answer(name: str, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, content=(DATA / f"{name}.json").read_bytes(), headers=headers)


def form(request: httpx.Request) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(request.content.decode()).items()}


async def served(upload: Upload) -> str:
    """The portal's public address of a picture it holds."""
    return f"https://portal.example/media/{len(upload.data)}.jpg"


QUICK = Context(media_poll_interval=0.0, media_poll_timeout=5.0, media_url=served)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
def ready(mock: respx.MockRouter) -> dict[str, respx.Route]:
    """An account with room in its quota, no post yet, and containers ready at once."""
    return {
        "recent": mock.get(f"{GRAPH}/{IG}/media").mock(return_value=answer("media.empty")),
        "quota": mock.get(f"{GRAPH}/{IG}/content_publishing_limit").mock(
            return_value=answer("content_publishing_limit")
        ),
        "status": mock.get(f"{GRAPH}/{CONTAINER}", params={"fields": "status_code,status"}).mock(
            return_value=answer("status.finished")
        ),
        "publish": mock.post(f"{GRAPH}/{IG}/media_publish").mock(
            return_value=answer("media_publish")
        ),
        "permalink": mock.get(f"{GRAPH}/17920238422030506").mock(return_value=answer("permalink")),
    }


def account(http: httpx.AsyncClient, context: Context = QUICK) -> Instagram:
    credentials = Credentials(access_token=TOKEN, extra={"ig_user_id": IG})
    return Instagram("analytical.engines", credentials, http, context=context)


def test_instagram_is_registered_with_its_posting_rules() -> None:
    assert connectors.get("instagram") is Instagram
    assert Instagram.AUTH == "oauth2" and not Instagram.LINK_ONLY
    assert Instagram.CAN_PUBLISH and not Instagram.CAN_DELETE
    rules = Instagram.POST_RULES
    assert rules is not None
    assert rules.max_length == 2200 and rules.max_media == 10
    assert rules.media_required and not rules.links_clickable and not rules.threads
    assert rules.media_types == ("image/jpeg",)


def test_the_handle_rules_are_those_of_the_link_only_network() -> None:
    assert Instagram.normalize_handle("@Ada.Lovelace") == "ada.lovelace"
    assert Instagram.profile_url("ada_1815") == "https://www.instagram.com/ada_1815/"


async def test_one_picture_is_a_container_polled_until_finished_then_published(
    http: httpx.AsyncClient, mock: respx.MockRouter, ready: dict[str, respx.Route]
) -> None:
    create = mock.post(f"{GRAPH}/{IG}/media").mock(return_value=answer("container"))
    ready["status"].mock(
        side_effect=[
            answer("status.in_progress"),
            answer("status.in_progress"),
            answer("status.finished"),
        ]
    )
    draft = Draft(text="The engine #maths", link="https://example.org/", media=(PICTURE,))

    published = await account(http).publish(draft, KEY)

    assert published == Published(
        id="17920238422030506", url="https://www.instagram.com/p/C8abc123XYZ/"
    )
    sent = form(create.calls.last.request)
    assert sent == {
        "image_url": "https://cdn.example/engine.jpg",
        "alt_text": "The engine",
        "caption": "The engine #maths\n\nhttps://example.org/",
    }
    assert ready["status"].call_count == 3
    assert form(ready["publish"].calls.last.request) == {"creation_id": CONTAINER}
    for call in mock.calls:
        assert call.request.headers["authorization"] == f"Bearer {TOKEN}"
        assert TOKEN not in str(call.request.url)


async def test_pictures_the_portal_holds_are_fetched_from_its_public_address(
    http: httpx.AsyncClient, mock: respx.MockRouter, ready: dict[str, respx.Route]
) -> None:
    create = mock.post(f"{GRAPH}/{IG}/media").mock(return_value=answer("container"))
    draft = Draft(text="Held here", uploads=(Upload(JPEG, "image/jpeg", "alt"),))
    await account(http).publish(draft, KEY)
    assert form(create.calls.last.request)["image_url"] == (
        f"https://portal.example/media/{len(JPEG)}.jpg"
    )


async def test_several_pictures_are_a_carousel_of_item_containers(
    http: httpx.AsyncClient, mock: respx.MockRouter, ready: dict[str, respx.Route]
) -> None:
    create = mock.post(f"{GRAPH}/{IG}/media").mock(
        side_effect=[
            httpx.Response(200, json={"id": "111"}),
            httpx.Response(200, json={"id": "222"}),
            httpx.Response(200, json={"id": CONTAINER}),
        ]
    )
    items = mock.get(path__regex=rf"/{_graph.VERSION}/(111|222)$").mock(
        return_value=answer("status.finished")
    )
    draft = Draft(text="Two", media=(PICTURE,), uploads=(Upload(JPEG, "image/jpeg"),))

    await account(http).publish(draft, KEY)

    first, second, carousel = (form(call.request) for call in create.calls)
    assert first == {
        "image_url": PICTURE.url,
        "alt_text": "The engine",
        "is_carousel_item": "true",
    }
    assert second["is_carousel_item"] == "true" and "caption" not in second
    assert carousel == {"media_type": "CAROUSEL", "children": "111,222", "caption": "Two"}
    assert items.call_count == 2
    assert form(ready["publish"].calls.last.request) == {"creation_id": CONTAINER}


@pytest.mark.parametrize(
    ("status", "words"),
    [
        ("status.error", "could not prepare this post (Error: Media download has failed"),
        ("status.expired", "expire"),
    ],
)
async def test_a_container_in_error_or_expired_is_final(
    http: httpx.AsyncClient,
    mock: respx.MockRouter,
    ready: dict[str, respx.Route],
    status: str,
    words: str,
) -> None:
    mock.post(f"{GRAPH}/{IG}/media").mock(return_value=answer("container"))
    ready["status"].mock(return_value=answer(status))
    with pytest.raises(PermanentError, match=words.replace("(", r"\(")):
        await account(http).publish(Draft(text="x", media=(PICTURE,)), KEY)
    assert not ready["publish"].called


async def test_a_container_still_in_progress_at_the_deadline_may_pass(
    http: httpx.AsyncClient, mock: respx.MockRouter, ready: dict[str, respx.Route]
) -> None:
    mock.post(f"{GRAPH}/{IG}/media").mock(return_value=answer("container"))
    ready["status"].mock(return_value=answer("status.in_progress"))
    impatient = Context(media_poll_interval=0.01, media_poll_timeout=0.05, media_url=served)
    with pytest.raises(Retriable, match="still preparing"):
        await account(http, impatient).publish(Draft(text="x", media=(PICTURE,)), KEY)
    assert ready["status"].call_count >= 2
    assert not ready["publish"].called


async def test_a_full_daily_quota_is_a_wait(
    http: httpx.AsyncClient, mock: respx.MockRouter, ready: dict[str, respx.Route]
) -> None:
    ready["quota"].mock(return_value=answer("content_publishing_limit.full"))
    create = mock.post(f"{GRAPH}/{IG}/media")
    with pytest.raises(RateLimited, match="published its 50 posts") as raised:
        await account(http).publish(Draft(text="x", media=(PICTURE,)), KEY)
    assert raised.value.retry_after is not None and raised.value.retry_after > 0
    assert not create.called


async def test_a_retry_after_a_lost_answer_finds_the_post_already_made(
    http: httpx.AsyncClient, mock: respx.MockRouter, ready: dict[str, respx.Route]
) -> None:
    made = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
    ready["recent"].respond(
        json={
            "data": [
                {
                    "id": "17920238422030506",
                    "caption": "Once only",
                    "permalink": "https://www.instagram.com/p/C8abc123XYZ/",
                    "timestamp": made,
                }
            ]
        }
    )
    create = mock.post(f"{GRAPH}/{IG}/media")
    published = await account(http).publish(Draft(text="Once only", media=(PICTURE,)), KEY)
    assert published == Published(
        id="17920238422030506", url="https://www.instagram.com/p/C8abc123XYZ/"
    )
    assert not create.called and not ready["publish"].called


@pytest.mark.parametrize(
    ("name", "kind", "words"),
    [
        ("error.9004", PermanentError, "could not be fetched from this URI"),
        ("error.4", RateLimited, "too many requests"),
    ],
)
async def test_graph_errors_of_content_publishing(
    http: httpx.AsyncClient,
    mock: respx.MockRouter,
    ready: dict[str, respx.Route],
    name: str,
    kind: type[Exception],
    words: str,
) -> None:
    mock.post(f"{GRAPH}/{IG}/media").mock(return_value=answer(name, 400))
    with pytest.raises(kind) as raised:
        await account(http).publish(Draft(text="x", media=(PICTURE,)), KEY)
    assert type(raised.value) is kind
    message = str(raised.value)
    assert words in message and message.startswith("Instagram") and TOKEN not in message


async def test_a_revoked_token_never_reaches_the_message(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    mock.get(f"{GRAPH}/{IG}/media").respond(
        400,
        json={
            "error": {
                "message": f"Error validating access token {TOKEN}",
                "type": "OAuthException",
                "code": 190,
                "error_subcode": 463,
            }
        },
    )
    with pytest.raises(AuthRevoked) as raised:
        await account(http).publish(Draft(text="x", media=(PICTURE,)), KEY)
    assert TOKEN not in raised.value.message


@pytest.mark.parametrize(
    ("draft", "words"),
    [
        (Draft(text="No picture"), "needs a picture"),
        (Draft(text="x" * 2201, media=(PICTURE,)), "2201 characters"),
        (
            Draft(text=" ".join(f"#tag{n}" for n in range(31)), media=(PICTURE,)),
            "31 hashtags",
        ),
        (
            Draft(text=" ".join(f"@user{n}" for n in range(21)), media=(PICTURE,)),
            "tags 21 accounts",
        ),
        (Draft(text="x", media=(Media("https://cdn.example/a.png", "image/png"),)), "JPEG"),
        (Draft(text="x", media=(Media("http://cdn.example/a.jpg", "image/jpeg"),)), "https://"),
        (Draft(text="x", media=(PICTURE,) * 11), "at most 10 pictures"),
    ],
)
async def test_drafts_instagram_would_refuse_are_refused_before_any_request(
    http: httpx.AsyncClient, mock: respx.MockRouter, draft: Draft, words: str
) -> None:
    with pytest.raises(PermanentError, match=words):
        await account(http).publish(draft, KEY)
    assert not mock.calls


async def test_a_portal_that_serves_no_pictures_says_so(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    draft = Draft(text="x", uploads=(Upload(JPEG, "image/jpeg"),))
    with pytest.raises(PermanentError, match="serves none"):
        await account(http, Context()).publish(draft, KEY)
    assert not mock.calls


async def test_get_actor_finds_the_account_connected_to_a_page(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    mock.get(f"{GRAPH}/me/accounts").mock(return_value=answer("me.accounts"))
    actor = await Instagram("", Credentials(access_token=TOKEN), http).get_actor()
    assert (actor.id, actor.handle, actor.display_name) == (
        IG,
        "analytical.engines",
        "Analytical Engines",
    )
    assert actor.url == "https://www.instagram.com/analytical.engines/"


async def test_get_actor_of_a_kept_account(http: httpx.AsyncClient, mock: respx.MockRouter) -> None:
    mock.get(f"{GRAPH}/{IG}").mock(return_value=answer("ig_user"))
    actor = await account(http).get_actor()
    assert actor.handle == "analytical.engines"


async def test_no_professional_account_is_said_plainly(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    mock.get(f"{GRAPH}/me/accounts").respond(json={"data": [{"id": "2345678901"}]})
    with pytest.raises(PermanentError, match="professional account"):
        await Instagram("", Credentials(access_token=TOKEN), http).get_actor()
