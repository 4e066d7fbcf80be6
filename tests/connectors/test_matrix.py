"""Matrix: user IDs by the spec's grammar, discovery, and signing in and messaging on Synapse."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st

import connectors
from connectors._addresses import AddressPolicy
from connectors._http import MAX_ANSWER
from connectors.base import (
    AuthRevoked,
    Context,
    Credentials,
    InvalidHandle,
    PermanentError,
    RateLimited,
    Retriable,
    Upload,
)
from connectors.matrix import Matrix, discover_homeserver
from tests.fixtures.images import png
from tests.fixtures.matrix import MatrixHomeserver, MatrixUser

REFUSED = "The Matrix server refused this user name or password."
_USER_ID = re.compile(r"^@[a-z0-9._=/+-]+:[a-z0-9.\-\[\]:]+$")


# -- user IDs (no server) --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("@ada:example.org", "@ada:example.org"),
        ("ada:example.org", "@ada:example.org"),
        ("  @Ada:Example.ORG  ", "@ada:example.org"),
        ("\u200b@ada:example.org\u200b", "@ada:example.org"),
        ("＠ａｄａ:ｅｘａｍｐｌｅ.ｏｒｇ", "@ada:example.org"),
        ("@a.b_c=d-e/f+g:example.org", "@a.b_c=d-e/f+g:example.org"),
        ("@ada:example.org:8448", "@ada:example.org:8448"),
        ("@ada:example.org.", "@ada:example.org"),
        ("@ada:localhost", "@ada:localhost"),
        ("@ada:127.0.0.1:8008", "@ada:127.0.0.1:8008"),
        ("@ada:[2001:DB8:0::1]", "@ada:[2001:db8::1]"),
        ("@ada:[2001:db8::1]:8448", "@ada:[2001:db8::1]:8448"),
        ("@ada:Bücher.example", "@ada:xn--bcher-kva.example"),
        ("https://matrix.to/#/@ada:example.org", "@ada:example.org"),
        ("https://matrix.to/#/%40ada%3Aexample.org?via=example.org", "@ada:example.org"),
        ("matrix.to/#/@Ada:example.org", "@ada:example.org"),
        ("http://MATRIX.TO/#/@ada:example.org", "@ada:example.org"),
        ("matrix:u/ada:example.org?action=chat", "@ada:example.org"),
        ("MATRIX:u/ada%3Aexample.org", "@ada:example.org"),
        ("matrix:example.org", "@matrix:example.org"),
        ("Matrix.To:example.org", "@matrix.to:example.org"),
    ],
)
def test_valid_user_ids_are_normalised(raw: str, expected: str) -> None:
    assert Matrix.normalize_handle(raw) == expected
    assert Matrix.normalize_handle(expected) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "Enter a handle"),
        ("ada", "like @ada:example.org"),
        ("ada@example.org", "with a colon"),
        ("@:example.org", "a name before the colon"),
        ("@ada:", "a server after the colon"),
        ("@ada!:example.org", "only the letters a-z"),
        ("@éloïse:example.org", "only the letters a-z"),
        ("@ada:exa mple.org", "not a valid server name"),
        ("@ada:example..org", "not a valid server name"),
        ("@ada:-example.org", "not a valid server name"),
        ("@ada:example.123", "not a valid server name"),
        ("@ada:999.1.1.1", "not a valid IP address"),
        ("@ada:example.org:0", "port"),
        ("@ada:example.org:65536", "port"),
        ("@ada:example.org:80a", "port"),
        ("@ada:[::g]", "IPv6"),
        ("@ada:[::1", "IPv6"),
        ("@ada:[::1]x", "after its address"),
        ("javascript:alert(1)", "not a valid server name"),
        ("#room:example.org", "a Matrix room, not a person"),
        ("!abc:example.org", "a Matrix room, not a person"),
        ("https://matrix.to/#/#room:example.org", "a Matrix room, not a person"),
        ("https://matrix.to/#/", "does not name anyone"),
        ("https://evil.example/#/@ada:example.org", "a matrix.to link"),
        ("ftp://matrix.to/#/@ada:example.org", "a matrix.to link"),
        ("matrix:r/room:example.org", "a Matrix room, not a person"),
        ("matrix:x/ada:example.org", "does not name a person"),
        ("@" + "a" * 250 + ":example.org", "at most 255 characters"),
    ],
)
def test_invalid_user_ids_say_why(raw: str, message: str) -> None:
    with pytest.raises(InvalidHandle, match=re.escape(message)):
        Matrix.normalize_handle(raw)


@given(st.text(max_size=300))
def test_any_text_is_a_valid_user_id_or_refused_clearly(raw: str) -> None:
    try:
        user_id = Matrix.normalize_handle(raw)
    except InvalidHandle:
        return  # the messages are checked above
    assert len(user_id) <= 255
    assert _USER_ID.match(user_id), user_id
    assert Matrix.normalize_handle(user_id) == user_id


def test_links_go_to_matrix_to() -> None:
    assert Matrix.profile_url("@ada:example.org") == "https://matrix.to/#/@ada:example.org"
    assert Matrix.deep_link("@a/b+c:example.org:8448") == (
        "https://matrix.to/#/@a/b+c:example.org:8448"
    )
    assert Matrix.display_handle("@ada:example.org") == "@ada:example.org"
    assert Matrix.normalize_handle(Matrix.profile_url("@a/b+c=d:example.org")) == (
        "@a/b+c=d:example.org"
    )


def test_matrix_is_registered_with_what_it_can_do() -> None:
    assert connectors.get("matrix") is Matrix
    assert Matrix.AUTH == "password"
    assert Matrix.CAN_VERIFY and Matrix.CAN_MESSAGE
    assert Matrix.CAN_PUBLISH and Matrix.CAN_DELETE and Matrix.CAN_UPLOAD_MEDIA
    assert Matrix.PUBLISHES_TO == "room"
    assert not Matrix.CAN_READ


# -- discovery and sign-in against a fake server (respx) --------------------------------------

EXAMPLE = "https://example.org"
VERSIONS = {"versions": ["v1.11", "v1.12"]}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def fake_homeserver(router: respx.MockRouter, base_url: str = EXAMPLE) -> None:
    router.get(f"{base_url}/_matrix/client/versions").respond(json=VERSIONS)
    router.get(f"{base_url}/_matrix/client/v3/login").respond(
        json={"flows": [{"type": "m.login.password"}]}
    )


async def test_without_a_discovery_file_the_server_name_is_the_homeserver(
    http: httpx.AsyncClient,
) -> None:
    with respx.mock(assert_all_mocked=True) as router:
        router.get(f"{EXAMPLE}/.well-known/matrix/client").respond(404)
        router.get(f"{EXAMPLE}/_matrix/client/versions").respond(json=VERSIONS)
        assert await discover_homeserver("example.org", http) == EXAMPLE


async def test_the_discovery_file_names_the_homeserver(http: httpx.AsyncClient) -> None:
    with respx.mock(assert_all_mocked=True) as router:
        router.get(f"{EXAMPLE}/.well-known/matrix/client").respond(
            json={"m.homeserver": {"base_url": "https://matrix.example.net/"}}
        )
        versions = router.get("https://matrix.example.net/_matrix/client/versions")
        versions.respond(json=VERSIONS)
        # The well-known file lives on the host, whatever port the server name has.
        assert await discover_homeserver("example.org:8448", http) == "https://matrix.example.net"
        assert versions.called


async def test_a_discovery_redirect_within_the_site_is_followed(http: httpx.AsyncClient) -> None:
    with respx.mock(assert_all_mocked=True) as router:
        router.get(f"{EXAMPLE}/.well-known/matrix/client").respond(
            301, headers={"Location": "https://www.example.org/.well-known/matrix/client"}
        )
        router.get("https://www.example.org/.well-known/matrix/client").respond(
            json={"m.homeserver": {"base_url": "https://matrix.example.org"}}
        )
        router.get("https://matrix.example.org/_matrix/client/versions").respond(json=VERSIONS)
        assert await discover_homeserver("example.org", http) == "https://matrix.example.org"


@pytest.mark.parametrize(
    ("well_known", "message"),
    [
        ({"m.homeserver": {"base_url": "http://matrix.example.net"}}, "not https://"),
        ({"m.homeserver": {"base_url": "http://127.0.0.1:8008"}}, "not https://"),
        ({"m.homeserver": {"base_url": "https://user:pw@matrix.example.net"}}, "plain web"),
        ({"m.homeserver": {"base_url": "https://matrix.example.net:99999"}}, "not a web"),
        ({"m.homeserver": {"base_url": "javascript:alert(1)"}}, "not a plain web"),
    ],
)
async def test_an_unusable_homeserver_address_is_refused(
    http: httpx.AsyncClient, well_known: dict[str, Any], message: str
) -> None:
    with respx.mock(assert_all_mocked=True) as router:
        router.get(f"{EXAMPLE}/.well-known/matrix/client").respond(json=well_known)
        with pytest.raises(PermanentError, match=re.escape(message)):
            await discover_homeserver("example.org", http)


async def test_a_named_homeserver_that_does_not_answer_is_not_replaced_by_a_guess(
    http: httpx.AsyncClient,
) -> None:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        router.get(f"{EXAMPLE}/.well-known/matrix/client").respond(
            json={"m.homeserver": {"base_url": "https://matrix.example.net"}}
        )
        router.get("https://matrix.example.net/_matrix/client/versions").respond(404)
        fallback = router.get(f"{EXAMPLE}/_matrix/client/versions").respond(json=VERSIONS)
        with pytest.raises(PermanentError, match="names a Matrix server that does not work"):
            await discover_homeserver("example.org", http)
        assert not fallback.called


async def test_a_broken_discovery_file_falls_back_and_says_so(http: httpx.AsyncClient) -> None:
    with respx.mock(assert_all_mocked=True) as router:
        router.get(f"{EXAMPLE}/.well-known/matrix/client").respond(text="<html>hello</html>")
        router.get(f"{EXAMPLE}/_matrix/client/versions").respond(json=VERSIONS)
        assert await discover_homeserver("example.org", http) == EXAMPLE
        router.get(f"{EXAMPLE}/_matrix/client/versions").respond(text="not matrix")
        with pytest.raises(PermanentError, match=r"cannot be read"):
            await discover_homeserver("example.org", http)


async def test_a_redirect_to_another_site_is_not_followed(http: httpx.AsyncClient) -> None:
    with respx.mock(assert_all_mocked=True) as router:
        router.get(f"{EXAMPLE}/.well-known/matrix/client").respond(
            302, headers={"Location": "https://evil.example/.well-known/matrix/client"}
        )
        with pytest.raises(PermanentError, match="another site"):
            await discover_homeserver("example.org", http)


async def test_discovery_failures_that_may_pass_are_retriable(http: httpx.AsyncClient) -> None:
    with respx.mock(assert_all_mocked=True) as router:
        route = router.get(f"{EXAMPLE}/.well-known/matrix/client")
        route.respond(503)
        with pytest.raises(Retriable, match="try again later"):
            await discover_homeserver("example.org", http)
        route.side_effect = httpx.ConnectError("refused")
        with pytest.raises(Retriable, match=re.escape("could not reach example.org")):
            await discover_homeserver("example.org", http)
        route.side_effect = None
        route.respond(429, headers={"Retry-After": "12"})
        with pytest.raises(RateLimited) as limited:
            await discover_homeserver("example.org", http)
        assert limited.value.retry_after == 12


async def test_a_server_that_signs_someone_else_in_is_refused(http: httpx.AsyncClient) -> None:
    with respx.mock(assert_all_mocked=True) as router:
        router.get(f"{EXAMPLE}/.well-known/matrix/client").respond(404)
        fake_homeserver(router)
        router.post(f"{EXAMPLE}/_matrix/client/v3/login").respond(
            json={"user_id": "@eve:example.org", "access_token": "t0k", "device_id": "D"}
        )
        router.get(f"{EXAMPLE}/_matrix/client/v3/account/whoami").respond(
            json={"user_id": "@eve:example.org", "device_id": "D"}
        )
        logout = router.post(f"{EXAMPLE}/_matrix/client/v3/logout").respond(json={})
        with pytest.raises(PermanentError, match=re.escape("signed in @eve:example.org, not @ada")):
            await Matrix.sign_in("@ada:example.org", "secret", http)
        # The session opened for the wrong person is closed again.
        assert logout.called
        assert logout.calls.last.request.headers["Authorization"] == "Bearer t0k"


async def test_a_server_without_password_sign_in_is_explained(http: httpx.AsyncClient) -> None:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        router.get(f"{EXAMPLE}/.well-known/matrix/client").respond(404)
        router.get(f"{EXAMPLE}/_matrix/client/versions").respond(json=VERSIONS)
        router.get(f"{EXAMPLE}/_matrix/client/v3/login").respond(
            json={"flows": [{"type": "m.login.sso"}, {"type": "m.login.token"}]}
        )
        login = router.post(f"{EXAMPLE}/_matrix/client/v3/login")
        with pytest.raises(PermanentError, match="does not let other apps sign in with a pass"):
            await Matrix.sign_in("@ada:example.org", "secret", http)
        assert not login.called


@pytest.mark.parametrize(
    ("response", "retry_after"),
    [
        (httpx.Response(429, json={"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": 2500}), 2.5),
        (
            httpx.Response(429, json={"errcode": "M_LIMIT_EXCEEDED"}, headers={"Retry-After": "7"}),
            7,
        ),
        (httpx.Response(429, json={"errcode": "M_LIMIT_EXCEEDED"}), None),
        (
            httpx.Response(
                429,
                content=b'{"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": 1' + b"0" * 400 + b"}",
                headers={"Retry-After": "3"},
            ),
            3,
        ),
        (
            httpx.Response(
                429,
                content=b'{"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": NaN}',
                headers={"content-type": "application/json"},
            ),
            None,
        ),
        (
            httpx.Response(
                429,
                json={"errcode": "M_LIMIT_EXCEEDED"},
                headers={"Retry-After": "99999999999 Jan 2026 00:00 GMT"},
            ),
            None,
        ),
    ],
)
async def test_rate_limits_say_how_long_to_wait(
    http: httpx.AsyncClient, response: httpx.Response, retry_after: float | None
) -> None:
    with respx.mock(assert_all_mocked=True) as router:
        router.get(f"{EXAMPLE}/.well-known/matrix/client").respond(404)
        fake_homeserver(router)
        router.post(f"{EXAMPLE}/_matrix/client/v3/login").mock(return_value=response)
        with pytest.raises(RateLimited) as limited:
            await Matrix.sign_in("@ada:example.org", "secret", http)
        assert limited.value.retry_after == retry_after


async def test_a_deactivated_account_is_named(http: httpx.AsyncClient) -> None:
    with respx.mock(assert_all_mocked=True) as router:
        router.get(f"{EXAMPLE}/.well-known/matrix/client").respond(404)
        fake_homeserver(router)
        router.post(f"{EXAMPLE}/_matrix/client/v3/login").respond(
            403, json={"errcode": "M_USER_DEACTIVATED", "error": "gone"}
        )
        with pytest.raises(PermanentError, match="has been deactivated"):
            await Matrix.sign_in("@ada:example.org", "secret", http)


async def test_server_trouble_while_verifying_is_retriable(http: httpx.AsyncClient) -> None:
    credentials = Credentials(access_token="t0k", extra={"homeserver": EXAMPLE})
    matrix = Matrix("@ada:example.org", credentials, http)
    with respx.mock(assert_all_mocked=True) as router:
        whoami = router.get(f"{EXAMPLE}/_matrix/client/v3/account/whoami")
        whoami.respond(502, text="Bad Gateway")
        with pytest.raises(Retriable, match="try again later"):
            await matrix.get_actor()
        whoami.side_effect = httpx.ReadTimeout("slow")
        with pytest.raises(Retriable, match="did not answer in time"):
            await matrix.get_actor()
        whoami.side_effect = None
        whoami.respond(200, text="[" * 100_000)
        with pytest.raises(Retriable, match="cannot read"):
            await matrix.get_actor()
        # A body larger than Portal reads is refused, not read to its end.
        whoami.respond(200, content=b'{"user_id": "' + b"a" * MAX_ANSWER + b'"}')
        with pytest.raises(PermanentError, match="larger than Portal reads"):
            await matrix.get_actor()


async def test_a_stored_homeserver_address_is_checked_again(http: httpx.AsyncClient) -> None:
    credentials = Credentials(access_token="t0k", extra={"homeserver": "http://example.org"})
    with respx.mock(assert_all_mocked=True), pytest.raises(PermanentError, match="https"):
        await Matrix("@ada:example.org", credentials, http).get_actor()


async def test_an_empty_password_is_refused_before_asking(http: httpx.AsyncClient) -> None:
    with respx.mock(assert_all_mocked=True), pytest.raises(PermanentError, match="password"):
        await Matrix.sign_in("@ada:example.org", "", http)


# -- against a real Synapse ------------------------------------------------------------------

DEVELOPMENT = Context(addresses=AddressPolicy(allow_loopback=True))
"""The test homeserver listens on loopback, which a portal reaches only where allowed."""


async def linked(
    homeserver: MatrixHomeserver, http: httpx.AsyncClient, displayname: str | None = None
) -> tuple[MatrixUser, Matrix]:
    """A new account, linked by signing in: the person, and the connector acting for them."""
    user = await homeserver.register(http, displayname=displayname)
    link = await Matrix.sign_in(user.user_id, user.password, http, context=DEVELOPMENT)
    return user, Matrix(link.actor.handle, link.credentials, http, context=DEVELOPMENT)


async def test_discovery_reads_the_servers_own_well_known_file(
    matrix_homeserver: MatrixHomeserver,
) -> None:
    answered: list[tuple[str, int]] = []

    async def record(response: httpx.Response) -> None:
        answered.append((response.request.url.path, response.status_code))

    async with httpx.AsyncClient(event_hooks={"response": [record]}) as http:
        base_url = await discover_homeserver(
            matrix_homeserver.server_name, http, allow_loopback=True
        )
    assert base_url == matrix_homeserver.base_url
    assert answered == [
        ("/.well-known/matrix/client", 200),
        ("/_matrix/client/versions", 200),
    ]


async def test_signing_in_links_the_account_without_keeping_the_password(
    matrix_homeserver: MatrixHomeserver, http: httpx.AsyncClient
) -> None:
    user = await matrix_homeserver.register(http, displayname="Ada Lovelace")
    typed = "https://matrix.to/#/" + user.user_id.upper()
    result = await Matrix.sign_in(typed, user.password, http, context=DEVELOPMENT)

    assert result.actor.id == user.user_id
    assert result.actor.handle == user.user_id
    assert result.actor.display_name == "Ada Lovelace"
    assert result.actor.url == f"https://matrix.to/#/{user.user_id}"
    credentials = result.credentials
    assert credentials.extra["homeserver"] == matrix_homeserver.base_url
    assert credentials.extra["device_id"]
    assert user.password not in repr(credentials)
    # The new session shows in the person's device list as Portal.
    device = await http.get(
        f"{matrix_homeserver.base_url}/_matrix/client/v3/devices/{credentials.extra['device_id']}",
        headers={"Authorization": f"Bearer {credentials.access_token}"},
    )
    assert device.status_code == 200
    assert device.json()["display_name"] == "Portal"


async def test_a_wrong_password_is_refused_clearly(
    matrix_homeserver: MatrixHomeserver, http: httpx.AsyncClient
) -> None:
    user = await matrix_homeserver.register(http)
    with pytest.raises(PermanentError) as refused:
        await Matrix.sign_in(user.user_id, user.password + "x", http, context=DEVELOPMENT)
    assert refused.value.message == REFUSED


async def test_an_unknown_account_is_refused_clearly(
    matrix_homeserver: MatrixHomeserver, http: httpx.AsyncClient
) -> None:
    nobody = matrix_homeserver.user_id("nobody-here")
    with pytest.raises(PermanentError) as refused:
        await Matrix.sign_in(nobody, "whatever", http, context=DEVELOPMENT)
    assert refused.value.message == REFUSED


async def test_get_actor_reads_the_account_and_notices_a_logout(
    matrix_homeserver: MatrixHomeserver, http: httpx.AsyncClient
) -> None:
    user, matrix = await linked(matrix_homeserver, http, displayname="Grace")
    actor = await matrix.get_actor()
    assert (actor.id, actor.display_name) == (user.user_id, "Grace")

    # The person signs Portal's session out from another client.
    logout = await http.post(
        f"{matrix_homeserver.base_url}/_matrix/client/v3/logout",
        headers={"Authorization": f"Bearer {matrix.credentials.access_token}"},
        json={},
    )
    assert logout.status_code == 200
    with pytest.raises(AuthRevoked):
        await matrix.get_actor()


async def test_revoke_ends_the_session(
    matrix_homeserver: MatrixHomeserver, http: httpx.AsyncClient
) -> None:
    _, matrix = await linked(matrix_homeserver, http)
    assert await matrix.revoke() is True
    whoami = await http.get(
        f"{matrix_homeserver.base_url}/_matrix/client/v3/account/whoami",
        headers={"Authorization": f"Bearer {matrix.credentials.access_token}"},
    )
    assert whoami.status_code == 401
    assert whoami.json()["errcode"] == "M_UNKNOWN_TOKEN"
    assert await matrix.revoke() is True
    with pytest.raises(AuthRevoked):
        await matrix.get_actor()


@dataclass
class Inbox:
    """What a person's client sees: /sync from where it left off (Synapse caches a repeated
    initial sync), accepting every invitation."""

    homeserver: MatrixHomeserver
    http: httpx.AsyncClient
    user: MatrixUser
    since: str | None = None

    async def accept_invitations(self) -> dict[str, bool]:
        """The rooms newly invited to, joined: ``room_id → marked direct``."""
        params: dict[str, str | int] = {"timeout": 0}
        if self.since:
            params["since"] = self.since
        sync = await self.http.get(
            f"{self.homeserver.base_url}/_matrix/client/v3/sync",
            headers=self.user.headers,
            params=params,
        )
        sync.raise_for_status()
        self.since = sync.json()["next_batch"]
        invited: dict[str, bool] = {}
        for room_id, room in sync.json().get("rooms", {}).get("invite", {}).items():
            invited[room_id] = any(
                event["type"] == "m.room.member"
                and event.get("state_key") == self.user.user_id
                and event["content"].get("is_direct") is True
                for event in room["invite_state"]["events"]
            )
            joined = await self.http.post(
                f"{self.homeserver.base_url}/_matrix/client/v3/join/{room_id}",
                headers=self.user.headers,
                json={},
            )
            joined.raise_for_status()
        return invited


async def messages_in(
    homeserver: MatrixHomeserver, http: httpx.AsyncClient, user: MatrixUser, room_id: str
) -> list[tuple[str, str]]:
    """``(sender, body)`` of the text messages of a room as ``user`` reads it, oldest first."""
    response = await http.get(
        f"{homeserver.base_url}/_matrix/client/v3/rooms/{room_id}/messages",
        headers=user.headers,
        params={"dir": "f", "limit": 50},
    )
    response.raise_for_status()
    return [
        (event["sender"], event["content"]["body"])
        for event in response.json()["chunk"]
        if event["type"] == "m.room.message"
    ]


async def test_a_direct_message_reaches_the_recipient_in_one_room(
    matrix_homeserver: MatrixHomeserver, http: httpx.AsyncClient
) -> None:
    sender, matrix = await linked(matrix_homeserver, http)
    recipient = await matrix_homeserver.register(http)
    inbox = Inbox(matrix_homeserver, http, recipient)
    first = await matrix.send_message(Matrix.profile_url(recipient.user_id), "Hello from Portal")
    assert first.id.startswith("$")
    invited = await inbox.accept_invitations()
    assert list(invited.values()) == [True]
    rooms = list(invited)
    second = await matrix.send_message(recipient.user_id, "And again ✨")
    assert second.id != first.id

    assert await messages_in(matrix_homeserver, http, recipient, rooms[0]) == [
        (sender.user_id, "Hello from Portal"),
        (sender.user_id, "And again ✨"),
    ]
    # No second invitation: the second message went to the same direct room.
    assert await inbox.accept_invitations() == {}
    direct = await http.get(
        f"{matrix_homeserver.base_url}/_matrix/client/v3/user/{sender.user_id}"
        "/account_data/m.direct",
        headers=sender.headers,
    )
    assert direct.json() == {recipient.user_id: rooms}


async def test_an_encrypted_direct_room_is_not_written_into(
    matrix_homeserver: MatrixHomeserver, http: httpx.AsyncClient
) -> None:
    sender, matrix = await linked(matrix_homeserver, http)
    recipient = await matrix_homeserver.register(http)
    inbox = Inbox(matrix_homeserver, http, recipient)
    await matrix.send_message(recipient.user_id, "one")
    [plain] = await inbox.accept_invitations()
    encrypted = await http.put(
        f"{matrix_homeserver.base_url}/_matrix/client/v3/rooms/{plain}/state/m.room.encryption/",
        headers=sender.headers,
        json={"algorithm": "m.megolm.v1.aes-sha2"},
    )
    assert encrypted.status_code == 200

    await matrix.send_message(recipient.user_id, "two")
    [fresh] = await inbox.accept_invitations()
    assert fresh != plain
    assert await messages_in(matrix_homeserver, http, recipient, fresh) == [(sender.user_id, "two")]
    assert (sender.user_id, "two") not in await messages_in(
        matrix_homeserver, http, recipient, plain
    )


async def test_a_message_to_nobody_is_refused(
    matrix_homeserver: MatrixHomeserver, http: httpx.AsyncClient
) -> None:
    _, matrix = await linked(matrix_homeserver, http)
    nobody = matrix_homeserver.user_id("nobody-at-all")
    with pytest.raises(PermanentError, match=f"There is no Matrix user {re.escape(nobody)}"):
        await matrix.send_message(nobody, "hello?")
    with pytest.raises(PermanentError, match="empty"):
        await matrix.send_message(nobody, " \n ")
    with pytest.raises(InvalidHandle):
        await matrix.send_message("not a user", "hello")


async def test_messages_sent_at_once_all_arrive(
    matrix_homeserver: MatrixHomeserver, http: httpx.AsyncClient
) -> None:
    _, matrix = await linked(matrix_homeserver, http)
    recipient = await matrix_homeserver.register(http)
    await matrix.send_message(recipient.user_id, "0")
    [room] = await Inbox(matrix_homeserver, http, recipient).accept_invitations()
    sent = await asyncio.gather(
        *(matrix.send_message(recipient.user_id, str(n)) for n in range(1, 4))
    )
    assert len({delivered.id for delivered in sent}) == 3
    bodies = [body for _, body in await messages_in(matrix_homeserver, http, recipient, room)]
    assert sorted(bodies) == ["0", "1", "2", "3"]


async def _direct_room(
    homeserver: MatrixHomeserver, http: httpx.AsyncClient, maker: str, recipient: MatrixUser
) -> str:
    """A room made by ``maker``'s access token as direct with ``recipient``, not listed in
    its ``m.direct``."""
    made = await http.post(
        f"{homeserver.base_url}/_matrix/client/v3/createRoom",
        json={"preset": "trusted_private_chat", "is_direct": True, "invite": [recipient.user_id]},
        headers={"Authorization": f"Bearer {maker}"},
    )
    made.raise_for_status()
    room_id: str = made.json()["room_id"]
    return room_id


async def test_a_try_again_finds_the_message_in_a_room_no_longer_marked_direct(
    matrix_homeserver: MatrixHomeserver, http: httpx.AsyncClient
) -> None:
    sender, matrix = await linked(matrix_homeserver, http)
    recipient = await matrix_homeserver.register(http)
    inbox = Inbox(matrix_homeserver, http, recipient)
    first = await matrix.send_message(recipient.user_id, "Only once", "key-1")
    # Another message made a direct room at the same time, and its m.direct won.
    other = await _direct_room(matrix_homeserver, http, sender.access_token, recipient)
    replaced = await http.put(
        f"{matrix_homeserver.base_url}/_matrix/client/v3/user/{sender.user_id}"
        "/account_data/m.direct",
        json={recipient.user_id: [other]},
        headers=sender.headers,
    )
    assert replaced.status_code == 200

    again = await matrix.send_message(recipient.user_id, "Only once", "key-1", again=True)
    fresh = await matrix.send_message(recipient.user_id, "Something new", "key-2", again=True)

    assert again == first
    assert fresh.thread == other
    assert set(await inbox.accept_invitations()) == {first.thread, other}
    assert await messages_in(matrix_homeserver, http, recipient, first.thread) == [
        (sender.user_id, "Only once")
    ]
    assert await messages_in(matrix_homeserver, http, recipient, other) == [
        (sender.user_id, "Something new")
    ]


async def test_a_try_again_after_only_the_picture_went_sends_the_text_beside_it(
    matrix_homeserver: MatrixHomeserver, http: httpx.AsyncClient
) -> None:
    sender, matrix = await linked(matrix_homeserver, http)
    recipient = await matrix_homeserver.register(http)
    # The try before, in Portal's session, made a direct room that m.direct does not list
    # and sent the picture into it, and went no further.
    portal = matrix.credentials.access_token or ""
    room = await _direct_room(matrix_homeserver, http, portal, recipient)
    picture = await http.put(
        f"{matrix_homeserver.base_url}/_matrix/client/v3/rooms/{room}"
        "/send/m.room.message/key-1.picture",
        json={"msgtype": "m.image", "body": "A dot", "url": "mxc://example.org/dot"},
        headers={"Authorization": f"Bearer {portal}"},
    )
    assert picture.status_code == 200

    delivered = await matrix.send_message(
        recipient.user_id,
        "With a dot",
        "key-1",
        again=True,
        picture=Upload(png(1, 1), "image/png", "A dot"),
    )

    assert delivered.thread == room
    assert list(await Inbox(matrix_homeserver, http, recipient).accept_invitations()) == [room]
    assert await messages_in(matrix_homeserver, http, recipient, room) == [
        (sender.user_id, "A dot"),
        (sender.user_id, "With a dot"),
    ]
