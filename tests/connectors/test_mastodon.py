"""Mastodon: handles, text counting, JSON mapping, and every API flow against recorded answers.

No Mastodon server runs here, so the HTTP layer is faked with respx; every answer is a real
one from tests/testdata/mastodon (the official docs' examples, and ``live_*`` answers recorded
from a running server with their status and headers).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from hypothesis import given, settings
from hypothesis import strategies as st

import connectors
from connectors import base, mastodon
from connectors._addresses import AddressPolicy
from connectors.base import (
    AuthRevoked,
    Credentials,
    Draft,
    InvalidHandle,
    Media,
    PermanentError,
    RateLimited,
    Retriable,
)
from connectors.mastodon import Mastodon
from connectors.mastodon._api import USER_AGENT

DATA = Path(__file__).resolve().parents[1] / "testdata" / "mastodon"
SERVER = "https://social.example"
SKIPPED_HEADERS = {"content-length", "content-encoding", "transfer-encoding"}
SCOPES_REFUSED = "Validation failed: Scopes doesn't match configured on the server."
"""What Mastodon (Doorkeeper) answers, with a 422, to an app asking for a scope it lacks."""


def load(name: str) -> Any:
    return json.loads((DATA / f"{name}.json").read_text())


def answer(name: str, status: int = 200, **headers: str) -> httpx.Response:
    """A docs example as the body of an answer with ``status``."""
    return httpx.Response(status, content=(DATA / f"{name}.json").read_bytes(), headers=headers)


def recorded(name: str, **extra_headers: str) -> httpx.Response:
    """A recorded answer: the status, headers and body the server sent."""
    meta = load(f"{name}.headers")
    headers = {k: v for k, v in meta["headers"].items() if k.lower() not in SKIPPED_HEADERS}
    body = (DATA / f"{name}.json").read_bytes()
    return httpx.Response(meta["status"], headers={**headers, **extra_headers}, content=body)


def form(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(request.content.decode(), keep_blank_values=True)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


VERIFY_CREDENTIALS = f"{SERVER}/api/v1/accounts/verify_credentials"


def verified(mock: respx.MockRouter) -> respx.Route:
    """The server knows the token: it answers with the account recorded from a live server."""
    return mock.get(VERIFY_CREDENTIALS).mock(return_value=recorded("live_verify_credentials"))


DEVELOPMENT = base.Context(addresses=AddressPolicy(allow_loopback=True))
"""A development portal's rules: servers on this machine may be named."""


def account(
    http: httpx.AsyncClient, instance: str = "social.example", context: base.Context = base.PUBLIC
) -> Mastodon:
    """The connector as the portal makes it after linking: no handle yet, the server in extra."""
    credentials = Credentials(access_token="secret-token", extra={"server": instance})
    return Mastodon("", credentials, http, context=context)


# -- handles ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("@Gargron@mastodon.social", "gargron@mastodon.social"),
        ("gargron@mastodon.social", "gargron@mastodon.social"),
        ("  @Ada@Mastodon.Social.  ", "ada@mastodon.social"),
        ("acct:ada@mastodon.social", "ada@mastodon.social"),
        ("https://mastodon.social/@Gargron", "gargron@mastodon.social"),
        ("mastodon.social/@gargron/", "gargron@mastodon.social"),
        ("http://mastodon.social/@gargron?tab=posts#top", "gargron@mastodon.social"),
        ("https://mastodon.social/@ada@other.example", "ada@other.example"),
        ("https://mastodon.social/users/Gargron", "gargron@mastodon.social"),
        ("@ada@mastodon.café", "ada@mastodon.xn--caf-dma"),
        ("@ａｄａ@ｍａｓｔｏｄｏｎ.ｓｏｃｉａｌ", "ada@mastodon.social"),
        ("@ada\u200b@mastodon.social", "ada@mastodon.social"),
        ("@a_b_1@x.example", "a_b_1@x.example"),
        ("@" + "a" * 30 + "@x.example", "a" * 30 + "@x.example"),
    ],
)
def test_handles_are_normalised(raw: str, expected: str) -> None:
    assert Mastodon.normalize_handle(raw) == expected
    assert Mastodon.normalize_handle(expected) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "ada",
        "@ada",
        "@ada@",
        "@@mastodon.social",
        "@ada@mastodon.social@evil.example",
        "@" + "a" * 31 + "@x.example",
        "@ad-a@x.example",
        "@ad.a@x.example",
        "@ädä@x.example",
        "@ada@localhost",
        "@ada@127.0.0.1",
        "@ada@10.0.0.1",
        "@ada@[::1]",
        "@ada@mastodon.social:8443",
        "@ada@mastodon_social.example",
        "@ada@-x.example",
        "@ada@" + "a" * 300 + ".example",
        "https://user:pw@mastodon.social/@ada",
        "https://evil.example@mastodon.social/@ada",
        "https://mastodon.social/@ada/109876543210",
        "https://mastodon.social/about",
        "https://[::1]/@ada",
        "ftp://mastodon.social/@ada",
        "javascript:alert(1)//@x.example",
        "<script>@ada@x.example",
        "x" * 10_000,
    ],
)
def test_hostile_or_wrong_handles_are_refused_with_a_reason(raw: str) -> None:
    with pytest.raises(InvalidHandle) as refused:
        Mastodon.normalize_handle(raw)
    assert refused.value.message.strip()


@pytest.mark.parametrize("raw", [None, 42, b"ada@mastodon.social"])
def test_a_handle_that_is_not_text_is_refused(raw: Any) -> None:
    with pytest.raises(InvalidHandle):
        Mastodon.normalize_handle(raw)


URL_CHARACTERS = st.text(alphabet=st.sampled_from("aZ09_.-@:/?=&#[]%+ \u00e9\uff41"), max_size=40)
PREFIXES = st.sampled_from(
    ["", "@", "acct:", "https://", "mastodon.social/@", "https://mastodon.social/@", "@ada@"]
)


@settings(max_examples=300)
@given(st.one_of(st.builds(str.__add__, PREFIXES, URL_CHARACTERS), st.text(max_size=80)))
def test_any_text_is_a_handle_or_a_clear_refusal(raw: str) -> None:
    try:
        handle = Mastodon.normalize_handle(raw)
    except InvalidHandle as refused:
        message = refused.message
        assert message.strip()
        return
    assert Mastodon.normalize_handle(handle) == handle


