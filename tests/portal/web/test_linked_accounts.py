"""Linked accounts on the web: add by handle, email codes, order, remove — and bad input."""

from __future__ import annotations

import html
import json
import re

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

import connectors
from portal import i18n
from portal.config import Settings
from portal.domain import linking
from portal.storage.models import LinkAttempt, LinkedAccount
from tests.fixtures.app import (
    HTML,
    api_token,
    csrf_from,
    get_csrf,
    make_settings,
    post_form,
    web_sign_up,
)
from tests.fixtures.smtp import Mailbox


@pytest.fixture
def settings(smtp_server: Mailbox) -> Settings:
    return make_settings(smtp_url=smtp_server.url, mail_from="Portal <portal@portal.test>")


async def _accounts(db: AsyncSession) -> list[LinkedAccount]:
    return list((await db.scalars(select(LinkedAccount).order_by(LinkedAccount.position))).all())


async def test_the_page_lists_every_network(signed_in):
    page = await signed_in.get("/me/accounts", headers=HTML)
    assert page.status_code == 200
    assert "No linked accounts yet." in page.text
    for name in connectors.registry():
        assert f'href="/me/accounts/add?network={name}"' in page.text, name


async def test_an_email_is_verified_by_the_code_it_receives(signed_in, db, mailbox):
    response = await post_form(signed_in, "/me/accounts/email/code", handle=" Ada@Example.ORG ")
    assert response.status_code == 303
    code_page = response.headers["location"]
    [account] = await _accounts(db)
    assert (account.handle, account.status) == ("Ada@example.org", "unverified")
    code = mailbox.last_code("Ada@example.org")
    assert code not in str(await db.scalar(select(LinkAttempt.secrets)))

    confirmed = await post_form(signed_in, code_page, code=f"{code[:3]} {code[3:]}")
    assert confirmed.status_code == 303
    await db.refresh(account)
    assert (account.status, account.verified_by) == ("verified", "code")
    listing = await signed_in.get("/me/accounts", headers=HTML)
    assert 'data-status="verified"' in listing.text


async def test_wrong_codes_are_counted_and_end_the_attempt(signed_in, db, mailbox):
    response = await post_form(signed_in, "/me/accounts/email/code", handle="ada@example.org")
    code_page = response.headers["location"]
    right = mailbox.last_code("ada@example.org")
    wrong = "000000" if right != "000000" else "111111"
    for left in (4, 3, 2, 1):
        refused = await post_form(signed_in, code_page, code=wrong)
        assert refused.status_code == 422
        assert f"{left} tries left" in refused.text
    last = await post_form(signed_in, code_page, code=wrong)
    assert "no tries are left" in last.text
    # Even the right code no longer works: the attempt is over.
    too_late = await post_form(signed_in, code_page, code=right)
    assert too_late.status_code == 422
    [account] = await _accounts(db)
    assert account.status == "unverified"


@pytest.mark.parametrize(
    ("language", "four_left", "none_left"),
    [
        (
            "it",
            "Questo codice non è giusto. Tentativi rimasti: 4.",
            "Questo codice non è giusto, e non restano tentativi. Chiedi un nuovo codice.",
        ),
        (
            "fr",
            "Ce code n'est pas le bon. Essais restants : 4.",
            "Ce code n'est pas le bon, et il ne reste plus d'essais. Demandez un nouveau code.",
        ),
    ],
)
async def test_wrong_codes_are_told_in_the_reader_language(
    signed_in, mailbox, language, four_left, none_left
):
    signed_in.cookies.set(i18n.LANG_COOKIE, language)
    response = await post_form(signed_in, "/me/accounts/email/code", handle="ada@example.org")
    code_page = response.headers["location"]
    right = mailbox.last_code("ada@example.org")
    wrong = "000000" if right != "000000" else "111111"
    refused = await post_form(signed_in, code_page, code=wrong)
    assert refused.status_code == 422
    assert four_left in html.unescape(refused.text)

    auth = {"authorization": f"Bearer {await api_token(signed_in)}", "accept-language": language}
    signed_in.cookies.delete(i18n.LANG_COOKIE)
    api_path = "/api/v1" + code_page
    answers = [await signed_in.post(api_path, json={"code": wrong}, headers=auth) for _ in range(4)]
    assert [answer.status_code for answer in answers] == [422] * 4
    assert answers[-1].json()["detail"] == none_left


