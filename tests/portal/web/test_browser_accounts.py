"""Linked accounts as a person uses them: Debian's Chromium on ``portal serve``, with a real
OpenID Connect provider and a real XMPP server (Prosody) to link verified accounts through.

The browser, the watch on every page's console and the helpers are in tests/fixtures/browser.py.
"""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    Request,
    Route,
    ViewportSize,
    expect,
)

import connectors
from tests.fixtures.browser import (
    PHONE,
    Console,
    new_person,
    no_sideways_scroll,
    open_account_menu,
    screenshot,
    scriptless_page,
    sign_in,
    sign_up,
)
from tests.fixtures.live import LiveServer
from tests.fixtures.oidc import OIDCProvider
from tests.fixtures.xmpp import XMPPServer

pytestmark = pytest.mark.browser

PROVIDER_LABEL = "Test ID"


@pytest.fixture(scope="module")
def server_env(oidc_provider: OIDCProvider, xmpp_server: XMPPServer) -> dict[str, str]:
    """The server links through the test provider and reaches the loopback XMPP server."""
    return {
        "PORTAL_CONNECTORS_ALLOW_LOOPBACK": "true",
        "PORTAL_OIDC_PROVIDERS": json.dumps([oidc_provider.setting(PROVIDER_LABEL)]),
        "PORTAL_XMPP_SERVER": f"{xmpp_server.host}:{xmpp_server.port}",
        "PORTAL_XMPP_CA_FILE": str(xmpp_server.ca_file),
    }


def _accounts(page: Page) -> Locator:
    return page.get_by_test_id("linked-account")


async def _open_accounts(page: Page) -> None:
    await open_account_menu(page)
    await (
        page.get_by_role("navigation", name="Main")
        .get_by_role("link", name="Linked accounts")
        .click()
    )
    await expect(page).to_have_url(re.compile(r"/me/accounts$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Linked accounts")


def _network(page: Page, network: str) -> Locator:
    """One network's entry in the picker of the list page."""
    return page.get_by_role("list", name="Networks").locator(f'li[data-network="{network}"]')


async def _pick_network(page: Page, network: str, heading: str) -> None:
    """From the list page, choose a network and continue to its add form."""
    await _network(page, network).get_by_role("link").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(heading)


async def _add_by_handle(page: Page, network: str, label: str, field: str, handle: str) -> Locator:
    """Add an account by its handle alone; the list item it became."""
    await _open_accounts(page)
    await _pick_network(page, network, f"Add your {label} account")
    form = page.get_by_role("region", name="Your handle")
    await form.get_by_label(field).fill(handle)
    await form.get_by_role("button", name="Add").click()
    await expect(page).to_have_url(re.compile(r"/me/accounts$"))
    return _accounts(page).filter(has=page.get_by_text(label, exact=True))


async def _order(page: Page) -> list[str]:
    return [
        (await item.locator("strong").inner_text()).strip() for item in await _accounts(page).all()
    ]


async def test_accounts_added_by_handle_are_listed_unverified_with_their_links(
    page: Page, shots: Path
) -> None:
    await sign_up(page, new_person("Ada Lovelace"))
    await _open_accounts(page)
    await expect(page.get_by_text("No linked accounts yet.")).to_be_visible()

    github = await _add_by_handle(page, "github", "GitHub", "Username", "@octocat")
    whatsapp = await _add_by_handle(
        page, "whatsapp", "WhatsApp", "Phone number", "+39 06 6982 0000"
    )
    website = await _add_by_handle(page, "website", "Website", "Address", "example.com/ada/")

    # A page its owner writes links on can link back; a messenger's contact link cannot.
    expected = [
        (github, "@octocat", "https://github.com/octocat", True),
        (whatsapp, "+39 06 6982 0000", "https://wa.me/390669820000", False),
        (website, "example.com/ada/", "https://example.com/ada/", True),
    ]
    for item, shown, href, by_link in expected:
        await expect(item).to_have_count(1)
        await expect(item).to_have_attribute("data-status", "unverified")
        await expect(item.get_by_text("unverified", exact=True)).to_be_visible()
        link = item.get_by_role("link", name=shown, exact=True)
        await expect(link).to_have_attribute("href", href)
        await expect(link).to_have_attribute("target", "_blank")
        await expect(link).to_have_attribute("rel", re.compile(r"\bnoopener\b"))
        await expect(item.get_by_role("button", name="Verify by link")).to_have_count(
            1 if by_link else 0
        )
    assert await _order(page) == ["GitHub", "WhatsApp", "Website"]
    await screenshot(page, shots / "accounts.png")

    await page.set_viewport_size(PHONE)
    await page.reload()
    await expect(_accounts(page)).to_have_count(3)
    await screenshot(page, shots / "accounts-phone.png")
    sizes = await page.evaluate(
        "({scroll: document.scrollingElement.scrollWidth, inner: window.innerWidth})"
    )
    assert sizes["scroll"] <= sizes["inner"], f"the list scrolls sideways on a phone: {sizes}"
    for item in await _accounts(page).all():
        box = await item.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]