def test_links_and_display() -> None:
    assert Mastodon.profile_url("ada@mastodon.social") == "https://mastodon.social/@ada"
    assert Mastodon.deep_link("ada@mastodon.social") == "https://mastodon.social/@ada"
    assert Mastodon.display_handle("ada@mastodon.social") == "@ada@mastodon.social"
    assert connectors.get("mastodon") is Mastodon


def test_loopback_servers_only_when_allowed() -> None:
    with pytest.raises(InvalidHandle):
        Mastodon.normalize_handle("ada@localhost:3000")
    assert Mastodon.normalize_handle("@Ada@localhost:3000", context=DEVELOPMENT) == (
        "ada@localhost:3000"
    )
    assert Mastodon.profile_url("ada@localhost:3000") == "http://localhost:3000/@ada"


@pytest.mark.parametrize(
    ("raw", "server"),
    [
        ("mastodon.social", "mastodon.social"),
        ("https://Mastodon.Social/", "mastodon.social"),
        ("@ada@mastodon.social", "mastodon.social"),
        ("ada@mastodon.social", "mastodon.social"),
        ("acct:ada@mastodon.social", "mastodon.social"),
        ("@ada.lovelace-1@gts.example", "gts.example"),  # names other servers allow
        ("https://mastodon.social/@ada", "mastodon.social"),
        ("mastodon.social/@ada", "mastodon.social"),
        ("https://pleroma.example/users/ada", "pleroma.example"),
        ("https://mastodon.social/@ada@other.example", "other.example"),
    ],
)
def test_the_server_is_named_by_itself_a_handle_or_a_profile(raw: str, server: str) -> None:
    assert Mastodon.server_name(raw) == server


def test_a_development_server_keeps_its_port(monkeypatch: pytest.MonkeyPatch) -> None:
    for raw in ("127.0.0.1:8443", "@ada@127.0.0.1:8443", "http://127.0.0.1:8443/@ada"):
        assert Mastodon.server_name(raw, context=DEVELOPMENT) == "127.0.0.1:8443"
    with pytest.raises(InvalidHandle, match="without a port"):
        Mastodon.server_name("@ada@mastodon.social:8443")


@pytest.mark.parametrize(
    "raw", ["", "@ada@", "@ada@x.example@evil.example", "https://mastodon.social/about", "10.0.0.1"]
)
def test_a_server_that_cannot_be_named_is_refused(raw: str) -> None:
    with pytest.raises(InvalidHandle) as refused:
        Mastodon.server_name(raw)
    assert refused.value.message.strip()


# -- counting as Mastodon does ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello", 5),
        ("see https://example.com/" + "a" * 100, 4 + 23),
        ("(https://example.com/x).", 1 + 23 + 2),
        ("example.com/abc", 15),
        ("@ada@mastodon.social hi", len("@ada hi")),
        ("https://mastodon.social/@ada@other.example", 23),
        ("mail ada@example.org", 20),
        ("👨‍👩‍👧‍👦", 1),
        ("e\u0301", 1),
        ("🇫🇷🇩🇪", 2),
        ("   ", 0),
    ],
)
def test_text_is_counted_as_mastodon_counts_it(text: str, expected: int) -> None:
    assert Mastodon.count_text(text) == expected


def test_the_content_warning_counts_too() -> None:
    assert mastodon.count_status("abc", "cw") == 5
    assert mastodon.count_status("https://example.com/long", url_length=10) == 10


def test_the_limit_comes_from_the_instance() -> None:
    assert mastodon.max_characters(load("instance_v2")) == 500
    assert mastodon.max_characters(load("live_instance_v2")) == 500
    bigger = load("instance_v2")
    bigger["configuration"]["statuses"]["max_characters"] = 5000
    assert mastodon.max_characters(bigger) == 5000
    for wrong in ("5000", True, -1, None):
        bigger["configuration"]["statuses"]["max_characters"] = wrong
        assert mastodon.max_characters(bigger) == Mastodon.MAX_TEXT_LENGTH
    assert mastodon.max_characters({}) == 500


# -- JSON → Portal's types -------------------------------------------------------------------


def test_html_becomes_plain_text_with_whole_links() -> None:
    status = load("status")
    assert mastodon.html_to_text(status["content"]) == (
        '"I lost my inheritance with one wrong digit on my sort code"\n\n'
        "https://www.theguardian.com/money/2019/dec/07/"
        "i-lost-my-193000-inheritance-with-one-wrong-digit-on-my-sort-code"
    )


def test_hostile_html_gives_only_its_text() -> None:
    html = "<script>alert(1)</script><p>a<br>b</p><style>p{}</style>&lt;b&gt;<!-- x --><p>\x00c</p>"
    assert mastodon.html_to_text(html) == "a\nb\n\n<b>\n\nc"


def test_credential_account_maps_to_actor_with_plain_bio() -> None:
    actor = mastodon.actor_from_json(load("account_verify_credentials"), "mastodon.social")
    assert (actor.network, actor.id, actor.handle) == ("mastodon", "14715", "trwnh@mastodon.social")
    assert actor.display_name == "infinite love ⴳ"
    assert actor.url == "https://mastodon.social/@trwnh"
    assert actor.avatar_url is not None
    assert actor.avatar_url.startswith("https://files.mastodon.social/accounts/avatars/")
    assert actor.bio.startswith("i have approximate knowledge of many things.")
    assert "\nxmpp/email: a@trwnh.com\nhttps://trwnh.com\n" in actor.bio
    assert "\r" not in actor.bio


def test_remote_account_keeps_its_own_server_and_html_bio() -> None:
    actor = mastodon.actor_from_json(load("account"), "mastodon.social")
    assert actor.handle == "noiob@awoo.space"
    assert "<" not in actor.bio
    assert actor.bio.endswith("avatar by @dzuk")