async def test_a_code_for_another_persons_account_is_not_found(client, db, mailbox):
    await web_sign_up(client, email="eve@example.org")
    response = await post_form(client, "/me/accounts/email/code", handle="eve@example.org")
    code_page = response.headers["location"]
    await client.post("/signout", data={"csrf_token": await get_csrf(client, "/me")})
    client.cookies.clear()
    await web_sign_up(client, email="mallory@example.org")
    stolen = await post_form(client, code_page, code=mailbox.last_code("eve@example.org"))
    assert stolen.status_code == 404


async def test_handles_are_added_unverified_ordered_and_removed(signed_in, db):
    for handle in ("one@example.org", "two@example.org", "three@example.org"):
        response = await post_form(signed_in, "/me/accounts", network="email", handle=handle)
        assert response.status_code == 303, response.text
    accounts = await _accounts(db)
    assert [a.handle for a in accounts] == [
        "one@example.org",
        "two@example.org",
        "three@example.org",
    ]
    assert {a.status for a in accounts} == {"unverified"}

    moved = await post_form(signed_in, f"/me/accounts/{accounts[2].id}/move", direction="up")
    assert moved.status_code == 303
    db.expire_all()
    assert [a.handle for a in await _accounts(db)][1] == "three@example.org"

    removed = await post_form(signed_in, f"/me/accounts/{accounts[0].id}/remove")
    assert removed.status_code == 303
    db.expire_all()
    assert [a.handle for a in await _accounts(db)] == ["three@example.org", "two@example.org"]


async def test_htmx_gets_the_list_fragment(signed_in, db):
    await post_form(signed_in, "/me/accounts", network="email", handle="one@example.org")
    [account] = await _accounts(db)
    token = await get_csrf(signed_in, "/me/accounts")
    response = await signed_in.post(
        f"/me/accounts/{account.id}/remove",
        data={"csrf_token": token},
        headers={**HTML, "hx-request": "true"},
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="accounts"')
    toast = json.loads(response.headers["hx-trigger"])["toast"]
    assert toast == {"message": "The account is unlinked.", "kind": "ok"}


async def test_what_the_list_says_is_in_the_reader_language(signed_in, db):
    signed_in.cookies.set("portal_lang", "it")
    linked = await signed_in.get("/me/accounts?linked=1", headers=HTML)
    assert '<p class="toast">L&#39;account è collegato e verificato.</p>' in linked.text
    await post_form(signed_in, "/me/accounts", network="email", handle="one@example.org")
    [account] = await _accounts(db)
    token = await get_csrf(signed_in, "/me/accounts")
    hx = {**HTML, "hx-request": "true"}
    for path, data, notice in (
        ("audience", {"audience": "contacts"}, "Chi vede l'account è salvato."),
        ("remove", {}, "L'account è scollegato."),
    ):
        response = await signed_in.post(
            f"/me/accounts/{account.id}/{path}", data={"csrf_token": token, **data}, headers=hx
        )
        assert response.status_code == 200
        assert json.loads(response.headers["hx-trigger"])["toast"]["message"] == notice


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"network": "email", "handle": ""}, 422, "Enter a handle."),
        ({"network": "email", "handle": "not an address"}, 422, "This is not an email address"),
        ({"network": "email", "handle": "x" * 1_000_000}, 413, ""),
        ({"network": "email", "handle": "a\x00b@example.org"}, 422, "control characters"),
        ({"network": "nowhere", "handle": "ada"}, 404, "There is no network called"),
        ({"network": "", "handle": "ada"}, 404, "There is no network called"),
    ],
)
async def test_bad_handles_are_refused_and_nothing_is_written(signed_in, db, data, status, message):
    response = await post_form(signed_in, "/me/accounts", **data)
    assert response.status_code == status
    assert message in response.text
    assert await _accounts(db) == []


async def test_the_same_account_twice_is_a_conflict(signed_in, db):
    await post_form(signed_in, "/me/accounts", network="email", handle="ada@example.org")
    again = await post_form(signed_in, "/me/accounts", network="email", handle="ada@EXAMPLE.org ")
    assert again.status_code == 409
    assert "already linked" in again.text
    assert len(await _accounts(db)) == 1


async def test_forms_need_the_csrf_token(signed_in, db):
    response = await signed_in.post(
        "/me/accounts", data={"network": "email", "handle": "ada@example.org"}, headers=HTML
    )
    assert response.status_code == 403
    response = await signed_in.post(
        "/me/accounts",
        data={"csrf_token": "forged", "network": "email", "handle": "ada@example.org"},
        headers=HTML,
    )
    assert response.status_code == 403
    assert await _accounts(db) == []


