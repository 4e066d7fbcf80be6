"""Mastodon: direct messages, their answers, and taking them back, against recorded answers.

The statuses are the direct messages recorded from a running Mastodon at localhost:3000
(``live_timelines_home``: mastodonpy_test wrote "pssssst" to mastodonpy_test_2, and admin
wrote to mastodonpy_test), with the changes each test names.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

from connectors import base
from connectors.base import (
    AuthRevoked,
    Credentials,
    Delivered,
    PermanentError,
    RateLimited,
    Retriable,
)
from connectors.mastodon import Mastodon
from connectors.mastodon._direct import QUIET, is_account
from tests.connectors.test_mastodon import (
    DEVELOPMENT,
    answer,
    form,
    load,
    rate_limited,
    recorded,
)

SERVER = "http://localhost:3000"
STATUSES = f"{SERVER}/api/v1/statuses"
ME = "mastodonpy_test@localhost:3000"
YOU = "mastodonpy_test_2@localhost:3000"
SENT_ID = "117020588315335369"
"""The recorded direct message of mastodonpy_test to mastodonpy_test_2."""


def _recorded_status(status_id: str) -> dict[str, Any]:
    found = next(s for s in load("live_timelines_home") if s["id"] == status_id)
    return copy.deepcopy(found)


def _sent(**changes: Any) -> dict[str, Any]:
    return {**_recorded_status(SENT_ID), **changes}


def _account_of(username: str, acct: str | None = None, **changes: Any) -> dict[str, Any]:
    """The recorded account of admin, as another person."""
    account = _recorded_status("117020592129111851")["account"]
    return {
        **account,
        "username": username,
        "acct": acct or username,
        "url": f"{SERVER}/@{username}",
        "uri": f"{SERVER}/ap/users/{username}",
        **changes,
    }


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        router.get(f"{SERVER}/api/v2/instance").mock(return_value=answer("live_instance_v2"))
        yield router


def me(http: httpx.AsyncClient) -> Mastodon:
    """mastodonpy_test's account, as the portal acts for it."""
    credentials = Credentials(access_token="secret-token", extra={"server": "localhost:3000"})
    return Mastodon(ME, credentials, http, context=DEVELOPMENT)


def test_mastodon_can_message_read_answers_and_withdraw() -> None:
    assert {"message", "read_answers", "withdraw"} <= set(base.capabilities(Mastodon))


def test_every_scope_set_covers_direct_messages() -> None:
    for scopes in (Mastodon.SCOPES, Mastodon.SCOPES_BEFORE_4_3):
        assert {"read:statuses", "write:statuses"} <= set(scopes)
    assert Mastodon.CLASSIC_SCOPES == ("read", "write")


# -- sending ---------------------------------------------------------------------------------