async def test_a_mistyped_handle_shows_the_message_on_the_form_and_keeps_it(
    page: Page, console: Console
) -> None:
    console.expect_status(422)
    await sign_up(page, new_person("Charles Babbage"))
    await _open_accounts(page)
    await _pick_network(page, "github", "Add your GitHub account")
    form = page.get_by_role("region", name="Your handle")
    field = form.get_by_label("Username")
    await field.fill("-octocat-")
    await form.get_by_role("button", name="Add").click()

    await expect(page.get_by_role("heading", level=1)).to_have_text("Add your GitHub account")
    await expect(page.get_by_role("alert")).to_have_text(
        "A GitHub username has at most 39 letters, digits and single hyphens, and does not "
        "start or end with a hyphen."
    )
    await expect(field).to_have_value("-octocat-")
    await expect(field).to_have_attribute("aria-invalid", "true")
    await expect(field).to_have_accessible_description(re.compile("A GitHub username"))

    # Corrected in place, the same form adds it.
    await field.fill("octocat")
    await form.get_by_role("button", name="Add").click()
    await expect(page).to_have_url(re.compile(r"/me/accounts$"))
    await expect(_accounts(page)).to_have_count(1)

    await _pick_network(page, "website", "Add your Website account")
    form = page.get_by_role("region", name="Your handle")
    await form.get_by_label("Address").fill("http://10.0.0.1:8000/")
    await form.get_by_role("button", name="Add").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "This web address is on a private network or this computer: give a public one."
    )
    await expect(form.get_by_label("Address")).to_have_value("http://10.0.0.1:8000/")
    await page.goto("/me/accounts")
    await expect(_accounts(page)).to_have_count(1)