async def test_someone_elses_account_cannot_be_touched(client, db):
    await web_sign_up(client, email="eve@example.org")
    await post_form(client, "/me/accounts", network="email", handle="eve@example.org")
    [eves] = await _accounts(db)
    client.cookies.clear()
    await web_sign_up(client, email="mallory@example.org")
    for action in ("remove", "move", "check", "verify-link", "reconnect", "handle"):
        response = await post_form(client, f"/me/accounts/{eves.id}/{action}", direction="up")
        assert response.status_code == 404, action
    assert len(await _accounts(db)) == 1


async def test_a_database_dump_holds_no_code_or_token(signed_in, db, mailbox):
    await post_form(signed_in, "/me/accounts/email/code", handle="ada@example.org")
    code = mailbox.last_code("ada@example.org")
    dump = []
    for table in ("linked_accounts", "link_attempts", "oauth_apps"):
        rows = (await db.execute(text(f"SELECT * FROM {table}"))).all()  # noqa: S608
        dump.append(repr(rows))
    assert code not in "".join(dump)


async def test_the_add_page_offers_the_right_form(signed_in):
    email_page = await signed_in.get("/me/accounts/add?network=email", headers=HTML)
    assert 'action="/me/accounts/email/code"' in email_page.text
    assert csrf_from(email_page.text)
    missing = await signed_in.get("/me/accounts/add?network=nope", headers=HTML)
    assert missing.status_code == 404


# -- a handle corrected in place -------------------------------------------------------------


async def _add(client, network: str, handle: str) -> None:
    response = await post_form(client, "/me/accounts", network=network, handle=handle)
    assert response.status_code == 303, response.text