async def test_a_direct_message_is_a_direct_status_that_mentions_the_recipient(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    post = mock.post(STATUSES).mock(return_value=httpx.Response(200, json=_sent()))

    delivered = await me(http).send_message(YOU, "pssssst", "0b6f1c2e-key")

    assert delivered == Delivered(SENT_ID, thread=SENT_ID)
    sent = post.calls.last.request
    assert form(sent) == {"status": ["@mastodonpy_test_2 pssssst"], "visibility": ["direct"]}
    assert sent.headers["idempotency-key"] == "0b6f1c2e-key"
    assert sent.headers["authorization"] == "Bearer secret-token"


async def test_a_recipient_elsewhere_is_named_with_their_server_and_no_one_else_is(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    bob = {
        "id": "117020566092212359",
        "username": "bob",
        "url": "https://other.example/@bob",
        "acct": "bob@other.example",
    }
    post = mock.post(STATUSES).mock(return_value=httpx.Response(200, json=_sent(mentions=[bob])))

    await me(http).send_message(
        "@Bob@other.example", "Ask @carol@x.example, or write to ada@example.com", "k"
    )

    assert form(post.calls.last.request)["status"] == [
        f"@bob@other.example Ask @{QUIET}carol@x.example, or write to ada@example.com"
    ]


async def test_a_try_again_sends_the_same_key_and_gets_the_same_message(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    post = mock.post(STATUSES).mock(
        side_effect=[httpx.ReadTimeout("lost"), httpx.Response(200, json=_sent())]
    )
    connector = me(http)

    with pytest.raises(Retriable):
        await connector.send_message(YOU, "pssssst", "copy-key-1")
    delivered = await connector.send_message(YOU, "pssssst", "copy-key-1", again=True)

    assert delivered.id == SENT_ID
    keys = [call.request.headers["idempotency-key"] for call in post.calls]
    assert keys == ["copy-key-1", "copy-key-1"]


@pytest.mark.parametrize(
    ("reply", "kind", "words"),
    [
        (
            lambda: recorded("live_error_422_status_empty"),
            PermanentError,
            "localhost:3000 refused the message: バリデーションに失敗しました",
        ),
        (
            lambda: answer("error_404", 404),
            PermanentError,
            "did not send the message (Record not found)",
        ),
        (rate_limited, RateLimited, "slow down"),
        (lambda: recorded("live_error_401_timelines_home"), AuthRevoked, "no longer accepts"),
        (lambda: httpx.Response(503), Retriable, "503"),
    ],
)
async def test_what_the_server_answers_a_message_is_told(
    http: httpx.AsyncClient, mock: respx.MockRouter, reply: Any, kind: type, words: str
) -> None:
    mock.post(STATUSES).mock(return_value=reply())

    with pytest.raises(base.ConnectorError) as failed:
        await me(http).send_message(YOU, "pssssst", "k")

    assert type(failed.value) is kind
    assert words in failed.value.message
    if isinstance(failed.value, RateLimited):
        assert failed.value.retry_after == 120


@pytest.mark.parametrize(
    "changes",
    [{"mentions": []}, {"visibility": "public"}],
    ids=["recipient not found", "not direct"],
)
async def test_a_message_that_reached_no_one_or_everyone_is_taken_down(
    http: httpx.AsyncClient, mock: respx.MockRouter, changes: dict[str, Any]
) -> None:
    mock.post(STATUSES).mock(return_value=httpx.Response(200, json=_sent(**changes)))
    deleted = mock.delete(f"{STATUSES}/{SENT_ID}").mock(return_value=httpx.Response(200, json={}))

    with pytest.raises(PermanentError) as failed:
        await me(http).send_message(YOU, "pssssst", "k")

    assert "only @mastodonpy_test_2@localhost:3000 sees" in failed.value.message
    assert "took it down" in failed.value.message
    assert deleted.called


async def test_a_message_to_oneself_is_refused_before_sending(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    post = mock.post(STATUSES)

    with pytest.raises(PermanentError, match="itself"):
        await me(http).send_message("@MastodonPy_Test@localhost:3000", "hello me", "k")

    assert not post.called


# -- answers ---------------------------------------------------------------------------------

SINCE = datetime(2026, 8, 1, 13, 54, 33, tzinfo=UTC)


def _reply(status_id: str, who: dict[str, Any], at: str, html: str) -> dict[str, Any]:
    """admin's recorded direct message, as a reply of ``who`` below the one sent."""
    return {
        **_recorded_status("117020592129111851"),
        "id": status_id,
        "account": who,
        "created_at": at,
        "in_reply_to_id": SENT_ID,
        "content": html,
        "url": f"{SERVER}/@{who['username']}/{status_id}",
    }


MENTION_OF_ME = (
    '<span class="h-card" translate="no"><a href="http://localhost:3000/@mastodonpy_test" '
    'class="u-url mention">@<span>mastodonpy_test</span></a></span>'
)


async def test_the_answers_are_the_recipients_replies_since_then_oldest_first(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    you = _account_of("mastodonpy_test_2")
    myself = _recorded_status(SENT_ID)["account"]
    someone = _account_of("admin")
    descendants = [
        _reply("300", you, "2026-08-01T14:10:00.000Z", f"<p>{MENTION_OF_ME} Later, <b>too</b></p>"),
        _reply("301", myself, "2026-08-01T14:00:00.000Z", "<p>and one more thing</p>"),
        _reply("302", someone, "2026-08-01T14:01:00.000Z", f"<p>{MENTION_OF_ME} not me</p>"),
        _reply("303", you, "2026-08-01T13:50:00.000Z", "<p>before the message</p>"),
        _reply("304", you, "2026-08-01T14:05:00.000Z", f"<p>{MENTION_OF_ME} Yes, five!</p>"),
    ]
    mock.get(f"{STATUSES}/{SENT_ID}/context").mock(
        return_value=httpx.Response(200, json={"ancestors": [], "descendants": descendants})
    )

    found = await me(http).answers(YOU, Delivered(SENT_ID, thread=SENT_ID), SINCE)

    assert [(a.id, a.text) for a in found] == [("304", "Yes, five!"), ("300", "Later, too")]
    assert found[0].written_at == datetime(2026, 8, 1, 14, 5, tzinfo=UTC)
    assert found[0].url == f"{SERVER}/@mastodonpy_test_2/304"


async def test_a_message_deleted_there_has_its_answers_no_longer_read(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    mock.get(f"{STATUSES}/{SENT_ID}/context").mock(return_value=answer("error_404", 404))

    with pytest.raises(PermanentError):
        await me(http).answers(YOU, Delivered(SENT_ID, thread=SENT_ID), SINCE)


@pytest.mark.parametrize(
    ("account", "recipient", "expected"),
    [
        ({"acct": "mastodonpy_test_2"}, YOU, True),  # local: no server in its acct
        ({"acct": "mastodonpy_test_2"}, "mastodonpy_test_2@other.example", False),
        ({"acct": "Bob@Other.Example"}, "bob@other.example", True),
        ({"acct": "bob"}, "bob@other.example", False),  # the sender's own server's bob
        ({"acct": "bob@other.example"}, "bob2@other.example", False),
        # A server that names its accounts by its domain, not by its host.
        (
            {"acct": "ada@example.com", "uri": "https://mastodon.example.com/users/ada"},
            "ada@mastodon.example.com",
            True,
        ),
        (
            {"acct": "ada@example.com", "url": "https://mastodon.example.com/@ada"},
            "ada@mastodon.example.com",
            True,
        ),
        (
            {"acct": "ada@evil.example", "uri": "https://evil.example/users/ada"},
            "ada@mastodon.example.com",
            False,
        ),
        ("not an account", YOU, False),
    ],
)
def test_the_recipient_is_known_by_their_acct(account: Any, recipient: str, expected: bool) -> None:
    assert is_account(account, recipient, "localhost:3000", allow_loopback=True) is expected


# -- read, and taken back --------------------------------------------------------------------


async def test_a_message_the_recipient_favourited_was_read(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    route = mock.get(f"{STATUSES}/{SENT_ID}/favourited_by")
    delivered = Delivered(SENT_ID, thread=SENT_ID)
    connector = me(http)

    route.mock(return_value=httpx.Response(200, json=[_account_of("admin")]))
    assert await connector.message_read(YOU, delivered) is False
    route.mock(return_value=httpx.Response(200, json=[_account_of("mastodonpy_test_2")]))
    assert await connector.message_read(YOU, delivered) is True
    route.mock(return_value=answer("error_404", 404))
    assert await connector.message_read(YOU, delivered) is False


async def test_withdrawing_deletes_the_status_once(
    http: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    deleted = mock.delete(f"{STATUSES}/{SENT_ID}").mock(
        side_effect=[httpx.Response(200, json=_sent()), answer("error_404", 404)]
    )
    connector = me(http)
    delivered = Delivered(SENT_ID, thread=SENT_ID)

    await connector.withdraw_message(YOU, delivered)
    await connector.withdraw_message(YOU, delivered)  # gone already: done

    assert deleted.call_count == 2
    assert deleted.calls.last.request.headers["authorization"] == "Bearer secret-token"
