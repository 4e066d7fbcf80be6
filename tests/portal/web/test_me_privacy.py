"""The privacy form on my page: a field the form does not send never widens its audience."""

from __future__ import annotations

import re

import httpx

from tests.fixtures.app import HTML, get_csrf


def _chosen(html: str, field: str) -> str:
    select = re.search(rf'<select id="{field}_audience".*?</select>', html, re.S)
    assert select, html
    option = re.search(r'<option value="(\w+)" selected>', select.group(0))
    assert option, select.group(0)
    return option.group(1)


async def _save(client: httpx.AsyncClient, **fields: str) -> httpx.Response:
    token = await get_csrf(client, "/me")
    return await client.post("/me/privacy", data={"csrf_token": token, **fields}, headers=HTML)


async def test_a_field_left_out_of_the_form_keeps_its_audience(signed_in):
    everything = {f"{f}_audience": "private" for f in ("name", "avatar", "bio", "phone")}
    saved = await _save(signed_in, **everything, find_by_number="on")
    assert saved.status_code == 200, saved.text
    # A form that sends only some fields (an old page, a hand-made post) changes only those.
    partly = await _save(signed_in, bio_audience="contacts", find_by_number="on")
    assert partly.status_code == 200, partly.text
    page = (await signed_in.get("/me", headers=HTML)).text
    assert [_chosen(page, f) for f in ("name", "avatar", "bio", "phone")] == [
        "private",
        "private",
        "contacts",
        "private",
    ]


async def test_an_empty_audience_keeps_the_stored_one(signed_in):
    await _save(signed_in, name_audience="contacts", find_by_number="on")
    emptied = await _save(signed_in, name_audience="", find_by_number="on")
    assert emptied.status_code == 200, emptied.text
    page = (await signed_in.get("/me", headers=HTML)).text
    assert _chosen(page, "name") == "contacts"
