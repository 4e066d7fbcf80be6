"""Search by name or handle: who can be found, by what, in which order (the same on SQLite
and PostgreSQL)."""

from __future__ import annotations

import pytest

from portal.domain import search
from portal.errors import InvalidInput
from tests.portal.domain.people import QueryCounter, account, befriend, block, person


async def _names(db, viewer, q, page=1) -> list[str | None]:
    return [card.display_name for card in (await search.search(db, viewer, q, page)).cards]


@pytest.fixture
async def viewer(db):
    return await person(db, "Viewer", find_by_name=True)


async def test_names_match_whatever_their_case_and_accents(db, viewer):
    for name in [
        "José Álvarez",
        "JOSE ALVAREZ",
        "Jösé Ålvarez",
        "Zoë Ørsted",
        "Łukasz Żółw",
        "Nguyễn Văn An",
        "Дмитрий Шостакович",
        "Ἀθηνᾶ Παλλάς",
        "Straße Müller",
    ]:
        await person(db, name, find_by_name=True)
    assert await _names(db, viewer, "jose alv") == ["José Álvarez", "JOSE ALVAREZ", "Jösé Ålvarez"]
    assert await _names(db, viewer, "ÁLVAREZ") == ["José Álvarez", "JOSE ALVAREZ", "Jösé Ålvarez"]
    assert await _names(db, viewer, "zoe") == ["Zoë Ørsted"]
    assert await _names(db, viewer, "lukasz zo") == ["Łukasz Żółw"]
    assert await _names(db, viewer, "NGUYEN") == ["Nguyễn Văn An"]
    assert await _names(db, viewer, "ДМИТРИЙ") == ["Дмитрий Шостакович"]
    assert await _names(db, viewer, "παλλας") == ["Ἀθηνᾶ Παλλάς"]
    assert await _names(db, viewer, "STRAßE") == ["Straße Müller"]
    assert await _names(db, viewer, "mueller") == []


async def test_only_people_who_allow_it_are_found(db, viewer):
    await person(db, "Ada Visible", find_by_name=True)
    await person(db, "Ada Hidden", find_by_name=False)
    assert await _names(db, viewer, "ada") == ["Ada Visible"]


async def test_the_searcher_and_people_who_blocked_them_are_not_found(db, viewer):
    await person(db, "Ada One", find_by_name=True)
    blocker = await person(db, "Ada Blocker", find_by_name=True)
    await block(db, blocker, viewer)
    viewer.display_name = "Ada Viewer"
    assert await _names(db, viewer, "ada") == ["Ada One"]


async def test_a_name_hidden_from_the_searcher_does_not_match(db, viewer):
    await person(db, "Ada Contacts", find_by_name=True, name_audience="contacts")
    friend = await person(db, "Ada Friend", find_by_name=True, name_audience="contacts")
    await person(db, "Ada Private", find_by_name=True, name_audience="private")
    await befriend(db, viewer, friend)
    assert await _names(db, viewer, "ada") == ["Ada Friend"]


async def test_a_visible_handle_finds_its_owner(db, viewer):
    owner = await person(db, "Grace", find_by_name=True, name_audience="private")
    await account(db, owner, "github", "amazing-grace")
    [card] = (await search.search(db, viewer, "@Amazing-GRACE")).cards
    assert card.user_id == owner.id
    assert card.display_name is None  # found by the handle, the name stays hidden
    assert [a.handle for a in card.accounts] == ["@amazing-grace"]


async def test_a_hidden_handle_does_not_find_its_owner(db, viewer):
    owner = await person(db, "Grace", find_by_name=True)
    await account(db, owner, "github", "secret-grace", audience="private")
    await account(db, owner, "github", "friends-grace", audience="contacts")
    assert await _names(db, viewer, "secret-grace") == []
    assert await _names(db, viewer, "friends-grace") == []
    await befriend(db, viewer, owner)
    assert await _names(db, viewer, "friends-grace") == ["Grace"]
    assert await _names(db, viewer, "secret-grace") == []


async def test_wildcards_in_the_query_are_plain_text(db, viewer):
    await person(db, "Ada 100% Lovelace", find_by_name=True)
    await person(db, "Ada 1000 Lovelace", find_by_name=True)
    await person(db, "ab_cd", find_by_name=True)
    await person(db, "abxcd", find_by_name=True)
    await person(db, "back\\slash", find_by_name=True)
    assert await _names(db, viewer, "100%") == ["Ada 100% Lovelace"]
    assert await _names(db, viewer, "b_c") == ["ab_cd"]
    assert await _names(db, viewer, "%%") == []
    assert await _names(db, viewer, "k\\s") == ["back\\slash"]


async def test_pages_are_stable_and_complete(db, viewer):
    names = [f"Ada {index:02d}" for index in range(45)]
    for name in reversed(names):
        await person(db, name, find_by_name=True)
    await person(db, "Lovelace Ada", find_by_name=True)  # contains the query, not at the start
    pages = [await search.search(db, viewer, "ada", page) for page in (1, 2, 3)]
    assert [len(page.cards) for page in pages] == [20, 20, 6]
    assert [page.has_more for page in pages] == [True, True, False]
    found = [card.display_name for page in pages for card in page.cards]
    assert found == [*names, "Lovelace Ada"]
    assert (await search.search(db, viewer, "ada", 4)).cards == []


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("", "at least 2"),
        ("a", "at least 2"),
        ("  a  ", "at least 2"),
        ("@a", "at least 2"),
        ("x" * 101, "at most 100"),
        ("ad\x00a", "letters, digits"),
        ("ad\u202ea", "letters, digits"),
    ],
)
async def test_bad_queries_are_refused(db, viewer, query, words):
    with pytest.raises(InvalidInput, match=words) as info:
        await search.search(db, viewer, query)
    assert info.value.field == "q"


@pytest.mark.parametrize("page", [0, -1, search.MAX_PAGE + 1])
async def test_pages_out_of_range_are_refused(db, viewer, page):
    with pytest.raises(InvalidInput, match="page"):
        await search.search(db, viewer, "ada", page)


async def test_the_number_of_queries_does_not_grow_with_the_results(db, viewer):
    counts = []
    for size in (1, 20):
        prefix = f"Size{size:02d}"
        for index in range(size):
            owner = await person(db, f"{prefix} {index}", find_by_name=True)
            await account(db, owner, "github", f"{prefix.lower()}-{index}")
        with QueryCounter(db) as counter:
            results = await search.search(db, viewer, prefix)
        assert len(results.cards) == size
        counts.append(counter.count)
    assert 1 <= counts[0] == counts[1] <= 3
