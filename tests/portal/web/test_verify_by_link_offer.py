""" "Verify by link" is offered only where a public page can hold a rel="me" link back."""

from __future__ import annotations

import re

import respx

from tests.fixtures.app import HTML, post_form

_VERIFY = re.compile(r'action="/me/accounts/(\d+)/verify-link"')
_ITEM = re.compile(r'<li data-testid="linked-account".*?</li>', re.S)


def _network(item: str) -> str:
    """The network's name in a linked account's row (its icon left out)."""
    strong = item.split("<strong>", 1)[1].split("</strong>", 1)[0]
    return re.sub(r"<svg.*?</svg>", "", strong, flags=re.S).strip()


async def test_only_pages_that_can_link_back_offer_verify_by_link(signed_in):
    for network, handle in (
        ("website", "https://ada.example.org/"),
        ("github", "ada"),
        ("whatsapp", "+44 7400 123456"),
        ("telegram", "ada_lovelace"),
        ("signal", "ada.42"),
    ):
        added = await post_form(signed_in, "/me/accounts", network=network, handle=handle)
        assert added.status_code == 303, (network, added.text)
    page = await signed_in.get("/me/accounts", headers=HTML)
    offered = [_network(item) for item in _ITEM.findall(page.text) if _VERIFY.search(item)]
    assert offered == ["Website", "GitHub"]
    telegram = [item for item in _ITEM.findall(page.text) if _network(item) == "Telegram"]
    [account_id] = re.findall(r'action="/me/accounts/(\d+)/', telegram[0])[:1]
    with respx.mock:  # nothing is fetched
        refused = await post_form(
            signed_in, f"/me/accounts/{account_id}/verify-link", page="/me/accounts"
        )
    assert refused.status_code == 422
    assert "no public page that could link back" in refused.text