async def test_accounts_are_reordered_and_removed_in_place(page: Page) -> None:
    await sign_up(page, new_person("Alan Kay"))
    for network, label, field, handle in (
        ("github", "GitHub", "Username", "alan-kay"),
        ("gitlab", "GitLab", "Username", "alan.kay"),
        ("website", "Website", "Address", "https://example.com/"),
    ):
        await _add_by_handle(page, network, label, field, handle)
    assert await _order(page) == ["GitHub", "GitLab", "Website"]
    await page.evaluate("window.stillTheSamePage = true")

    await page.get_by_role("button", name="Move up: Website example.com").click()
    await expect(_accounts(page).locator("strong")).to_have_text(["GitHub", "Website", "GitLab"])
    await page.get_by_role("button", name="Move down: GitHub @alan-kay").click()
    await expect(_accounts(page).locator("strong")).to_have_text(["Website", "GitHub", "GitLab"])
    # The first cannot go higher, the last no lower: nothing moves.
    await page.get_by_role("button", name="Move up: Website example.com").click()
    await page.get_by_role("button", name="Move down: GitLab @alan.kay").click()
    await expect(_accounts(page).locator("strong")).to_have_text(["Website", "GitHub", "GitLab"])
    assert await page.evaluate("window.stillTheSamePage === true"), "the page was reloaded"

    await page.reload()
    await expect(_accounts(page).locator("strong")).to_have_text(["Website", "GitHub", "GitLab"])
    await page.evaluate("window.stillTheSamePage = true")

    removals: list[Request] = []
    page.on("request", lambda r: removals.append(r) if r.url.endswith("/remove") else None)
    # Removing asks first, in a dialog, with the keyboard alone.
    unlink = page.get_by_role("button", name="Unlink: GitHub @alan-kay")
    dialog = page.get_by_role("dialog")
    cancel = dialog.get_by_role("button", name="Cancel")
    await unlink.focus()
    await page.keyboard.press("Enter")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_have_accessible_name(
        "Remove your GitHub account @alan-kay from your card?"
    )
    await expect(cancel).to_be_focused()  # the safe answer comes first
    await page.keyboard.press("Enter")
    await expect(dialog).to_be_hidden()
    await expect(unlink).to_be_focused()
    await expect(_accounts(page)).to_have_count(3)

    await page.keyboard.press("Enter")
    await expect(cancel).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(unlink).to_be_focused()
    await expect(_accounts(page)).to_have_count(3)
    assert removals == [], "a question answered no still sent the removal"

    await page.keyboard.press("Enter")
    await page.keyboard.press("Tab")
    await expect(dialog.get_by_role("button", name="Unlink")).to_be_focused()
    await page.keyboard.press("Enter")
    toast = page.get_by_role("status").filter(has_text="The account is unlinked.")
    await expect(toast).to_be_visible()
    await expect(_accounts(page).locator("strong")).to_have_text(["Website", "GitLab"])
    assert len(removals) == 1
    assert await page.evaluate("window.stillTheSamePage === true"), "the page was reloaded"
    await expect(toast).to_be_hidden(timeout=10_000)  # it goes away by itself

    await page.reload()
    await expect(_accounts(page).locator("strong")).to_have_text(["Website", "GitLab"])
    await expect(page.get_by_role("button", name="Unlink: GitHub @alan-kay")).to_have_count(0)


async def _no_web_fonts(route: Route) -> None:
    await route.fulfill(status=200, content_type="text/css", body="")


async def test_an_openid_connect_account_is_linked_through_the_provider(
    page: Page, context: BrowserContext, oidc_provider: OIDCProvider, shots: Path
) -> None:
    # The provider's development pages import a web font; this machine has no Internet.
    await context.route("https://fonts.googleapis.com/**", _no_web_fonts)
    await sign_up(page, new_person("Grace Hopper"))
    await _open_accounts(page)
    await _pick_network(page, "oidc", "Add your OpenID Connect account")
    await page.get_by_role("button", name=f"Sign in with {PROVIDER_LABEL}").click()

    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Continue on the network's site"
    )
    await page.get_by_role("button", name="Continue").click()
    await expect(page).to_have_url(re.compile("^" + re.escape(oidc_provider.issuer) + "/"))

    login = secrets.token_hex(4)
    await page.get_by_placeholder("Enter any login").fill(login)
    await page.get_by_placeholder("and password").fill("any password")
    await page.get_by_role("button", name="Sign-in").click()
    await page.get_by_role("button", name="Continue").click()

    await expect(page).to_have_url(re.compile(r"/me/accounts\?linked=1$"))
    await expect(page.get_by_role("status")).to_have_text("The account is linked and verified.")
    account = _accounts(page)
    await expect(account).to_have_count(1)
    await expect(account).to_have_attribute("data-status", "verified")
    await expect(account.get_by_text("verified", exact=True)).to_be_visible()
    host = oidc_provider.issuer.split("://", 1)[1]
    await expect(account).to_contain_text(f"{login}@{host}")
    await expect(account.get_by_role("button", name="Check")).to_be_visible()
    await screenshot(page, shots / "accounts-oidc.png")

    # The check asks the provider, through htmx, and the account stays verified.
    await account.get_by_role("button", name="Check").click()
    await expect(account).to_have_attribute("data-status", "verified")