def test_status_maps_to_post() -> None:
    status = load("status")
    post = mastodon.post_from_json(status, "mastodon.social")
    assert post.id == "103270115826048975"
    assert post.author.handle == "gargron@mastodon.social"
    assert post.published == datetime(2019, 12, 8, 3, 48, 33, 901000, tzinfo=UTC)
    assert post.html == status["content"]
    assert post.text.startswith('"I lost my inheritance')
    assert post.url == "https://mastodon.social/@Gargron/103270115826048975"
    assert post.reply_to is None
    assert post.media == ()


def test_content_warning_and_media_reach_the_post() -> None:
    status = load("status")
    status["spoiler_text"] = "money"
    # A MediaAttachment as docs.joinmastodon.org/methods/media/#get shows it (trimmed).
    status["media_attachments"] = [
        {
            "id": "22348641",
            "type": "image",
            "url": "https://files.mastodon.social/media_attachments/files/022/348/641/original/e96382f26c72a29c.jpeg",
            "preview_url": "https://files.mastodon.social/media_attachments/files/022/348/641/small/e96382f26c72a29c.jpeg",
            "remote_url": None,
            "description": "test uploaded via api, but updated",
        },
        {"id": "1", "type": "image", "url": None, "preview_url": None, "remote_url": None},
    ]
    post = mastodon.post_from_json(status, "mastodon.social")
    assert post.text.startswith("CW: money\n\n")
    assert len(post.media) == 1
    assert post.media[0].url.endswith("/original/e96382f26c72a29c.jpeg")
    assert post.media[0].mime_type == "image/jpeg"
    assert post.media[0].description == "test uploaded via api, but updated"


def test_a_malformed_status_is_a_clear_error() -> None:
    status = load("status")
    status["created_at"] = "yesterday"
    with pytest.raises(PermanentError, match="date"):
        mastodon.post_from_json(status, "mastodon.social")
    with pytest.raises(PermanentError):
        mastodon.post_from_json(["not", "a", "status"], "mastodon.social")


# -- OAuth: discovery and client registration ------------------------------------------------


async def test_oauth_server_from_well_known_metadata(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    mock.get(f"{SERVER}/.well-known/oauth-authorization-server").mock(
        return_value=answer("oauth_authorization_server_metadata")
    )
    server = await Mastodon.oauth_server("Social.Example", http)
    assert server.issuer == "https://social.example/"
    assert server.authorization_endpoint == f"{SERVER}/oauth/authorize"
    assert server.token_endpoint == f"{SERVER}/oauth/token"
    assert server.revocation_endpoint == f"{SERVER}/oauth/revoke"
    assert server.userinfo_endpoint == f"{SERVER}/oauth/userinfo"
    assert set(Mastodon.SCOPES) <= set(server.scopes_supported)
    assert Mastodon.oauth_scopes(server) == (
        "profile",
        "read:statuses",
        "write:statuses",
        "write:media",
    )


async def test_oauth_server_falls_back_to_fixed_paths_before_4_3(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    mock.get(f"{SERVER}/.well-known/oauth-authorization-server").mock(
        return_value=answer("error_404", 404)
    )
    server = await Mastodon.oauth_server("social.example", http)
    assert server.authorization_endpoint == f"{SERVER}/oauth/authorize"
    assert server.token_endpoint == f"{SERVER}/oauth/token"
    assert server.revocation_endpoint == f"{SERVER}/oauth/revoke"
    # A server without metadata does not say it knows granular scopes: the classic ones.
    assert server.scopes_supported == ()
    assert Mastodon.oauth_scopes(server) == ("read", "write")


async def test_oauth_server_without_the_profile_scope_asks_for_read_accounts(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    metadata = load("oauth_authorization_server_metadata")
    metadata["scopes_supported"].remove("profile")
    mock.get(f"{SERVER}/.well-known/oauth-authorization-server").mock(
        return_value=httpx.Response(200, json=metadata)
    )
    server = await Mastodon.oauth_server("social.example", http)
    assert Mastodon.oauth_scopes(server) == (
        "read:accounts",
        "read:statuses",
        "write:statuses",
        "write:media",
    )


@pytest.mark.parametrize(
    "supported",
    [
        ["read", "write", "follow", "push"],
        ["read", "write", "read:statuses", "write:statuses"],  # granular, but not all of them
    ],
)
async def test_oauth_server_that_lists_no_usable_granular_scopes_gets_read_write(
    http: httpx.AsyncClient, mock: respx.MockRouter, supported: list[str]
) -> None:
    metadata = {**load("oauth_authorization_server_metadata"), "scopes_supported": supported}
    mock.get(f"{SERVER}/.well-known/oauth-authorization-server").mock(
        return_value=httpx.Response(200, json=metadata)
    )
    server = await Mastodon.oauth_server("social.example", http)
    assert Mastodon.oauth_scopes(server) == ("read", "write")


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"token_endpoint": "https://evil.example/oauth/token"}, "another server"),
        ({"scopes_supported": ["read:statuses", "write:statuses"]}, r"\(read, write\)"),
    ],
    ids=["endpoint on another host", "scope missing"],
)
async def test_oauth_server_refuses_metadata_it_cannot_use(
    http: httpx.AsyncClient, mock: respx.MockRouter, changes: dict[str, Any], words: str
) -> None:
    metadata = {**load("oauth_authorization_server_metadata"), **changes}
    mock.get(f"{SERVER}/.well-known/oauth-authorization-server").mock(
        return_value=httpx.Response(200, json=metadata)
    )
    with pytest.raises(PermanentError, match=words):
        await Mastodon.oauth_server("social.example", http)


