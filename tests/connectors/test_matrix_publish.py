"""Matrix: posting into a room, as Synapse keeps it, and taking posts down again."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import respx

from connectors._addresses import AddressPolicy
from connectors.base import (
    AuthRevoked,
    Context,
    Credentials,
    Draft,
    InvalidHandle,
    PermanentError,
    Published,
    RateLimited,
    Retriable,
    Thread,
    Upload,
)
from connectors.matrix import Matrix
from connectors.matrix._ids import normalize_room
from connectors.matrix._publishing import MAX_CONTENT_BYTES, transaction_id
from tests.fixtures.images import png
from tests.fixtures.matrix import MatrixHomeserver, MatrixUser, reaction, thread_reply

DEVELOPMENT = Context(addresses=AddressPolicy(allow_loopback=True))
"""The test homeserver listens on loopback, which a portal reaches only where allowed."""


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


# -- rooms as people name them (no server) ---------------------------------------------------


ROOM_V12 = "!D8VmHwE2DmioZ2NLd8mn9J61qlpGgAscg_8KjF9Cb7U"
"""Since room version 12, a room ID is a hash with no server name."""


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("!AbC123:example.org", "!AbC123:example.org"),
        ("  !AbC123:example.org ", "!AbC123:example.org"),
        (ROOM_V12, ROOM_V12),
        ("#Portal-Posts:Example.ORG", "#Portal-Posts:example.org"),
        ("#room:127.0.0.1:8008", "#room:127.0.0.1:8008"),
        ("https://matrix.to/#/#room:example.org", "#room:example.org"),
        ("https://matrix.to/#/%23room%3Aexample.org?via=example.org", "#room:example.org"),
        ("https://matrix.to/#/!abc:example.org/$event?via=example.org", "!abc:example.org"),
        ("matrix:r/room:example.org", "#room:example.org"),
        ("matrix:roomid/abc:example.org/e/event?via=example.org", "!abc:example.org"),
    ],
)
def test_rooms_are_named_by_id_alias_or_link(raw: str, expected: str) -> None:
    assert normalize_room(raw) == expected
    assert normalize_room(expected) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "Name the Matrix room"),
        ("room", "named by its address"),
        ("@ada:example.org", "a person, not a Matrix room"),
        ("https://matrix.to/#/@ada:example.org", "a person, not a Matrix room"),
        ("#room", "a name and a server"),
        ("#:example.org", "a name and a server"),
        ("#room:exa mple.org", "not a valid server name"),
        ("!a b:example.org", "room ID is not valid"),
        ("!abc:", "room ID is not valid"),
        ("matrix:x/room:example.org", "does not name a room"),
        ("#" + "a" * 250 + ":example.org", "at most 255 bytes"),
    ],
)
def test_what_is_not_a_room_is_refused_clearly(raw: str, message: str) -> None:
    with pytest.raises(InvalidHandle, match=re.escape(message)):
        normalize_room(raw)


def test_transaction_ids_come_from_the_key_alone() -> None:
    first = [transaction_id("post-1.0", index) for index in range(3)]
    assert first == [transaction_id("post-1.0", index) for index in range(3)]
    assert len(set(first)) == 3
    assert transaction_id("post-1.1", 0) not in first
    assert all(re.fullmatch(r"[A-Za-z0-9._-]{1,64}", txn) for txn in first)


def test_a_post_counts_in_bytes_and_fits_in_one_event() -> None:
    rules = Matrix.POST_RULES
    assert rules is not None
    assert Matrix.count_text("héllo ✨") == 10
    # The worst text for its length, every byte of it escaped in JSON, still fits.
    assert 2 * rules.max_length <= MAX_CONTENT_BYTES < 65_536


# -- the server's answers (faked) ------------------------------------------------------------

EXAMPLE = "https://matrix.example.org"
ROOM = "!room:example.org"


def fake_room(router: respx.MockRouter) -> respx.Route:
    """A homeserver where @ada is in an unencrypted room; the route that sends messages."""
    router.get(f"{EXAMPLE}/_matrix/client/v3/joined_rooms").respond(json={"joined_rooms": [ROOM]})
    router.get(
        f"{EXAMPLE}/_matrix/client/v3/rooms/{quote(ROOM, safe='')}/state/m.room.encryption"
    ).respond(404, json={"errcode": "M_NOT_FOUND"})
    return router.put(url__regex=rf"{re.escape(EXAMPLE)}/_matrix/client/v3/rooms/.*/send/.*")


def remote(http: httpx.AsyncClient) -> Matrix:
    credentials = Credentials(access_token="t0k", extra={"homeserver": EXAMPLE})
    return Matrix("@ada:example.org", credentials, http)


@pytest.mark.parametrize(
    ("answer", "error", "message"),
    [
        (
            httpx.Response(429, json={"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": 2500}),
            RateLimited,
            "slow down",
        ),
        (httpx.Response(401, json={"errcode": "M_UNKNOWN_TOKEN"}), AuthRevoked, "connect it"),
        (httpx.Response(502, text="Bad Gateway"), Retriable, "try again later"),
        (httpx.ReadTimeout("slow"), Retriable, "did not answer in time"),
        (
            httpx.Response(403, json={"errcode": "M_FORBIDDEN", "error": "power"}),
            PermanentError,
            f"The Matrix room {ROOM} does not let this account post in it.",
        ),
        (
            httpx.Response(413, json={"errcode": "M_TOO_LARGE"}),
            PermanentError,
            "too large for Matrix",
        ),
    ],
)
async def test_a_refused_post_says_what_to_do(
    http: httpx.AsyncClient,
    answer: httpx.Response | Exception,
    error: type[Exception],
    message: str,
) -> None:
    with respx.mock(assert_all_mocked=True) as router:
        send = fake_room(router)
        if isinstance(answer, Exception):
            send.side_effect = answer
        else:
            send.mock(return_value=answer)
        with pytest.raises(error, match=re.escape(message)) as raised:
            await remote(http).publish(Draft("Hello", destination=ROOM), "key-1")
    if isinstance(raised.value, RateLimited):
        assert raised.value.retry_after == 2.5


async def test_the_servers_upload_limit_lowers_the_picture_size(http: httpx.AsyncClient) -> None:
    matrix = remote(http)
    with respx.mock(assert_all_mocked=True) as router:
        config = router.get(f"{EXAMPLE}/_matrix/client/v1/media/config")
        config.respond(json={"m.upload.size": 1_000_000})
        assert (await matrix.post_rules()).max_media_bytes == 1_000_000
        config.respond(json={"m.upload.size": 10**9})
        assert (await matrix.post_rules()).max_media_bytes == 10 * 1024 * 1024
        config.respond(502)
        assert await matrix.post_rules() == Matrix.POST_RULES


async def test_nothing_to_post_is_refused_before_asking(http: httpx.AsyncClient) -> None:
    with respx.mock(assert_all_mocked=True):
        with pytest.raises(PermanentError, match="nothing to publish"):
            await remote(http).publish(Draft(" \n ", destination=ROOM), "key-1")
        with pytest.raises(PermanentError, match="Name the Matrix room"):
            await remote(http).publish(Draft("Hello"), "key-1")
        with pytest.raises(PermanentError, match="at most 30,000"):
            await remote(http).publish(Draft("é" * 15_001, destination=ROOM), "key-1")


# -- against a real Synapse ------------------------------------------------------------------


async def linked(
    homeserver: MatrixHomeserver, http: httpx.AsyncClient
) -> tuple[MatrixUser, Matrix]:
    """A new account, linked by signing in: the person, and the connector acting for them."""
    user = await homeserver.register(http)
    link = await Matrix.sign_in(user.user_id, user.password, http, context=DEVELOPMENT)
    return user, Matrix(link.actor.handle, link.credentials, http, context=DEVELOPMENT)


async def api(
    homeserver: MatrixHomeserver,
    http: httpx.AsyncClient,
    user: MatrixUser,
    method: str,
    path: str,
    **kwargs: Any,
) -> Any:
    """One client-server request as ``user``; its JSON answer (it must succeed)."""
    response = await http.request(
        method, f"{homeserver.base_url}/_matrix/client{path}", headers=user.headers, **kwargs
    )
    assert response.status_code == 200, response.text
    return response.json()


async def create_room(
    homeserver: MatrixHomeserver, http: httpx.AsyncClient, user: MatrixUser, **body: Any
) -> str:
    created = await api(homeserver, http, user, "POST", "/v3/createRoom", json=body)
    room_id: str = created["room_id"]
    return room_id


async def event(
    homeserver: MatrixHomeserver,
    http: httpx.AsyncClient,
    user: MatrixUser,
    room_id: str,
    event_id: str,
) -> dict[str, Any]:
    path = f"/v3/rooms/{quote(room_id, safe='')}/event/{quote(event_id, safe='')}"
    found: dict[str, Any] = await api(homeserver, http, user, "GET", path)
    return found


async def timeline(
    homeserver: MatrixHomeserver, http: httpx.AsyncClient, user: MatrixUser, room_id: str
) -> list[dict[str, Any]]:
    """The messages and redactions of a room as ``user`` reads them, oldest first."""
    messages = await api(
        homeserver,
        http,
        user,
        "GET",
        f"/v3/rooms/{quote(room_id, safe='')}/messages",
        params={"dir": "f", "limit": 100},
    )
    return [
        found
        for found in messages["chunk"]
        if found["type"] in ("m.room.message", "m.room.redaction")
    ]


async def test_a_post_with_a_link_goes_into_the_room_named_by_its_alias(
    matrix_homeserver: MatrixHomeserver, http: httpx.AsyncClient
) -> None:
    user, matrix = await linked(matrix_homeserver, http)
    reader = await matrix_homeserver.register(http)
    room_id = await create_room(
        matrix_homeserver, http, user, room_alias_name="news", invite=[reader.user_id]
    )
    await api(matrix_homeserver, http, reader, "POST", f"/v3/join/{quote(room_id)}", json={})
    text = 'New: https://example.org/a?b=1&c=<2> — "read it" @room'
    alias = f"#news:{matrix_homeserver.server_name}"

    published = await matrix.publish(Draft(text, destination=alias), "post-1.0")

    assert published.ref == room_id
    assert published.url == (
        f"https://matrix.to/#/{room_id}/{published.id}?via={matrix_homeserver.server_name}"
    )
    sent = await event(matrix_homeserver, http, reader, room_id, published.id)
    assert sent["sender"] == user.user_id
    assert sent["type"] == "m.room.message"
    # Plain text, as written; the reader's client makes the link a link.
    assert sent["content"] == {"msgtype": "m.text", "body": text, "m.mentions": {}}


async def test_pictures_follow_the_text_with_their_alt_text(
    matrix_homeserver: MatrixHomeserver, http: httpx.AsyncClient
) -> None:
    user, matrix = await linked(matrix_homeserver, http)
    room_id = await create_room(matrix_homeserver, http, user)
    rectangle = png(3, 2)
    uploads = (
        Upload(rectangle, "image/png", "A black rectangle", width=3, height=2),
        Upload(png(1, 1), "image/png"),
    )

    published = await matrix.publish(
        Draft("Two pictures", uploads=uploads, destination=room_id), "p.0"
    )

    events = await timeline(matrix_homeserver, http, user, room_id)
    assert [found["content"]["msgtype"] for found in events] == ["m.text", "m.image", "m.image"]
    text, first, second = events
    assert text["event_id"] == published.id
    assert first["content"]["body"] == "A black rectangle"
    assert first["content"]["info"] == {
        "mimetype": "image/png",
        "size": len(rectangle),
        "w": 3,
        "h": 2,
    }
    # No alt text: its file name; no size given: none said.
    assert second["content"]["body"] == "picture.png"
    assert set(second["content"]["info"]) == {"mimetype", "size"}
    assert first["content"]["portal.part_of"] == second["content"]["portal.part_of"] == published.id
    # The picture is on the server, as it was sent, for any member to download.
    server_name, media_id = first["content"]["url"].removeprefix("mxc://").split("/")
    download = await http.get(
        f"{matrix_homeserver.base_url}/_matrix/client/v1/media/download/{server_name}/{media_id}",
        headers=user.headers,
    )
    assert download.status_code == 200
    assert download.content == rectangle
    assert download.headers["content-type"] == "image/png"


async def test_a_post_of_pictures_alone_is_the_first_picture(
    matrix_homeserver: MatrixHomeserver, http: httpx.AsyncClient
) -> None:
    user, matrix = await linked(matrix_homeserver, http)
    room_id = await create_room(matrix_homeserver, http, user)
    uploads = (Upload(png(2, 2), "image/png", "one"), Upload(png(2, 2), "image/png", "two"))

    published = await matrix.publish(Draft("", uploads=uploads, destination=room_id), "p.0")

    first, second = await timeline(matrix_homeserver, http, user, room_id)
    assert published.id == first["event_id"]
    assert "portal.part_of" not in first["content"]
    assert second["content"]["portal.part_of"] == published.id


async def test_a_thread_hangs_from_its_first_part(
    matrix_homeserver: MatrixHomeserver, http: httpx.AsyncClient
) -> None:
    user, matrix = await linked(matrix_homeserver, http)
    room_id = await create_room(matrix_homeserver, http, user)
    root = await matrix.publish(Draft("1/3 A long story", destination=room_id), "t.0")
    second = await matrix.publish(
        Draft("2/3 goes on", destination=room_id, reply_to=Thread(root, root)), "t.1"
    )
    # A part names no room: it goes where the thread started.
    third = await matrix.publish(
        Draft(
            "3/3 and ends",
            uploads=(Upload(png(1, 1), "image/png", "the end"),),
            reply_to=Thread(root, second),
        ),
        "t.2",
    )

    assert second.ref == third.ref == room_id
    relations = await api(
        matrix_homeserver,
        http,
        user,
        "GET",
        f"/v1/rooms/{quote(room_id, safe='')}/relations/{quote(root.id, safe='')}/m.thread",
        params={"dir": "f"},
    )
    in_thread = {found["event_id"]: found["content"] for found in relations["chunk"]}
    assert list(in_thread)[:2] == [second.id, third.id]
    assert len(in_thread) == 3  # the last part's picture too
    assert in_thread[second.id]["m.relates_to"] == {
        "rel_type": "m.thread",
        "event_id": root.id,
        "is_falling_back": True,
        "m.in_reply_to": {"event_id": root.id},
    }
    assert in_thread[third.id]["m.relates_to"]["m.in_reply_to"] == {"event_id": second.id}
    [(picture_id, picture)] = [
        (event_id, content)
        for event_id, content in in_thread.items()
        if content["msgtype"] == "m.image"
    ]
    assert picture["m.relates_to"]["m.in_reply_to"] == {"event_id": third.id}
    # The server counts the thread on its first part.
    first = await event(matrix_homeserver, http, user, room_id, root.id)
    assert first["unsigned"]["m.relations"]["m.thread"]["count"] == 3

    elsewhere = await create_room(matrix_homeserver, http, user)
    with pytest.raises(PermanentError, match="in the Matrix room it started in"):
        await matrix.publish(
            Draft("4/3", destination=elsewhere, reply_to=Thread(root, third)), "t.3"
        )

    # Taking the last part down takes its picture, in the thread, with it.
    await matrix.delete_post(third)
    for gone in (third.id, picture_id):
        assert (await event(matrix_homeserver, http, user, room_id, gone))["content"] == {}
    assert (await event(matrix_homeserver, http, user, room_id, second.id))["content"]


async def test_publishing_again_with_the_same_key_posts_once(
    matrix_homeserver: MatrixHomeserver, http: httpx.AsyncClient
) -> None:
    user, matrix = await linked(matrix_homeserver, http)
    room_id = await create_room(matrix_homeserver, http, user)
    draft = Draft("Once", uploads=(Upload(png(1, 1), "image/png", "dot"),), destination=room_id)

    first = await matrix.publish(draft, "post-7.0")
    again = await matrix.publish(draft, "post-7.0")
    # Another post, published by two workers at once (its job claimed again while the first
    # still ran): one copy of it too.
    racing = await asyncio.gather(
        matrix.publish(draft, "post-8.0"), matrix.publish(draft, "post-8.0")
    )

    assert again == first
    assert racing[0] == racing[1] != first
    bodies = [
        found["content"]["body"] for found in await timeline(matrix_homeserver, http, user, room_id)
    ]
    assert bodies == ["Once", "dot", "Once", "dot"]


async def test_a_room_the_account_is_not_in_is_refused(
    matrix_homeserver: MatrixHomeserver, http: httpx.AsyncClient
) -> None:
    _, matrix = await linked(matrix_homeserver, http)
    owner = await matrix_homeserver.register(http)
    public = await create_room(
        matrix_homeserver, http, owner, preset="public_chat", room_alias_name="town-square"
    )
    alias = f"#town-square:{matrix_homeserver.server_name}"

    for destination in (public, alias, matrix.profile_url(alias)):
        with pytest.raises(PermanentError) as refused:
            await matrix.publish(Draft("Hello?", destination=destination), "k.0")
        assert refused.value.message == (
            f"This Matrix account is not in the room {normalize_room(destination)}: join the "
            "room first, and Portal can post there."
        )
    # Portal did not join it on the way.
    members = await api(
        matrix_homeserver, http, owner, "GET", f"/v3/rooms/{quote(public)}/joined_members"
    )
    assert list(members["joined"]) == [owner.user_id]
    nowhere = f"#nowhere:{matrix_homeserver.server_name}"
    with pytest.raises(PermanentError, match=f"There is no Matrix room {re.escape(nowhere)}"):
        await matrix.publish(Draft("Hello?", destination=nowhere), "k.0")
    with pytest.raises(PermanentError, match="a person, not a Matrix room"):
        await matrix.publish(Draft("Hello?", destination=owner.user_id), "k.0")


async def test_an_invitation_is_accepted_to_post(
    matrix_homeserver: MatrixHomeserver, http: httpx.AsyncClient
) -> None:
    user, matrix = await linked(matrix_homeserver, http)
    owner = await matrix_homeserver.register(http)
    room_id = await create_room(matrix_homeserver, http, owner, invite=[user.user_id])

    published = await matrix.publish(Draft("Thanks for the invitation", destination=room_id), "i.0")

    [sent] = await timeline(matrix_homeserver, http, owner, room_id)
    assert (sent["event_id"], sent["sender"]) == (published.id, user.user_id)


async def test_a_room_that_does_not_let_the_account_post_says_so(
    matrix_homeserver: MatrixHomeserver, http: httpx.AsyncClient
) -> None:
    user, matrix = await linked(matrix_homeserver, http)
    owner = await matrix_homeserver.register(http)
    await create_room(
        matrix_homeserver,
        http,
        owner,
        room_alias_name="announcements",
        invite=[user.user_id],
        power_level_content_override={"events_default": 50},
    )
    alias = f"#announcements:{matrix_homeserver.server_name}"
    with pytest.raises(PermanentError) as refused:
        await matrix.publish(Draft("May I?", destination=alias), "a.0")
    assert refused.value.message == f"The Matrix room {alias} does not let this account post in it."

    secret = await create_room(
        matrix_homeserver,
        http,
        user,
        initial_state=[
            {
                "type": "m.room.encryption",
                "state_key": "",
                "content": {"algorithm": "m.megolm.v1.aes-sha2"},
            }
        ],
    )
    with pytest.raises(PermanentError, match="is encrypted, and Portal cannot encrypt"):
        await matrix.publish(Draft("Psst", destination=secret), "s.0")
    assert await timeline(matrix_homeserver, http, user, secret) == []


async def test_deleting_a_post_redacts_its_text_and_pictures(
    matrix_homeserver: MatrixHomeserver, http: httpx.AsyncClient
) -> None:
    user, matrix = await linked(matrix_homeserver, http)
    room_id = await create_room(matrix_homeserver, http, user, room_alias_name="spring-cleaning")
    uploads = (Upload(png(1, 1), "image/png", "a"), Upload(png(1, 1), "image/png", "b"))
    post = await matrix.publish(Draft("Going soon", uploads=uploads, destination=room_id), "d.0")
    kept = await matrix.publish(
        Draft("Staying", uploads=(Upload(png(1, 1), "image/png", "c"),), destination=room_id), "d.1"
    )

    await matrix.delete_post(post, room_id)

    events = await timeline(matrix_homeserver, http, user, room_id)
    messages = [found for found in events if found["type"] == "m.room.message"]
    assert [found["content"].get("body") for found in messages] == [
        None,
        None,
        None,
        "Staying",
        "c",
    ]
    assert all("redacted_because" in found["unsigned"] for found in messages[:3])
    assert messages[3]["event_id"] == kept.id
    redactions = [found for found in events if found["type"] == "m.room.redaction"]
    assert len(redactions) == 3

    # Gone already counts as done, and asks for no second redaction; so does a post never seen.
    await matrix.delete_post(post)
    await matrix.delete_post(Published("$nothing-here", ref=room_id))
    events = await timeline(matrix_homeserver, http, user, room_id)
    assert len([found for found in events if found["type"] == "m.room.redaction"]) == 3

    # A post whose room is known only by the address it was posted to.
    await matrix.delete_post(
        Published(kept.id), f"#spring-cleaning:{matrix_homeserver.server_name}"
    )
    events = await timeline(matrix_homeserver, http, user, room_id)
    assert [found["content"] for found in events if found["type"] == "m.room.message"] == [{}] * 5


async def test_only_the_accounts_own_posts_are_deleted(
    matrix_homeserver: MatrixHomeserver, http: httpx.AsyncClient
) -> None:
    user, matrix = await linked(matrix_homeserver, http)
    other = await matrix_homeserver.register(http)
    room_id = await create_room(matrix_homeserver, http, user, preset="public_chat")
    await api(matrix_homeserver, http, other, "POST", f"/v3/join/{quote(room_id)}", json={})
    theirs = await api(
        matrix_homeserver,
        http,
        other,
        "PUT",
        f"/v3/rooms/{quote(room_id)}/send/m.room.message/1",
        json={"msgtype": "m.text", "body": "mine"},
    )
    with pytest.raises(PermanentError, match="not posted by this account"):
        await matrix.delete_post(Published(theirs["event_id"], ref=room_id))
    [message] = await timeline(matrix_homeserver, http, user, room_id)
    assert message["content"]["body"] == "mine"


async def test_a_revoked_session_cannot_post(
    matrix_homeserver: MatrixHomeserver, http: httpx.AsyncClient
) -> None:
    user, matrix = await linked(matrix_homeserver, http)
    room_id = await create_room(matrix_homeserver, http, user)
    assert await matrix.revoke()
    with pytest.raises(AuthRevoked):
        await matrix.publish(Draft("Hello", destination=room_id), "r.0")


async def test_an_alt_text_too_long_for_one_event_is_refused(http: httpx.AsyncClient) -> None:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        send = fake_room(router)
        router.post(url__startswith=f"{EXAMPLE}/_matrix/media/v3/upload").respond(
            json={"content_uri": "mxc://example.org/abc"}
        )
        upload = Upload(png(1, 1), "image/png", "a" * (MAX_CONTENT_BYTES + 1))
        with pytest.raises(PermanentError, match="too long for one Matrix message"):
            await remote(http).publish(Draft("", uploads=(upload,), destination=ROOM), "k.0")
        assert not send.called


async def test_replies_and_reactions_come_back(
    matrix_homeserver: MatrixHomeserver, http: httpx.AsyncClient
) -> None:
    user, matrix = await linked(matrix_homeserver, http)
    bob = await matrix_homeserver.register(http)
    cat = await matrix_homeserver.register(http)
    room_id = await create_room(matrix_homeserver, http, user, invite=[bob.user_id, cat.user_id])
    for reader in (bob, cat):
        await matrix_homeserver.join(http, reader, room_id)
    await api(
        matrix_homeserver,
        http,
        bob,
        "PUT",
        f"/v3/profile/{quote(bob.user_id)}/displayname",
        json={"displayname": "Bob B."},
    )
    post = await matrix.publish(Draft("Tea at five?", destination=room_id), "answers.0")
    other = await matrix.publish(Draft("Something else", destination=room_id), "answers.1")

    send = matrix_homeserver.send
    in_thread = await send(http, bob, room_id, thread_reply(post.id, "Yes!"))
    rich_reply = {
        "msgtype": "m.text",
        "body": f"> <{user.user_id}> Tea at five?\n\nMe too",
        "m.relates_to": {"m.in_reply_to": {"event_id": post.id}},
    }
    quoted = await send(http, cat, room_id, rich_reply)
    for key in ("👍", "🎉"):  # two reactions of one person: one like
        await send(http, bob, room_id, reaction(post.id, key), "m.reaction")
    await send(http, cat, room_id, reaction(other.id), "m.reaction")
    await send(http, cat, room_id, {"msgtype": "m.text", "body": "Unrelated talk"})

    found = {(answer.kind, answer.id): answer for answer in await matrix.responses(post)}

    assert sorted(found) == sorted([("reply", in_thread), ("reply", quoted), ("like", bob.user_id)])
    first = found[("reply", in_thread)]
    assert (first.text, first.in_reply_to) == ("Yes!", post.id)
    assert first.author.display_name == "Bob B." and first.author.handle == bob.user_id
    assert first.url == (
        f"https://matrix.to/#/{room_id}/{in_thread}?via={matrix_homeserver.server_name}"
    )
    assert first.published is not None
    assert found[("reply", quoted)].text == "Me too"  # the quoted fallback left out
    assert [(a.kind, a.id) for a in await matrix.responses(other)] == [("like", cat.user_id)]

    # Its answers stay when the post is taken down (the room keeps them).
    await matrix.delete_post(post)
    assert sorted(answer.kind for answer in await matrix.responses(post)) == [
        "like",
        "reply",
        "reply",
    ]