async def test_a_typed_handle_is_corrected_in_place(signed_in, db):
    for handle in ("octocat", "linus", "gvanrossum"):
        await _add(signed_in, "github", handle)
    first, second, third = await _accounts(db)
    await post_form(signed_in, f"/me/accounts/{second.id}/audience", audience="contacts")

    listing = await signed_in.get("/me/accounts", headers=HTML)
    assert f'href="/me/accounts/{second.id}/edit"' in listing.text
    form = await signed_in.get(f"/me/accounts/{second.id}/edit", headers=HTML)
    assert form.status_code == 200
    assert f'action="/me/accounts/{second.id}/handle"' in form.text
    assert 'value="@linus"' in form.text  # as people write it

    # Checked and normalised as when adding: a profile's address is a handle too.
    saved = await post_form(
        signed_in, f"/me/accounts/{second.id}/handle", handle=" https://github.com/Torvalds "
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == "/me/accounts"
    db.expire_all()
    accounts = await _accounts(db)
    assert [a.id for a in accounts] == [first.id, second.id, third.id]
    assert [a.handle for a in accounts] == ["octocat", "torvalds", "gvanrossum"]
    assert (accounts[1].audience, accounts[1].status) == ("contacts", "unverified")


async def test_htmx_edits_a_handle_inside_the_list(signed_in, db):
    await _add(signed_in, "github", "octocat")
    [account] = await _accounts(db)
    token = await get_csrf(signed_in, "/me/accounts")
    htmx = {**HTML, "hx-request": "true"}
    form = await signed_in.get(f"/me/accounts/{account.id}/edit", headers=htmx)
    assert form.status_code == 200
    assert form.text.lstrip().startswith('<div id="accounts"')
    assert 'class="handle-form"' in form.text and "autofocus" in form.text

    refused = await signed_in.post(
        f"/me/accounts/{account.id}/handle",
        data={"csrf_token": token, "handle": "-octocat-"},
        headers=htmx,
    )
    assert refused.status_code == 422
    assert refused.text.lstrip().startswith('<div id="accounts"')
    assert 'value="-octocat-"' in refused.text and 'aria-invalid="true"' in refused.text
    assert "A GitHub username has at most 39 letters" in refused.text

    saved = await signed_in.post(
        f"/me/accounts/{account.id}/handle",
        data={"csrf_token": token, "handle": "@octocat2"},
        headers=htmx,
    )
    assert saved.status_code == 200
    assert 'class="handle-form"' not in saved.text
    assert json.loads(saved.headers["hx-trigger"])["toast"]["message"] == (
        "The handle is corrected."
    )
    # The focus goes back to the row's Edit button.
    assert re.search(rf'href="/me/accounts/{account.id}/edit"[^>]* autofocus>', saved.text)
    db.expire_all()
    assert [a.handle for a in await _accounts(db)] == ["octocat2"]


@pytest.mark.parametrize(
    ("handle", "status", "message"),
    [
        ("", 422, "Enter a handle."),
        ("-octocat-", 422, "A GitHub username has at most 39 letters"),
        ("a\x00b", 422, "control characters"),
        ("x" * 1_000_000, 413, ""),
        ("@Linus", 409, "GitHub @linus is already linked."),
    ],
)
async def test_a_refused_handle_changes_nothing(signed_in, db, handle, status, message):
    await _add(signed_in, "github", "octocat")
    await _add(signed_in, "github", "linus")
    first, _ = await _accounts(db)
    response = await post_form(signed_in, f"/me/accounts/{first.id}/handle", handle=handle)
    assert response.status_code == status
    assert message in html.unescape(response.text)
    if status != 413:  # the form again, with what was typed, in the list
        assert f'action="/me/accounts/{first.id}/handle"' in response.text
    db.expire_all()
    assert [a.handle for a in await _accounts(db)] == ["octocat", "linus"]


async def test_a_verified_account_keeps_its_handle(signed_in, db):
    await _add(signed_in, "github", "octocat")
    [account] = await _accounts(db)
    account.status, account.verified_by, account.external_id = "verified", "oauth", "583231"
    await db.commit()
    listing = await signed_in.get("/me/accounts", headers=HTML)
    assert f"/me/accounts/{account.id}/edit" not in listing.text
    page = await signed_in.get(f"/me/accounts/{account.id}/edit", headers=HTML)
    refused = await post_form(signed_in, f"/me/accounts/{account.id}/handle", handle="other")
    for response in (page, refused):
        assert response.status_code == 409
        assert "The handle of a verified account is the one its network gave" in response.text
        assert 'class="handle-form"' not in response.text
    # Verified once and waiting to be reconnected: the same.
    account.status = "needs_reconnect"
    await db.commit()
    refused = await post_form(signed_in, f"/me/accounts/{account.id}/handle", handle="other")
    assert refused.status_code == 409
    db.expire_all()
    assert [a.handle for a in await _accounts(db)] == ["octocat"]


async def test_a_corrected_address_drops_the_code_sent_to_the_old_one(signed_in, db, mailbox):
    await post_form(signed_in, "/me/accounts/email/code", handle="ada@exmaple.org")
    [account] = await _accounts(db)
    code = mailbox.last_code("ada@exmaple.org")
    saved = await post_form(
        signed_in, f"/me/accounts/{account.id}/handle", handle="ada@example.org"
    )
    assert saved.status_code == 303
    assert await db.scalar(select(LinkAttempt.id_hash)) is None
    late = await post_form(signed_in, f"/me/accounts/{account.id}/code", code=code)
    assert late.status_code == 422
    db.expire_all()
    [account] = await _accounts(db)
    assert (account.handle, account.status) == ("ada@example.org", "unverified")


def _said(page: str) -> list[str]:
    """The messages of a page: its alerts and its main text."""
    return re.findall(r'<p class="(?:alert|message)"[^>]*>([^<]*)<', page)


async def test_someone_elses_account_is_edited_as_no_account_is(client, db):
    await web_sign_up(client, email="eve@example.org")
    await _add(client, "github", "eve")
    [eves] = await _accounts(db)
    client.cookies.clear()
    await web_sign_up(client, email="mallory@example.org")
    unknown = eves.id + 1000
    answers = []
    for account_id in (eves.id, unknown):
        page = await client.get(f"/me/accounts/{account_id}/edit", headers=HTML)
        posted = await post_form(client, f"/me/accounts/{account_id}/handle", handle="mallory")
        answers.append([(r.status_code, _said(r.text)) for r in (page, posted)])
    assert answers[0] == answers[1]
    assert answers[0] == [(404, ["This linked account does not exist."])] * 2
    db.expire_all()
    assert [a.handle for a in await _accounts(db)] == ["eve"]


async def test_editing_a_handle_needs_the_csrf_token(signed_in, db):
    await _add(signed_in, "github", "octocat")
    [account] = await _accounts(db)
    response = await signed_in.post(
        f"/me/accounts/{account.id}/handle", data={"handle": "other"}, headers=HTML
    )
    assert response.status_code == 403
    db.expire_all()
    assert [a.handle for a in await _accounts(db)] == ["octocat"]


@pytest.mark.parametrize("name", sorted(connectors.registry()))
def test_the_handle_put_in_the_form_reads_back_as_the_same(name):
    cls = connectors.registry()[name]
    handle = cls.normalize_handle(cls.HANDLE_EXAMPLE)
    account = LinkedAccount(network=name, handle=handle)
    assert cls.normalize_handle(linking.handle_to_edit(account)) == handle
