"""How a person wants to be reached: who may message them, and their messengers in order;
what a sender may use of them goes through the privacy gate."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.domain import account, privacy, reach
from portal.storage.models import LinkedAccount, User
from tests.portal.domain import people


@pytest.fixture
async def ada(db: AsyncSession) -> dict[str, Any]:
    user = await people.person(db, "Ada")
    accounts = {
        "github": await people.account(db, user, "github", "ada"),
        "matrix": await people.account(db, user, "matrix", "@ada:matrix.org"),
        "email": await people.account(db, user, "email", "ada@example.org", audience="contacts"),
        "xmpp": await people.account(db, user, "xmpp", "ada@jabber.example"),
    }
    for position, linked in enumerate(accounts.values()):
        linked.position = position
    token = (await account.create_token(db, user, name="tests")).secret
    await db.commit()
    ids = {network: linked.id for network, linked in accounts.items()}
    return {"user": user, "ids": ids, "headers": {"authorization": f"Bearer {token}"}}


async def _reach(client: httpx.AsyncClient, ada: dict[str, Any]) -> dict[str, Any]:
    got = await client.get("/api/v1/me/reach", headers=ada["headers"])
    assert got.status_code == 200, got.text
    found: dict[str, Any] = got.json()
    return found


async def test_messengers_are_offered_in_the_cards_order_to_contacts_by_default(
    client: httpx.AsyncClient, ada: dict[str, Any]
) -> None:
    shown = await _reach(client, ada)
    assert shown["messages_from"] == "contacts"
    # GitHub is no messenger: it is not among them.
    assert [(c["network"], c["rank"], c["on"]) for c in shown["channels"]] == [
        ("matrix", 1, True),
        ("email", 2, True),
        ("xmpp", 3, True),
    ]
    assert shown["channels"][0]["label"] == "Matrix"
    assert shown["channels"][0]["handle"] == "@ada:matrix.org"


async def test_the_order_is_chosen_and_a_messenger_left_out_is_off(
    client: httpx.AsyncClient, ada: dict[str, Any]
) -> None:
    ids = ada["ids"]
    put = await client.put(
        "/api/v1/me/reach",
        json={"messages_from": "members", "channels": [ids["xmpp"], ids["matrix"]]},
        headers=ada["headers"],
    )
    assert put.status_code == 200, put.text
    shown = await _reach(client, ada)
    assert shown == put.json()
    assert shown["messages_from"] == "members"
    assert [(c["network"], c["rank"], c["on"]) for c in shown["channels"]] == [
        ("xmpp", 1, True),
        ("matrix", 2, True),
        ("email", None, False),
    ]
    # Only who may message changes; the channels stay.
    put = await client.put(
        "/api/v1/me/reach", json={"messages_from": "nobody"}, headers=ada["headers"]
    )
    assert put.json()["messages_from"] == "nobody"
    assert [c["network"] for c in put.json()["channels"] if c["on"]] == ["xmpp", "matrix"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"channels": ["github"]}, "not a messenger account of yours"),
        ({"channels": ["matrix", "matrix"]}, "each of your messengers once"),
        ({"channels": [999_999]}, "not a messenger account of yours"),
        ({"messages_from": "everyone"}, "messages_from"),
        ({"channels": [True]}, "channels"),
        ({"colour": "blue"}, "colour"),
    ],
)
async def test_a_wrong_choice_is_refused_and_nothing_changes(
    client: httpx.AsyncClient, ada: dict[str, Any], body: dict[str, Any], words: str
) -> None:
    """Channels named by network stand for the ids of Ada's accounts there."""
    before = await _reach(client, ada)
    if "channels" in body:
        body = {"channels": [ada["ids"].get(c, c) if isinstance(c, str) else c
                             for c in body["channels"]]}  # fmt: skip
    put = await client.put("/api/v1/me/reach", json=body, headers=ada["headers"])
    assert put.status_code == 422, put.text
    assert words in put.text
    assert await _reach(client, ada) == before


async def test_another_persons_account_is_not_mine_to_order(
    client: httpx.AsyncClient, db: AsyncSession, ada: dict[str, Any]
) -> None:
    bob = await people.person(db, "Bob")
    his = await people.account(db, bob, "matrix", "@bob:matrix.org")
    await db.commit()
    put = await client.put("/api/v1/me/reach", json={"channels": [his.id]}, headers=ada["headers"])
    assert put.status_code == 422
    assert "not a messenger account of yours" in put.json()["detail"]


async def test_the_settings_need_a_signed_in_person(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/me/reach")).status_code == 401
    assert (await client.put("/api/v1/me/reach", json={})).status_code == 401


async def _open_to(db: AsyncSession, sender: User, recipient: User) -> tuple[bool, list[str]]:
    """Whether ``sender`` may write to ``recipient``, and on which channels."""
    relation = (await privacy.relations(db, sender, [recipient.id]))[recipient.id]
    accounts = list(
        await db.scalars(select(LinkedAccount).where(LinkedAccount.user_id == recipient.id))
    )
    card = privacy.card_of(recipient, accounts, relation)
    channels = reach.open_to(card, reach.order(accounts))
    return reach.may_write(recipient, relation), [c.account.network for c in channels]


async def test_a_sender_may_use_only_the_channels_the_card_shows_them(
    db: AsyncSession, ada: dict[str, Any]
) -> None:
    recipient: User = ada["user"]
    friend, stranger, pest = [await people.person(db, name) for name in ("F", "S", "P")]
    await people.befriend(db, recipient, friend)
    await people.block(db, recipient, pest)
    await people.befriend(db, recipient, pest)  # a block wins over a contact

    assert await _open_to(db, friend, recipient) == (True, ["matrix", "email", "xmpp"])
    # A member who is no contact may not write while only contacts may; once members may,
    # the email the card shows only to contacts is still not theirs to use.
    assert await _open_to(db, stranger, recipient) == (False, ["matrix", "xmpp"])
    recipient.messages_from = reach.MEMBERS
    assert await _open_to(db, stranger, recipient) == (True, ["matrix", "xmpp"])
    assert (await _open_to(db, pest, recipient))[0] is False
    recipient.messages_from = reach.NOBODY
    assert (await _open_to(db, friend, recipient))[0] is False