async def test_oauth_server_of_a_site_that_is_not_mastodon(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    mock.get(f"{SERVER}/.well-known/oauth-authorization-server").mock(
        return_value=httpx.Response(200, text="<html>Welcome</html>")
    )
    with pytest.raises(PermanentError, match="did not answer like a Mastodon server"):
        await Mastodon.oauth_server("social.example", http)


async def test_register_client_sends_the_exact_redirect_and_scopes(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    route = mock.post(f"{SERVER}/api/v1/apps").mock(
        return_value=answer("apps_create_multiple_redirect_uris")
    )
    client = await Mastodon.register_client(
        "social.example", "https://app.example/callback", http, scopes=Mastodon.SCOPES
    )
    created = load("apps_create_multiple_redirect_uris")
    assert client.client_id == created["client_id"]
    assert client.client_secret == created["client_secret"]
    assert client.redirect_uri == "https://app.example/callback"
    sent = route.calls.last.request
    assert form(sent) == {
        "client_name": ["Portal"],
        "redirect_uris": ["https://app.example/callback"],
        "scopes": ["profile read:statuses write:statuses write:media"],
        "website": ["https://app.example"],
    }
    assert sent.headers["user-agent"] == USER_AGENT


async def test_register_client_refuses_another_return_address(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    mock.post(f"{SERVER}/api/v1/apps").mock(return_value=recorded("live_apps_create"))
    with pytest.raises(PermanentError, match="another return address"):
        await Mastodon.register_client(
            "social.example", "https://portal.example/cb", http, scopes=Mastodon.SCOPES
        )


async def test_register_client_passes_on_the_servers_refusal(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    mock.post(f"{SERVER}/api/v1/apps").mock(return_value=answer("apps_create_422", 422))
    with pytest.raises(PermanentError) as refused:
        await Mastodon.register_client(
            "social.example", "https://portal.example/cb", http, scopes=Mastodon.SCOPES
        )
    assert "Validation failed: Redirect URI must be an absolute URI." in refused.value.message


async def test_register_client_names_the_scopes_a_server_does_not_know(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    route = mock.post(f"{SERVER}/api/v1/apps").mock(
        return_value=httpx.Response(422, json={"error": SCOPES_REFUSED})
    )
    with pytest.raises(PermanentError) as refused:
        await Mastodon.register_client(
            "social.example", "https://portal.example/cb", http, scopes=Mastodon.SCOPES
        )
    assert SCOPES_REFUSED in refused.value.message
    assert "(profile, read:statuses, write:statuses, write:media)" in refused.value.message
    assert form(route.calls.last.request)["scopes"] == [" ".join(Mastodon.SCOPES)]


@pytest.mark.parametrize(
    "server",
    [
        "127.0.0.1",
        "localhost",
        "[::1]",
        "mastodon.social:8443",
        "https://user@mastodon.social",
        "mastodon.social/path",
        "",
    ],
)
async def test_register_client_refuses_hostile_servers_before_any_request(
    http: httpx.AsyncClient, mock: respx.MockRouter, server: str
) -> None:
    with pytest.raises(InvalidHandle):
        await Mastodon.register_client(
            server, "https://portal.example/cb", http, scopes=Mastodon.SCOPES
        )
    assert not mock.calls


# -- the account -----------------------------------------------------------------------------


async def test_verify_credentials_maps_to_the_actor(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    route = verified(mock)
    actor = await account(http).get_actor()
    assert actor.id == "117020457910412882"
    assert actor.handle == "mastodonpy_test@social.example"
    assert actor.url == f"{SERVER}/@mastodonpy_test"  # not the recorded localhost address
    assert actor.avatar_url is None  # the server's "missing.png" placeholder
    sent = route.calls.last.request
    assert sent.headers["authorization"] == "Bearer secret-token"
    assert sent.headers["user-agent"] == USER_AGENT
    assert sent.extensions["timeout"] == {"connect": 5.0, "read": 10.0, "write": 10.0, "pool": 10.0}


@pytest.mark.parametrize(
    "avatar",
    [
        f"{SERVER}/avatars/original/missing.png",  # Mastodon
        f"{SERVER}/images/avi.png",  # Pleroma, Akkoma
        f"{SERVER}/assets/default_avatars/GoToSocial_icon4.webp",  # GoToSocial
        f"{SERVER}/static/img/unknown-icon-128.png",  # Takahē
        f"{SERVER}/identicon/mastodonpy_test@social.example",  # Misskey, Sharkey, Iceshrimp
    ],
)
async def test_a_servers_placeholder_avatar_is_no_avatar(
    http: httpx.AsyncClient, mock: respx.MockRouter, avatar: str
) -> None:
    data = {**load("live_verify_credentials"), "avatar": avatar, "avatar_static": avatar}
    mock.get(VERIFY_CREDENTIALS).mock(return_value=httpx.Response(200, json=data))
    actor = await account(http).get_actor()
    assert actor.avatar_url is None


async def test_a_chosen_avatar_is_kept(http: httpx.AsyncClient, mock: respx.MockRouter) -> None:
    chosen = f"{SERVER}/fileserver/01Z0G3/attachment/original/01Z0G4.jpeg"
    data = {**load("live_verify_credentials"), "avatar": chosen}
    mock.get(VERIFY_CREDENTIALS).mock(return_value=httpx.Response(200, json=data))
    assert (await account(http).get_actor()).avatar_url == chosen


@pytest.mark.parametrize(
    ("instance", "given"),
    [
        ("social.example", "http://social.example/@mastodonpy_test"),
        ("social.example", "https://social.example/users/mastodonpy_test"),  # Pleroma
        ("social.example", "https://social.example/@mastodonpy_test@social.example/"),  # Takahē
        # A development server behind a proxy: its own address has no port.
        ("127.0.0.1:8443", "https://127.0.0.1/@mastodonpy_test"),
    ],
)
async def test_the_profile_address_is_kept_as_the_server_gives_it(
    http: httpx.AsyncClient,
    mock: respx.MockRouter,
    monkeypatch: pytest.MonkeyPatch,
    instance: str,
    given: str,
) -> None:
    data = {**load("live_verify_credentials"), "url": given}
    mock.get(f"{base.server_url(instance)}/api/v1/accounts/verify_credentials").mock(
        return_value=httpx.Response(200, json=data)
    )
    actor = await account(http, instance=instance, context=DEVELOPMENT).get_actor()
    assert actor.url == given


async def test_an_account_of_another_server_is_refused(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    claimed = {**load("live_verify_credentials"), "acct": "gargron@mastodon.social"}
    mock.get(VERIFY_CREDENTIALS).mock(return_value=httpx.Response(200, json=claimed))
    with pytest.raises(PermanentError, match="another server"):
        await account(http).get_actor()


async def test_the_portals_user_agent_is_kept(mock: respx.MockRouter) -> None:
    route = verified(mock)
    async with httpx.AsyncClient(headers={"user-agent": "Portal/9.9"}) as http:
        await account(http).get_actor()
    assert route.calls.last.request.headers["user-agent"] == "Portal/9.9"


async def test_a_development_server_on_loopback(
    http: httpx.AsyncClient, mock: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded_uri = load("live_verify_credentials.headers")["request"]["uri"]
    mock.get(recorded_uri).mock(return_value=recorded("live_verify_credentials"))
    actor = await account(http, instance="localhost:3000", context=DEVELOPMENT).get_actor()
    assert actor.handle == "mastodonpy_test@localhost:3000"
    assert actor.url == "http://localhost:3000/@mastodonpy_test"


async def test_loopback_is_refused_in_real_use(http: httpx.AsyncClient) -> None:
    with pytest.raises(InvalidHandle):
        await account(http, instance="localhost:3000").get_actor()


async def test_posts_page_through_the_link_header(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    credentials = verified(mock)
    statuses = mock.get(f"{SERVER}/api/v1/accounts/117020457910412882/statuses").mock(
        side_effect=[recorded("live_timelines_home"), httpx.Response(200, json=[])]
    )
    connector = account(http)
    page = await connector.get_posts()

    timeline = load("live_timelines_home")
    shown = [s for s in timeline if s["visibility"] in ("public", "unlisted")]
    assert [post.id for post in page.items] == [s["id"] for s in shown]
    assert len(page.items) < len(timeline)  # followers-only posts and private mentions stay
    assert page.items[0].text == "Toot!"
    assert page.items[0].author.handle == "mastodonpy_test@social.example"
    assert page.items[1].text == "you can't say that on television"
    assert page.items[1].author.handle == "admin@social.example"
    assert page.cursor == "117020574694606796"
    first = statuses.calls[0].request.url.params
    assert (first["limit"], first["exclude_reblogs"], "max_id" in first) == ("20", "true", False)

    last = await connector.get_posts(page.cursor, limit=100)
    assert (last.items, last.cursor) == ([], None)
    second = statuses.calls[1].request.url.params
    assert (second["max_id"], second["limit"]) == ("117020574694606796", "40")
    assert credentials.call_count == 1


async def test_posts_without_a_link_header_page_by_the_last_id(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    verified(mock)
    timeline = load("live_timelines_home")
    mock.get(f"{SERVER}/api/v1/accounts/117020457910412882/statuses").mock(
        return_value=httpx.Response(200, json=timeline)
    )
    connector = account(http)
    full = await connector.get_posts(limit=len(timeline))
    assert full.cursor == timeline[-1]["id"]
    partial = await connector.get_posts(limit=len(timeline) + 1)
    assert partial.cursor is None


async def test_boosts_are_not_the_accounts_posts(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    verified(mock)
    own = load("status")
    boost = {**load("status"), "id": "2", "reblog": load("status"), "content": ""}
    mock.get(f"{SERVER}/api/v1/accounts/117020457910412882/statuses").mock(
        return_value=httpx.Response(200, json=[own, boost])
    )
    page = await account(http).get_posts()
    assert [post.id for post in page.items] == [own["id"]]


async def test_a_forged_page_marker_is_refused(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    verified(mock)
    statuses = mock.get(url__startswith=f"{SERVER}/api/v1/accounts/117020457910412882/")
    with pytest.raises(PermanentError, match="page marker"):
        await account(http).get_posts("../../admin")
    assert not statuses.called


# -- errors as a person sees them ------------------------------------------------------------


def rate_limited() -> httpx.Response:
    meta = load("error_429.headers")
    reset = datetime.fromisoformat(meta["headers"]["X-RateLimit-Reset"])
    date = format_datetime(reset - timedelta(seconds=120), usegmt=True)
    return httpx.Response(429, headers={**meta["headers"], "Date": date}, json=load("error_429"))


@pytest.mark.parametrize(
    ("reply", "kind", "words"),
    [
        (lambda: recorded("live_error_401_timelines_home"), AuthRevoked, "access token is invalid"),
        (lambda: answer("error_403", 403), PermanentError, "Your login is currently disabled"),
        (lambda: answer("error_404", 404), PermanentError, "Record not found"),
        (lambda: recorded("live_error_422_status_empty"), PermanentError, "バリデーションに失敗"),
        (rate_limited, RateLimited, "slow down"),
        (lambda: httpx.Response(500), Retriable, "500"),
        (lambda: httpx.Response(503, text="<h1>down</h1>"), Retriable, "503"),
        (lambda: httpx.Response(200, text="<html>"), PermanentError, "like a Mastodon server"),
        (lambda: httpx.Response(200, text="[" * 100_000), PermanentError, "like a Mastodon server"),
    ],
)
async def test_answers_map_to_errors(
    http: httpx.AsyncClient, mock: respx.MockRouter, reply: Any, kind: type, words: str
) -> None:
    mock.get(VERIFY_CREDENTIALS).mock(return_value=reply())
    with pytest.raises(base.ConnectorError) as failed:
        await account(http).get_actor()
    assert type(failed.value) is kind
    assert words in failed.value.message


WWW_AUTHENTICATE_INVALID = 'Bearer realm="Doorkeeper", error="invalid_token"'


@pytest.mark.parametrize(
    "reply",
    [
        lambda: httpx.Response(
            400, text="Invalid Bearer token", headers={"content-type": "text/html"}
        ),
        lambda: httpx.Response(403, json={"error": "Invalid credentials."}),
        lambda: httpx.Response(403, json={"error": "The access token was revoked"}),
        lambda: httpx.Response(
            403, json={"error": "refused"}, headers={"www-authenticate": WWW_AUTHENTICATE_INVALID}
        ),
    ],
    ids=["400 html", "403 pleroma", "403 revoked", "403 challenge"],
)
async def test_a_refused_token_is_a_revoked_one_whatever_the_status(
    http: httpx.AsyncClient, mock: respx.MockRouter, reply: Any
) -> None:
    mock.get(VERIFY_CREDENTIALS).mock(return_value=reply())
    with pytest.raises(AuthRevoked):
        await account(http).get_actor()


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (lambda: httpx.Response(403, json={"error": "out_of_scope_for_token"}), "out_of_scope"),
        (lambda: httpx.Response(400, text="<h1>Bad request</h1>"), "(400)"),
    ],
)
async def test_other_refusals_are_not_a_revoked_token(
    http: httpx.AsyncClient, mock: respx.MockRouter, reply: Any, words: str
) -> None:
    mock.get(VERIFY_CREDENTIALS).mock(return_value=reply())
    with pytest.raises(PermanentError) as refused:
        await account(http).get_actor()
    assert type(refused.value) is PermanentError
    assert words in refused.value.message


async def test_rate_limit_wait_comes_from_the_reset_header(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    mock.get(VERIFY_CREDENTIALS).mock(return_value=rate_limited())
    with pytest.raises(RateLimited) as limited:
        await account(http).get_actor()
    assert limited.value.retry_after == 120


def test_retry_after_reads_every_form() -> None:
    reset = load("error_429.headers")["headers"]["X-RateLimit-Reset"]
    moment = datetime(2026, 8, 1, 13, 59, 15, tzinfo=UTC)
    now = moment.timestamp()
    assert mastodon.retry_after({"X-RateLimit-Reset": reset}, now) == 45
    assert mastodon.retry_after({"Retry-After": "30", "X-RateLimit-Reset": reset}, now) == 30
    date = format_datetime(moment + timedelta(seconds=90), usegmt=True)
    assert mastodon.retry_after({"Retry-After": date}, now) == 90
    assert mastodon.retry_after({"X-RateLimit-Reset": reset}, now + 3600) == 1
    assert mastodon.retry_after({"X-RateLimit-Reset": "soon"}, now) == 60
    for unreadable in ("\u00b2", "99999999999 Jan 2026 00:00 GMT"):
        assert (
            mastodon.retry_after({"Retry-After": unreadable, "X-RateLimit-Reset": reset}, now) == 45
        )


@pytest.mark.parametrize("failure", [httpx.ConnectTimeout("slow"), httpx.ConnectError("down")])
async def test_unreachable_servers_may_pass(
    http: httpx.AsyncClient, mock: respx.MockRouter, failure: Exception
) -> None:
    mock.get(VERIFY_CREDENTIALS).mock(side_effect=failure)
    with pytest.raises(Retriable):
        await account(http).get_actor()


async def test_redirects_to_another_host_are_not_followed(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    mock.get(VERIFY_CREDENTIALS).mock(
        return_value=httpx.Response(302, headers={"location": "https://evil.example/steal"})
    )
    elsewhere = mock.get("https://evil.example/steal")
    with pytest.raises(PermanentError, match=r"evil\.example"):
        await account(http).get_actor()
    assert not elsewhere.called


async def test_an_endless_answer_is_cut_off(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"[" * 65536

    mock.get(VERIFY_CREDENTIALS).mock(
        return_value=httpx.Response(200, stream=endless())  # type: ignore[arg-type]
    )
    with pytest.raises(PermanentError, match="larger than Portal accepts"):
        await account(http).get_actor()


async def test_no_token_means_reconnect(http: httpx.AsyncClient) -> None:
    connector = Mastodon("", Credentials(extra={"server": "social.example"}), http)
    with pytest.raises(AuthRevoked):
        await connector.get_actor()


# -- publishing ------------------------------------------------------------------------------


async def test_publish_sends_the_idempotency_key_and_maps_the_status(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    mock.get(f"{SERVER}/api/v2/instance").mock(return_value=answer("instance_v2"))
    route = mock.post(f"{SERVER}/api/v1/statuses").mock(return_value=recorded("live_statuses_post"))
    published = await account(http).publish(
        Draft("Toot!", content_warning="spoilers"), "0b6f1c2e-key"
    )
    assert published.id == "117020585846976096"
    assert published.url == "http://localhost:3000/@mastodonpy_test/117020585846976096"
    sent = route.calls.last.request
    assert sent.headers["idempotency-key"] == "0b6f1c2e-key"
    assert sent.headers["authorization"] == "Bearer secret-token"
    assert form(sent) == {"status": ["Toot!"], "spoiler_text": ["spoilers"]}


async def test_a_link_counts_23_characters(http: httpx.AsyncClient, mock: respx.MockRouter) -> None:
    mock.get(f"{SERVER}/api/v2/instance").mock(return_value=answer("instance_v2"))
    route = mock.post(f"{SERVER}/api/v1/statuses").mock(return_value=recorded("live_statuses_post"))
    text = "a" * 470
    link = "https://example.com/" + "b" * 300
    assert len(text) + len(link) > 500
    await account(http).publish(Draft(text, link=link), "key")
    assert form(route.calls.last.request)["status"] == [f"{text}\n\n{link}"]


@pytest.mark.parametrize(
    ("draft", "count"),
    [(Draft("a" * 501), 501), (Draft("a" * 490, content_warning="c" * 20), 510)],
)
async def test_a_post_over_the_limit_is_refused_with_its_count(
    http: httpx.AsyncClient, mock: respx.MockRouter, draft: Draft, count: int
) -> None:
    mock.get(f"{SERVER}/api/v2/instance").mock(return_value=answer("instance_v2"))
    route = mock.post(f"{SERVER}/api/v1/statuses")
    connector = account(http)
    with pytest.raises(PermanentError) as refused:
        await connector.publish(draft, "key")
    assert f"{count} characters" in refused.value.message
    assert "allows 500" in refused.value.message
    assert not route.called


async def test_the_instances_own_limit_is_used(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    instance = load("instance_v2")
    instance["configuration"]["statuses"]["max_characters"] = 1000
    mock.get(f"{SERVER}/api/v2/instance").mock(return_value=httpx.Response(200, json=instance))
    route = mock.post(f"{SERVER}/api/v1/statuses").mock(return_value=recorded("live_statuses_post"))
    await account(http).publish(Draft("a" * 999), "key")
    assert route.called


async def test_without_the_instances_limit_the_server_judges(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    mock.get(f"{SERVER}/api/v2/instance").mock(return_value=httpx.Response(500))
    mock.post(f"{SERVER}/api/v1/statuses").mock(
        return_value=recorded("live_error_422_status_empty")
    )
    with pytest.raises(PermanentError) as refused:
        await account(http).publish(Draft("x" * 600), "key")
    assert load("live_error_422_status_empty")["error"] in refused.value.message


async def test_the_instances_limits_are_kept_an_hour_where_the_portal_keeps_facts(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    instance = load("instance_v2")
    instance["configuration"]["statuses"]["max_characters"] = 1000
    asked = mock.get(f"{SERVER}/api/v2/instance").mock(
        return_value=httpx.Response(200, json=instance)
    )
    mock.post(f"{SERVER}/api/v1/statuses").mock(return_value=recorded("live_statuses_post"))
    clock = [0.0]
    keeping = base.Context(kept=base.Kept(clock=lambda: clock[0]))
    for key in ("one", "two"):  # each delivery has a connector of its own
        await account(http, context=keeping).publish(Draft("a" * 999), key)
    assert asked.call_count == 1
    clock[0] += 3601
    await account(http, context=keeping).publish(Draft("a" * 999), "three")
    assert asked.call_count == 2
    for key in ("four", "five"):  # a portal that keeps nothing asks every time
        await account(http).publish(Draft("a" * 999), key)
    assert asked.call_count == 4


def test_facts_are_kept_for_their_time_and_the_least_used_dropped_first() -> None:
    clock = [0.0]
    kept = base.Kept(size=2, clock=lambda: clock[0])
    kept.put("a", 1, 10)
    kept.put("b", 2, 100)
    assert kept.get("a") == 1  # "b" is now the least used
    kept.put("c", 3, 100)
    assert (kept.get("a"), kept.get("b"), kept.get("c")) == (1, None, 3)
    clock[0] = 10
    assert kept.get("a") is None and kept.get("c") == 3


@pytest.mark.parametrize("key", ["", "   ", "a\nb", "k" * 201])
async def test_publish_needs_a_usable_idempotency_key(http: httpx.AsyncClient, key: str) -> None:
    with pytest.raises(PermanentError):
        await account(http).publish(Draft("hello"), key)


async def test_an_empty_draft_is_refused(http: httpx.AsyncClient) -> None:
    with pytest.raises(PermanentError, match="nothing to publish"):
        await account(http).publish(Draft("  "), "key")


# -- pictures --------------------------------------------------------------------------------

# A MediaAttachment as docs.joinmastodon.org/methods/media/ shows it (trimmed): processed (200)
# and still processing (202, no url yet).
PROCESSED = {
    "id": "22348641",
    "type": "image",
    "url": "https://files.mastodon.social/media_attachments/files/022/348/641/original/e96382f26c72a29c.jpeg",
    "description": "test uploaded via api",
}
PROCESSING = {**PROCESSED, "url": None}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def test_upload_media_sends_the_file_and_description(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    route = mock.post(f"{SERVER}/api/v2/media").mock(
        return_value=httpx.Response(200, json=PROCESSED)
    )
    media = Media("https://portal.example/media/cat.png", "image/png", "A cat on a mat")
    assert await account(http).upload_media(media, PNG) == "22348641"
    sent = route.calls.last.request
    assert sent.headers["content-type"].startswith("multipart/form-data")
    body = sent.content
    assert b'name="file"; filename="cat.png"' in body
    assert b"Content-Type: image/png" in body
    assert PNG in body
    assert b'name="description"\r\n\r\nA cat on a mat' in body


async def test_upload_media_waits_for_processing(
    http: httpx.AsyncClient, mock: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    quick = base.Context(media_poll_interval=0.0)
    mock.post(f"{SERVER}/api/v2/media").mock(return_value=httpx.Response(202, json=PROCESSING))
    poll = mock.get(f"{SERVER}/api/v1/media/22348641").mock(
        side_effect=[httpx.Response(206), httpx.Response(200, json=PROCESSED)]
    )
    media = Media("https://portal.example/media/clip", "video/mp4")
    assert await account(http, context=quick).upload_media(media, b"video") == "22348641"
    assert poll.call_count == 2


async def test_upload_media_gives_up_after_the_timeout(
    http: httpx.AsyncClient, mock: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    impatient = base.Context(media_poll_interval=0.0, media_poll_timeout=0.0)
    mock.post(f"{SERVER}/api/v2/media").mock(return_value=httpx.Response(202, json=PROCESSING))
    mock.get(f"{SERVER}/api/v1/media/22348641").mock(return_value=httpx.Response(206))
    with pytest.raises(Retriable, match="still processing"):
        await account(http, context=impatient).upload_media(
            Media("https://portal.example/m/clip.mp4"), b"video"
        )


async def test_upload_media_needs_a_type(http: httpx.AsyncClient) -> None:
    with pytest.raises(PermanentError, match="type"):
        await account(http).upload_media(Media("https://portal.example/media/blob"), b"data")


async def test_publish_attaches_the_drafts_pictures(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    mock.get(f"{SERVER}/api/v2/instance").mock(return_value=answer("instance_v2"))
    mock.get("https://portal.example/media/cat.png").mock(
        return_value=httpx.Response(200, content=PNG, headers={"content-type": "image/png"})
    )
    route = mock.post(f"{SERVER}/api/v1/statuses").mock(return_value=recorded("live_statuses_post"))
    upload = mock.post(f"{SERVER}/api/v2/media").mock(
        return_value=httpx.Response(200, json=PROCESSED)
    )
    draft = Draft("Look", media=(Media("https://portal.example/media/cat.png"),))
    await account(http).publish(draft, "key")
    assert form(route.calls.last.request) == {"status": ["Look"], "media_ids[]": ["22348641"]}
    assert b"Content-Type: image/png" in upload.calls.last.request.content
    assert PNG in upload.calls.last.request.content


async def test_too_many_pictures_are_refused(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    mock.get(f"{SERVER}/api/v2/instance").mock(return_value=answer("instance_v2"))
    pictures = tuple(Media(f"https://portal.example/{i}.png", "image/png") for i in range(5))
    with pytest.raises(PermanentError, match="at most 4"):
        await account(http).publish(Draft("many", media=pictures), "key")


async def test_the_home_timeline_pages_back_to_the_newest_status_seen(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    """A full page is followed by the one its ``Link`` names, ``since_id`` kept on it; the
    link's page is asked of the account's own server, whatever host the link names, and a
    link to another path is not followed."""
    timeline = load("live_timelines_home")
    full = [dict(timeline[n % len(timeline)], id=str(500 - n)) for n in range(40)]
    home = f"{SERVER}/api/v1/timelines/home"
    link = '<https://elsewhere.example/api/v1/timelines/home?max_id=461>; rel="next"'
    route = mock.get(home).mock(
        side_effect=[
            httpx.Response(200, json=full, headers={"link": link}),
            httpx.Response(200, json=timeline[:3]),
        ]
    )
    statuses = await account(http).home_timeline("400")
    assert len(statuses) == 43
    first, second = (call.request.url.params for call in route.calls)
    assert (first["since_id"], "max_id" in first) == ("400", False)
    assert (second["since_id"], second["max_id"]) == ("400", "461")
    assert all(
        call.request.headers["authorization"] == "Bearer secret-token" for call in route.calls
    )

    off_path = '<https://social.example/api/v1/accounts/1/statuses?max_id=461>; rel="next"'
    route.side_effect = [httpx.Response(200, json=full, headers={"link": off_path})]
    assert len(await account(http).home_timeline()) == 40
    assert route.call_count == 3


async def test_a_revoked_token_on_the_home_timeline_is_told_as_such(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    mock.get(f"{SERVER}/api/v1/timelines/home").mock(
        return_value=recorded("live_error_401_timelines_home")
    )
    with pytest.raises(AuthRevoked):
        await account(http).home_timeline()


# -- what people did with a post ---------------------------------------------------------------


def _status(status_id: str, **changes: Any) -> dict[str, Any]:
    """The docs' example status with another id (and the changes)."""
    return {**load("status"), "id": status_id, **changes}


def _answers_of(mock: respx.MockRouter, status_id: str, *, quotes: httpx.Response) -> None:
    path = f"{SERVER}/api/v1/statuses/{status_id}"
    reply = _status("200", in_reply_to_id=status_id, content="<p>Yes, <b>five</b>!</p>")
    deeper = _status("201", in_reply_to_id="200", content="<p>Me too</p>")
    hidden = _status("202", in_reply_to_id=status_id, visibility="private")
    mock.get(f"{path}/context").mock(
        return_value=httpx.Response(
            200, json={"ancestors": [], "descendants": [reply, deeper, hidden]}
        )
    )
    mock.get(f"{path}/quotes").mock(return_value=quotes)
    mock.get(f"{path}/reblogged_by").mock(return_value=httpx.Response(200, json=[load("account")]))
    mock.get(f"{path}/favourited_by").mock(
        return_value=httpx.Response(200, json=[load("account"), load("account_verify_credentials")])
    )


async def test_replies_boosts_and_favourites_come_back(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    _answers_of(mock, "100", quotes=answer("error_404", 404))  # before Mastodon 4.5

    found = await account(http).responses(base.Published("100"))

    kinds = [(answer.kind, answer.id) for answer in found]
    liker = load("account_verify_credentials")
    assert kinds == [
        ("reply", "200"),
        ("reply", "201"),
        ("repost", "23634"),
        ("like", "23634"),
        ("like", liker["id"]),
    ]
    reply = found[0]
    assert reply.text == "Yes, five!"
    assert reply.in_reply_to == "100" and found[1].in_reply_to == "200"
    assert reply.url == load("status")["url"]
    assert reply.author.handle == "gargron@social.example"  # a local acct, on this server
    assert reply.published == datetime(2019, 12, 8, 3, 48, 33, 901000, tzinfo=UTC)
    assert found[2].author.handle == "noiob@awoo.space" and found[2].published is None
    assert mock.calls.last.request.url.params["limit"] == "80"
    assert all(
        call.request.headers["authorization"] == "Bearer secret-token" for call in mock.calls
    )


async def test_quotes_come_back_where_the_server_has_them(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    quote = _status("300", content="<p>Look at this</p>")
    _answers_of(mock, "100", quotes=httpx.Response(200, json=[quote]))

    found = await account(http).responses(base.Published("100"))

    assert [
        (answer.kind, answer.id, answer.text) for answer in found if answer.kind == "quote"
    ] == [("quote", "300", "Look at this")]


async def test_a_post_deleted_there_has_no_answers(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    mock.get(f"{SERVER}/api/v1/statuses/100/context").mock(return_value=answer("error_404", 404))

    assert await account(http).responses(base.Published("100")) == []


async def test_reading_answers_says_when_to_come_back(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    mock.get(f"{SERVER}/api/v1/statuses/100/context").mock(return_value=recorded("error_429"))

    with pytest.raises(base.RateLimited) as raised:
        await account(http).responses(base.Published("100"))
    assert raised.value.retry_after is not None


async def test_an_edit_changes_the_text_and_keeps_the_pictures(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    mock.get(f"{SERVER}/api/v2/instance").mock(return_value=answer("instance_v2"))
    with_picture = _status(
        "100", media_attachments=[{"id": "22345792", "type": "image", "url": f"{SERVER}/a.png"}]
    )
    mock.get(f"{SERVER}/api/v1/statuses/100").mock(
        return_value=httpx.Response(200, json=with_picture)
    )
    edited = mock.put(f"{SERVER}/api/v1/statuses/100").mock(
        return_value=httpx.Response(200, json=with_picture)
    )

    await account(http).edit_post(
        base.Published("100"), base.Draft("Tea at six, sorry", content_warning="")
    )

    assert form(edited.calls.last.request) == {
        "status": ["Tea at six, sorry"],
        "spoiler_text": [""],
        "media_ids[]": ["22345792"],
    }


async def test_an_edit_of_a_status_gone_says_so(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    mock.get(f"{SERVER}/api/v2/instance").mock(return_value=answer("instance_v2"))
    mock.get(f"{SERVER}/api/v1/statuses/100").mock(return_value=answer("error_404", 404))

    with pytest.raises(base.PermanentError, match="does not have this"):
        await account(http).edit_post(base.Published("100"), base.Draft("Tea at six"))
