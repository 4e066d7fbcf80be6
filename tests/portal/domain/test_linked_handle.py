"""A linked account's handle corrected by its owner, in the domain."""

from __future__ import annotations

import pytest

from portal.domain import linking
from portal.domain.linking import accounts
from portal.errors import Conflict
from tests.portal.domain import people


async def test_a_duplicate_written_meanwhile_is_refused_and_the_list_still_reads(
    db, monkeypatch: pytest.MonkeyPatch
):
    owner = await people.person(db, "Ada")
    typo = await linking.add_handle(db, owner, "github", "octocta")
    await linking.add_handle(db, owner, "github", "octocat")

    async def not_seen(*args: object) -> None:  # another request wrote it after the check
        return None

    monkeypatch.setattr(accounts, "find_account", not_seen)
    with pytest.raises(Conflict, match="is already linked"):
        await linking.change_handle(db, owner, typo.id, "octocat")
    listed = await linking.list_accounts(db, owner)
    assert [a.handle for a in listed] == ["octocta", "octocat"]