async def test_an_xmpp_account_is_linked_by_signing_in(
    page: Page, console: Console, xmpp_server: XMPPServer
) -> None:
    console.expect_status(422)
    password = secrets.token_urlsafe(12)
    jid = xmpp_server.register(f"grace{secrets.token_hex(3)}", password)
    await sign_up(page, new_person("Grace Hopper"))
    await _open_accounts(page)
    await _pick_network(page, "xmpp", "Add your XMPP account")

    form = page.get_by_role("region", name="Verified, by signing in")
    await form.get_by_label("XMPP address").fill(jid)
    await form.get_by_label("Password").fill("not the password")
    await form.get_by_role("button", name="Sign in and link").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "The XMPP server refused this address or password."
    )
    form = page.get_by_role("region", name="Verified, by signing in")
    await expect(form.get_by_label("XMPP address")).to_have_value(jid)
    await expect(form.get_by_label("Password")).to_have_value("")

    await form.get_by_label("Password").fill(password)
    await form.get_by_role("button", name="Sign in and link").click()
    await expect(page).to_have_url(re.compile(r"/me/accounts\?linked=1$"))
    account = _accounts(page)
    await expect(account).to_have_count(1)
    await expect(account).to_have_attribute("data-status", "verified")
    await expect(account.get_by_text(jid, exact=True)).to_be_visible()
    await expect(account.get_by_text("verified", exact=True)).to_be_visible()


async def test_an_account_is_added_with_the_keyboard_alone(page: Page) -> None:
    await sign_up(page, new_person("Hedy Lamarr"))
    await page.goto("/me/accounts")

    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("main")).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Find a network")).to_be_focused()
    await page.keyboard.type("GitHub")
    await expect(page.get_by_role("list", name="Networks").get_by_role("link")).to_have_count(1)
    await page.keyboard.press("Enter")

    await expect(page.get_by_role("heading", level=1)).to_have_text("Add your GitHub account")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Username")).to_be_focused()
    await page.keyboard.type("hedy-lamarr")
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Add")).to_be_focused()
    await page.keyboard.press("Enter")

    await expect(page).to_have_url(re.compile(r"/me/accounts$"))
    account = _accounts(page)
    await expect(account).to_have_count(1)
    await expect(account.get_by_role("link", name="@hedy-lamarr")).to_have_attribute(
        "href", "https://github.com/hedy-lamarr"
    )


