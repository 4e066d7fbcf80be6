"""Contacts against the real database: requests, answers, blocks, tags, the list, invitations
and the notifications they make."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.domain import contacts, invites, lookup, notifications, privacy, relations
from portal.errors import Conflict, InvalidInput, NotFound
from portal.ratelimit import RateLimiter
from portal.storage.models import Contact, ContactRequest, Invite, Notification, utcnow
from tests.portal.domain.people import QueryCounter, account, person


async def _rows(db, model) -> int:
    return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def _kinds(db, user) -> list[str]:
    found = await notifications.list_notifications(db, user)
    return [item.kind for item in found.items]


async def test_request_accept_makes_two_rows_and_notifies_both_ways(db):
    ada, bob = await person(db, "Ada"), await person(db, "Bob")
    sent = await contacts.request(db, ada, bob, "Met at the conference")
    assert sent.status == "pending" and sent.request is not None
    assert await _kinds(db, bob) == [notifications.CONTACT_REQUEST]
    [incoming] = await contacts.pending_requests(db, bob, incoming=True)
    assert incoming.card.display_name == "Ada" and incoming.message == "Met at the conference"

    await contacts.accept(db, bob, ada)
    pairs = set((await db.execute(select(Contact.owner_id, Contact.other_id))).all())
    assert pairs == {(ada.id, bob.id), (bob.id, ada.id)}
    assert await _rows(db, ContactRequest) == 0
    assert await _kinds(db, ada) == [notifications.CONTACT_ACCEPTED]
    [card] = await privacy.cards_for(db, ada, [bob])
    assert card.relation is privacy.Relation.CONTACT


async def test_only_the_recipient_answers_and_only_the_sender_withdraws(db):
    ada, bob, eve = await person(db, "Ada"), await person(db, "Bob"), await person(db, "Eve")
    await contacts.request(db, ada, bob)
    for who, sender in ((ada, bob), (eve, ada)):
        with pytest.raises(NotFound):
            await contacts.accept(db, who, sender)
        with pytest.raises(NotFound):
            await contacts.decline(db, who, sender)
    for who, recipient in ((bob, ada), (eve, bob)):
        with pytest.raises(NotFound):
            await contacts.cancel(db, who, recipient)
    await contacts.cancel(db, ada, bob)
    assert await _rows(db, ContactRequest) == 0


async def test_asking_someone_who_asked_you_makes_contacts_at_once(db):
    ada, bob = await person(db, "Ada"), await person(db, "Bob")
    await contacts.request(db, ada, bob)
    sent = await contacts.request(db, bob, ada)
    assert sent.status == "contacts"
    assert await _rows(db, Contact) == 2 and await _rows(db, ContactRequest) == 0
    assert notifications.CONTACT_ACCEPTED in await _kinds(db, ada)


async def test_requests_refused_clearly(db):
    ada, bob = await person(db, "Ada"), await person(db, "Bob")
    with pytest.raises(InvalidInput, match="your own number"):
        await contacts.request(db, ada, ada)
    first = await contacts.request(db, ada, bob)
    again = await contacts.request(db, ada, bob)
    assert again.request is not None and first.request is not None
    assert again.request.id == first.request.id  # asking twice is asking once
    assert await _rows(db, ContactRequest) == 1
    await contacts.accept(db, bob, ada)
    with pytest.raises(Conflict, match="already contacts"):
        await contacts.request(db, ada, bob)


async def test_asking_by_number_checks_the_message_and_the_number_first(db):
    limiter = RateLimiter("memory://", enabled=False)
    ada, cy = await person(db, "Ada"), await person(db, "Cy")
    typo = cy.number[:-1] + str((int(cy.number[-1]) + 1) % 10)
    with pytest.raises(InvalidInput, match="typo"):
        await lookup.ask(db, limiter, ada, typo, client="a")
    with pytest.raises(InvalidInput, match="control character"):  # before the number
        await lookup.ask(db, limiter, ada, typo, "hi\x1b[31m", client="a")
    sent = await lookup.ask(db, limiter, ada, cy.number, "  Hi  ", client="a")
    assert sent.other.id == cy.id and sent.request is not None
    assert sent.request.message == "Hi"
    assert await _rows(db, ContactRequest) == 1


async def test_pending_requests_are_capped(db, monkeypatch):
    monkeypatch.setattr(contacts.requests, "MAX_PENDING", 2)
    ada = await person(db, "Ada")
    for _ in range(2):
        await contacts.request(db, ada, await person(db, "Someone"))
    with pytest.raises(Conflict, match="waiting for an answer"):
        await contacts.request(db, ada, await person(db, "One more"))


async def test_a_request_to_whoever_blocked_you_waits_unseen(db):
    """It reads as sent to anybody else, but the person who blocked you never sees it, and
    unblocking does not bring it back."""
    ada, bob, cy = await person(db, "Ada"), await person(db, "Bob"), await person(db, "Cy")
    await contacts.block(db, bob, ada)
    to_bob = await contacts.request(db, ada, bob)
    to_cy = await contacts.request(db, ada, cy)
    assert to_bob.status == to_cy.status == "pending"
    outgoing = await contacts.pending_requests(db, ada, incoming=False)
    assert {p.card.number for p in outgoing} == {bob.number, cy.number}
    assert await contacts.pending_requests(db, bob, incoming=True) == []
    assert await _kinds(db, bob) == []
    with pytest.raises(NotFound):
        await relations.person_in(db, bob, ada.number, "received")
    await contacts.unblock(db, bob, ada)
    assert await contacts.pending_requests(db, bob, incoming=True) == []
    assert {p.card.number for p in await contacts.pending_requests(db, ada, incoming=False)} == {
        cy.number
    }


@pytest.mark.parametrize("among", ["contact", "sent", "received", "blocked", "contact_or_sent"])
async def test_an_action_finds_only_people_in_its_relation_and_misses_alike(db, among):
    ada, bob = await person(db, "Ada"), await person(db, "Bob")
    hidden = await person(db, "Hidden", find_by_number=False)
    stranger = await person(db, "Stranger")
    if among in ("contact", "contact_or_sent"):
        await contacts.connect(db, ada, bob)
    elif among == "sent":
        await contacts.request(db, ada, bob)
    elif among == "received":
        await contacts.request(db, bob, ada)
    else:
        await contacts.block(db, ada, bob)
    assert (await relations.person_in(db, ada, bob.number, among)).id == bob.id
    misses = []
    for number in (hidden.number, stranger.number, "10000004", ada.number):
        with pytest.raises(NotFound) as missed:
            await relations.person_in(db, ada, number, among)
        misses.append(str(missed.value))
    assert misses == [relations.NOT_YOURS] * 4


async def test_block_removes_contact_and_requests_both_ways_and_unblock_restores_nothing(db):
    ada, bob, cy = await person(db, "Ada"), await person(db, "Bob"), await person(db, "Cy")
    await contacts.connect(db, ada, bob)
    await contacts.add_tag(db, ada, bob, "family")
    await contacts.request(db, cy, ada)
    await contacts.request(db, ada, await person(db, "Dee"))
    await contacts.block(db, ada, bob)
    await contacts.block(db, ada, bob)  # twice is once
    await contacts.block(db, ada, cy)
    assert await _rows(db, Contact) == 0
    assert await _rows(db, ContactRequest) == 1  # only the one to Dee is left
    assert [b.card.number for b in await contacts.blocks(db, ada)] in (
        [cy.number, bob.number],
        [bob.number, cy.number],
    )
    assert await relations.state_with(db, ada, bob) == "blocked"
    assert await relations.state_with(db, bob, ada) == "none"  # the block is not told
    await contacts.unblock(db, ada, bob)
    assert await relations.state_with(db, ada, bob) == "none"
    with pytest.raises(NotFound):
        await contacts.unblock(db, ada, bob)


async def test_a_blocked_person_sees_no_more_than_an_anonymous_viewer(db):
    ada = await person(db, "Ada", name_audience="members", bio_audience="contacts")
    ada.bio = "Hi"
    bob = await person(db, "Bob")
    await account(db, ada, "mastodon", "@ada@example.social", audience="contacts")
    await account(db, ada, "matrix", "@ada:example.org", audience="members")
    await account(db, ada, "email", "ada@example.org", audience="public")
    await contacts.connect(db, ada, bob)
    [as_contact] = await privacy.cards_for(db, bob, [ada])
    assert as_contact.display_name == "Ada" and len(as_contact.accounts) == 3
    await contacts.block(db, ada, bob)
    [as_blocked] = await privacy.cards_for(db, bob, [ada])
    [as_anonymous] = await privacy.cards_for(db, None, [ada])
    fields = ("display_name", "bio", "avatar_etag", "phone", "accounts")
    assert [getattr(as_blocked, f) for f in fields] == [getattr(as_anonymous, f) for f in fields]
    assert as_blocked.display_name is None and len(as_blocked.accounts) == 1


async def test_remove_ends_both_sides(db):
    ada, bob = await person(db, "Ada"), await person(db, "Bob")
    await contacts.connect(db, ada, bob)
    await contacts.remove(db, bob, ada)
    assert await _rows(db, Contact) == 0
    with pytest.raises(NotFound):
        await contacts.remove(db, ada, bob)


async def test_tags_are_checked_and_capped(db):
    ada, bob = await person(db, "Ada"), await person(db, "Bob")
    await contacts.connect(db, ada, bob)
    for bad, message in (("", "Enter a tag"), ("x" * 41, "at most 40"), ("a\x00b", "U\\+0000")):
        with pytest.raises(InvalidInput, match=message):
            await contacts.add_tag(db, ada, bob, bad)
    await contacts.add_tag(db, ada, bob, "  Work  ")
    await contacts.add_tag(db, ada, bob, "work")  # the same tag in another case
    assert (await contacts.entry(db, ada, bob)).tags == ("Work",)
    with pytest.raises(InvalidInput, match="at most 20"):
        await contacts.set_tags(db, ada, bob, [f"t{i}" for i in range(21)])
    assert (await contacts.entry(db, ada, bob)).tags == ("Work",)  # nothing half-written
    await contacts.set_tags(db, ada, bob, [f"t{i:02}" for i in range(20)])
    with pytest.raises(InvalidInput, match="at most 20"):
        await contacts.add_tag(db, ada, bob, "one more")
    await contacts.remove_tag(db, ada, bob, "t00")
    assert len((await contacts.entry(db, ada, bob)).tags) == 19
    assert (await contacts.entry(db, bob, ada)).tags == ()  # tags are the owner's own
    stranger = await person(db, "Stranger")
    with pytest.raises(NotFound):
        await contacts.add_tag(db, ada, stranger, "x")


async def test_list_sorts_filters_and_pages_on_what_cards_show(db):
    me = await person(db, "Me")
    zoe = await person(db, "Zoe")
    bea = await person(db, "Bea", name_audience="private")
    al = await person(db, "Al")
    await account(db, zoe, "mastodon", "@zoe@example.social")
    await account(db, zoe, "matrix", "@zoe:example.org")
    await account(db, al, "matrix", "@al:example.org", audience="private")
    for other in (zoe, bea, al):
        await contacts.connect(db, me, other)
    await contacts.add_tag(db, me, al, "Work")

    by_name = await contacts.list_contacts(db, me)
    assert [e.card.display_name for e in by_name.items] == ["Al", "Zoe", None]
    by_networks = await contacts.list_contacts(db, me, sort="networks")
    assert by_networks.items[0].card.number == zoe.number
    matrix = await contacts.list_contacts(db, me, network="matrix")
    assert [e.card.number for e in matrix.items] == [zoe.number]  # Al's is private
    assert [e.card.number for e in (await contacts.list_contacts(db, me, text="bea")).items] == []
    assert [e.card.number for e in (await contacts.list_contacts(db, me, tag="work")).items] == [
        al.number
    ]
    handle = await contacts.list_contacts(db, me, text="example.social")
    assert [e.card.number for e in handle.items] == [zoe.number]
    paged = await contacts.list_contacts(db, me, per_page=2, page=2)
    assert paged.total == 3 and paged.pages == 2 and len(paged.items) == 1
    with pytest.raises(InvalidInput):
        await contacts.list_contacts(db, me, sort="age")


@pytest.mark.parametrize("count", [1, 12])
async def test_the_contact_list_takes_the_same_queries_for_any_number_of_contacts(db, count):
    me = await person(db, "Me")
    for i in range(count):
        other = await person(db, f"Contact {i}")
        await account(db, other, "mastodon", f"@c{i}@example.social")
        await contacts.connect(db, me, other)
        await contacts.add_tag(db, me, other, "tag")
    with QueryCounter(db) as counter:
        found = await contacts.list_contacts(db, me)
    assert len(found.items) == count
    assert counter.count == 7


async def test_invite_makes_contacts_once(db):
    ada, bob, cy = await person(db, "Ada"), await person(db, "Bob"), await person(db, "Cy")
    made = await invites.create_invite(db, ada)
    stored = await db.get(Invite, made.invite.id_hash)
    assert stored is not None and made.secret not in stored.id_hash
    card = await invites.invite_card(db, None, made.secret)
    assert card.number == ada.number
    with pytest.raises(InvalidInput, match="your own invitation"):
        await invites.accept_invite(db, ada, made.secret)
    inviter = await invites.accept_invite(db, bob, made.secret)
    assert inviter.id == ada.id
    assert await relations.state_with(db, bob, ada) == "contact"
    assert await _kinds(db, ada) == [notifications.INVITE_USED]
    for secret in (made.secret, made.secret[:-2], "x" * 500, "nope"):
        with pytest.raises(NotFound) as gone:
            await invites.accept_invite(db, cy, secret)
        assert str(gone.value) == invites.INVITE_GONE


async def test_an_expired_invite_is_gone_and_live_ones_are_capped(db, monkeypatch):
    ada, bob = await person(db, "Ada"), await person(db, "Bob")
    made = await invites.create_invite(db, ada)
    made.invite.expires_at = utcnow() - timedelta(seconds=1)
    await db.flush()
    with pytest.raises(NotFound, match="expired"):
        await invites.invite_card(db, bob, made.secret)
    with pytest.raises(NotFound):
        await invites.accept_invite(db, bob, made.secret)
    monkeypatch.setattr(invites, "MAX_LIVE_INVITES", 2)
    await invites.create_invite(db, ada)
    await invites.create_invite(db, ada)  # the expired one does not count
    with pytest.raises(Conflict, match="unused invitations"):
        await invites.create_invite(db, ada)


async def test_notifications_page_mark_read_and_count(db):
    ada = await person(db, "Ada")
    for _ in range(3):
        await contacts.request(db, await person(db, "Fan"), ada)
    assert await notifications.unread_count(db, ada) == 3
    page = await notifications.list_notifications(db, ada, per_page=2)
    assert page.pages == 2 and page.unread == 3
    assert page.items[0].id > page.items[1].id  # newest first
    await notifications.mark_read(db, ada, page.items[0].id)
    assert await notifications.unread_count(db, ada) == 2
    other = await person(db, "Other")
    with pytest.raises(NotFound):
        await notifications.mark_read(db, other, page.items[0].id)
    assert await notifications.mark_all_read(db, ada) == 2
    assert await notifications.unread_count(db, ada) == 0
    assert await _rows(db, Notification) == 3