async def test_the_network_picker_narrows_as_one_types(page: Page, shots: Path) -> None:
    await sign_up(page, new_person("Grace Hopper"))
    await page.goto("/me/accounts")
    networks = page.get_by_role("list", name="Networks")
    links = networks.get_by_role("link")
    count = await links.count()
    assert count > 30
    # The common networks first, each with its icon.
    first = [await _network_name(link) for link in (await links.all())[:3]]
    assert first == ["whatsapp", "telegram", "instagram"]
    github = _network(page, "github")
    await expect(github.locator("svg.net-icon use")).to_have_attribute(
        "href", re.compile(r"/static/vendor/networks\.svg\?v=.+#net-github$")
    )
    assert await github.locator("svg.net-icon").evaluate("svg => svg.getBBox().width") > 0
    await screenshot(page, shots / "network-picker-all.png")

    search = page.get_by_label("Find a network")
    await search.fill("mas")  # Mastodon
    await expect(links).to_have_count(1)
    await expect(_network(page, "mastodon")).to_be_visible()
    await search.fill("no such network")
    await expect(links).to_have_count(0)
    await expect(
        page.get_by_role("status").filter(has_text="No network matches your search.")
    ).to_be_visible()
    await search.fill("")
    await expect(links).to_have_count(count)
    await expect(page.get_by_text("No network matches your search.")).to_be_hidden()

    # Accents and capitals do not count.
    await search.press_sequentially("Télé")
    await expect(links).to_have_count(1)
    await expect(_network(page, "telegram")).to_be_visible()
    await screenshot(page, shots / "network-picker.png")

    await search.press("ArrowDown")
    await expect(_network(page, "telegram").get_by_role("link")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(r"/me/accounts/add\?network=telegram$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Add your Telegram account")


async def _network_name(link: Locator) -> str:
    return await link.evaluate("a => a.closest('li').dataset.network")


async def test_the_network_picker_works_without_javascript(
    browser: Browser, server: LiveServer
) -> None:
    async with scriptless_page(browser, server) as page:
        await sign_up(page, new_person("Margaret Hamilton"))
        await page.goto("/me/accounts")
        await expect(page.get_by_label("Find a network")).to_be_hidden()
        links = page.get_by_role("list", name="Networks").get_by_role("link")
        await expect(links).to_have_count(len(connectors.registry()))
        await _pick_network(page, "website", "Add your Website account")
        await expect(page).to_have_url(re.compile(r"/me/accounts/add\?network=website$"))


async def test_an_account_is_removed_without_javascript_after_a_question(
    browser: Browser, server: LiveServer
) -> None:
    async with scriptless_page(browser, server) as page:
        await sign_up(page, new_person("Mary Somerville"))
        item = await _add_by_handle(page, "github", "GitHub", "Username", "mary-s")
        added = page.get_by_role("status").filter(has_text="marked unverified")
        await expect(added).to_be_visible()  # said once, after the redirect
        # The button opens the question; only the button under it removes the account.
        await item.locator("summary", has_text="Unlink").click()
        question = item.get_by_text("Remove your GitHub account @mary-s from your card?")
        await expect(question).to_be_visible()
        await expect(_accounts(page)).to_have_count(1)
        await item.get_by_role("button", name="Unlink").click()
        await expect(page).to_have_url(re.compile(r"/me/accounts$"))
        await expect(page.get_by_role("status")).to_have_text("The account is unlinked.")
        await expect(_accounts(page)).to_have_count(0)
        await page.reload()
        await expect(page.get_by_text("The account is unlinked.")).to_have_count(0)


async def test_a_handle_is_corrected_in_its_row(page: Page, console: Console, shots: Path) -> None:
    console.expect_status(422)
    await sign_up(page, new_person("Ada Lovelace"))
    await _add_by_handle(page, "github", "GitHub", "Username", "octocat-typo")
    await _add_by_handle(page, "gitlab", "GitLab", "Username", "ada")
    await page.evaluate("window.stillTheSamePage = true")
    github = _accounts(page).first  # its text changes as it is edited
    edit = page.get_by_role("button", name="Edit: GitHub @octocat-typo")

    # Escape leaves the form as it came, and the focus back on Edit.
    await edit.click()
    field = page.get_by_role("textbox", name="GitHub: Username")
    await expect(field).to_be_focused()
    await expect(field).to_have_value("@octocat-typo")
    await field.fill("something else")
    await page.keyboard.press("Escape")
    await expect(field).to_have_count(0)
    await expect(edit).to_be_focused()
    await expect(github.get_by_role("link", name="@octocat-typo")).to_be_visible()

    # A handle the network would not take is refused next to the field, kept as typed.
    await edit.click()
    await field.fill("-octocat-")
    await page.get_by_role("button", name="Save").click()
    await expect(github.get_by_role("alert")).to_have_text(
        "A GitHub username has at most 39 letters, digits and single hyphens, and does not "
        "start or end with a hyphen."
    )
    await expect(field).to_have_value("-octocat-")
    await expect(field).to_have_attribute("aria-invalid", "true")
    await screenshot(page, shots / "accounts-edit-error.png")

    await field.fill("https://github.com/octocat")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#toasts")).to_contain_text("The handle is corrected.")
    await expect(github.get_by_role("link", name="@octocat", exact=True)).to_have_attribute(
        "href", "https://github.com/octocat"
    )
    await expect(page.get_by_role("button", name="Edit: GitHub @octocat")).to_be_focused()
    assert await _order(page) == ["GitHub", "GitLab"]
    assert await page.evaluate("window.stillTheSamePage === true"), "the page was reloaded"
    await page.reload()
    await expect(github.get_by_role("link", name="@octocat", exact=True)).to_be_visible()


async def test_a_handle_is_corrected_without_javascript(
    browser: Browser, server: LiveServer
) -> None:
    async with scriptless_page(browser, server) as page:
        await sign_up(page, new_person("Margaret Hamilton"))
        await _add_by_handle(page, "github", "GitHub", "Username", "mhamiltn")
        await page.get_by_role("button", name="Edit: GitHub @mhamiltn").click()
        await expect(page).to_have_url(re.compile(r"/me/accounts/\d+/edit$"))
        # Cancel is a link back to the list.
        await page.get_by_role("button", name="Cancel").click()
        await expect(page).to_have_url(re.compile(r"/me/accounts(\?focus=\d+)?$"))
        await page.get_by_role("button", name="Edit: GitHub @mhamiltn").click()
        field = page.get_by_role("textbox", name="GitHub: Username")
        await field.fill("@mhamilton")
        await page.get_by_role("button", name="Save").click()
        await expect(page).to_have_url(re.compile(r"/me/accounts$"))
        account = _accounts(page)
        await expect(account).to_have_count(1)
        await expect(account.get_by_role("link", name="@mhamilton", exact=True)).to_be_visible()


@pytest.mark.presentation
@pytest.mark.parametrize("language", ["en", "it", "fr"])
async def test_the_rows_fit_a_phone_in_every_language(
    page: Page, context: BrowserContext, server: LiveServer, shots: Path, language: str
) -> None:
    await sign_up(page, new_person("Ada Lovelace"))
    for network, label, field, handle in (
        ("github", "GitHub", "Username", "ada-lovelace-analytical-engine"),
        ("whatsapp", "WhatsApp", "Phone number", "+39 06 6982 0000"),
        ("website", "Website", "Address", "https://example.com/a/rather/long/address/"),
    ):
        await _add_by_handle(page, network, label, field, handle)
    await context.add_cookies([{"name": "portal_lang", "value": language, "url": server.url}])
    for size in ({"width": 1280, "height": 900}, PHONE):
        await page.set_viewport_size(size)
        await page.goto("/me/accounts")
        await expect(page.locator("html")).to_have_attribute("lang", language)
        await screenshot(page, shots / f"accounts-{language}-{size['width']}.png")
        await no_sideways_scroll(page)
        await _each_action_in_its_row(page)
    # The row being edited too.
    edit = _accounts(page).first.locator('.linked-actions a[href$="/edit"]')
    await edit.click()
    await expect(page.locator("form.handle-form input[name=handle]")).to_be_focused()
    await screenshot(page, shots / f"accounts-{language}-edit-390.png")
    await no_sideways_scroll(page)
    await _each_action_in_its_row(page)


async def _each_action_in_its_row(page: Page) -> None:
    """No control of an account's row reaches out of the row; the groups of actions keep
    their buttons on one line (a field may take a line of its own)."""
    outside = await page.evaluate(
        """() => [...document.querySelectorAll('[data-testid="linked-account"]')].flatMap((row) => {
          const box = row.getBoundingClientRect();
          return [...row.querySelectorAll("button, select, input:not([type=hidden]), a")]
            .filter((e) => {
              const r = e.getBoundingClientRect();
              return r.width && (r.left < box.left - 0.5 || r.right > box.right + 0.5);
            })
            .map((e) => `${e.outerHTML.slice(0, 80)} overflows its row`);
        })"""
    )
    split = await page.evaluate(
        """() => [...document.querySelectorAll(
            ".linked-actions form.inline, .linked-actions [role=group], .handle-form [role=group]")]
          .filter((group) => {
            const tops = [...group.querySelectorAll("button, select, a")]
              .map((e) => e.getBoundingClientRect())
              .filter((box) => box.width)  // not what is not shown (a <noscript>'s button)
              .map((box) => Math.round(box.top));
            return new Set(tops).size > 1;
          })
          .map((group) => `${group.outerHTML.slice(0, 80)} wraps`)"""
    )
    assert not outside + split, "\n".join(outside + split)


DESKTOP: ViewportSize = {"width": 1280, "height": 900}


def _messengers(page: Page) -> Locator:
    return page.locator("#reach-form .reach-item")


async def _messenger_order(page: Page) -> list[str]:
    return [
        (await item.locator("strong").inner_text()).strip()
        for item in await _messengers(page).all()
    ]


async def test_the_messengers_one_is_reached_on_are_ordered_with_and_without_script(
    page: Page, browser: Browser, server: LiveServer, shots: Path
) -> None:
    person = new_person("Mary Jackson")
    await sign_up(page, person)
    for network, label, field, handle in (
        ("whatsapp", "WhatsApp", "Phone number", "+39 06 6982 0000"),
        ("github", "GitHub", "Username", "mary-jackson"),
        ("signal", "Signal", "Username or phone number", "mary.42"),
        ("viber", "Viber", "Phone number", "+39 06 6982 0001"),
    ):
        await _add_by_handle(page, network, label, field, handle)
    await page.goto("/me")
    await page.get_by_role("link", name="How people reach me").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("How people reach me")
    # GitHub is no messenger; the others come in the card's order, all ticked.
    await expect(_messengers(page)).to_have_count(3)
    assert await _messenger_order(page) == ["WhatsApp", "Signal", "Viber"]

    # With script (htmx): Viber goes up, Signal is unticked, members may write; saved in place.
    await page.get_by_role("button", name="Move Viber up").click()
    await expect(_messengers(page).locator("strong")).to_have_text(["WhatsApp", "Viber", "Signal"])
    await _messengers(page).filter(has_text="Signal").get_by_role("checkbox").uncheck()
    await page.get_by_label("Anyone signed in here", exact=False).check()
    await page.get_by_role("button", name="Save").click()
    # Saved twice within a toast's life (the move, then Save): one toast says so, not two.
    await expect(page.locator("#toasts .toast:not(.leaving)")).to_have_text(
        ["How people reach you is saved."]
    )
    await expect(_messengers(page).filter(has_text="Signal")).to_have_class(re.compile(r"\boff\b"))
    for size, name in ((PHONE, "390"), (DESKTOP, "1280")):
        await page.set_viewport_size(size)
        await no_sideways_scroll(page)
        await screenshot(page, shots / f"reach-en-{name}.png")

    # Without script: the same form, a whole page each time.
    async with scriptless_page(browser, server) as plain:
        await plain.goto("/signin")
        await sign_in(plain, person)
        await plain.goto("/me/reach")
        assert await _messenger_order(plain) == ["WhatsApp", "Viber", "Signal"]
        await plain.get_by_role("button", name="Move WhatsApp down").click()
        await expect(plain.get_by_text("How people reach you is saved.")).to_be_visible()
        await expect(_messengers(plain).locator("strong")).to_have_text(
            ["Viber", "WhatsApp", "Signal"]
        )
        await expect(plain.get_by_label("Anyone signed in here", exact=False)).to_be_checked()

    for language in ("it", "fr"):
        await page.context.add_cookies(
            [{"name": "portal_lang", "value": language, "url": server.url}]
        )
        for size, name in ((PHONE, "390"), (DESKTOP, "1280")):
            await page.set_viewport_size(size)
            await page.goto("/me/reach")
            await expect(page.locator("html")).to_have_attribute("lang", language)
            await no_sideways_scroll(page)
            await screenshot(page, shots / f"reach-{language}-{name}.png")
