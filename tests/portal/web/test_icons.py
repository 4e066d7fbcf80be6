"""The networks' icons: the sprite `make assets` builds from simple-icons, one symbol per
network, and the pages that draw them beside each linked account and in the network picker."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import connectors
from portal.web import icons
from tests.fixtures.app import post_form
from tests.portal.domain.people import account, person

HTML = {"accept": "text/html"}
ROOT = Path(__file__).resolve().parents[3]
SIMPLE_ICONS = ROOT / "node_modules" / "simple-icons" / "icons"
SPRITE = ROOT / "portal" / "web" / "static" / "vendor" / icons.SPRITE
SVG = "{http://www.w3.org/2000/svg}"


def _symbols(text: str) -> dict[str, ET.Element]:
    root = ET.fromstring(text)  # noqa: S314 - a file this checkout built
    return {s.get("id", ""): s for s in root.iter(f"{SVG}symbol")}


def test_every_network_has_an_icon_in_the_table_and_no_other() -> None:
    assert set(icons.SLUGS) == set(connectors.registry())
    assert set(icons.COMMON) <= set(icons.SLUGS)
    assert len(set(icons.COMMON)) == len(icons.COMMON)


def test_the_sprite_make_assets_built_has_one_symbol_per_network() -> None:
    assert SPRITE.is_file(), "run `make assets`"
    symbols = _symbols(SPRITE.read_text())
    assert set(symbols) == {f"net-{name}" for name in connectors.registry()}
    for name, symbol in symbols.items():
        assert symbol.get("viewBox") == "0 0 24 24", name
        assert len(symbol), name  # something to draw
        # The text's colour, never a brand colour fixed for one theme.
        for part in symbol.iter():
            for attribute in ("fill", "stroke"):
                assert part.get(attribute) in (None, "none", "currentColor"), (name, part.attrib)


@pytest.mark.skipif(not SIMPLE_ICONS.is_dir(), reason="npm ci has not run")
def test_the_brand_icons_come_from_simple_icons_and_the_others_are_drawn(tmp_path: Path) -> None:
    output = tmp_path / "vendor" / "networks.svg"
    subprocess.run(
        [sys.executable, "-m", "portal.web.icons", str(SIMPLE_ICONS), str(output)],
        cwd=ROOT,
        check=True,
    )
    symbols = _symbols(output.read_text())
    github = re.search(r' d="([^"]+)"', (SIMPLE_ICONS / "github.svg").read_text())
    assert github
    (path,) = symbols["net-github"].iter(f"{SVG}path")
    assert path.get("d") == github.group(1)
    for name, slug in icons.SLUGS.items():
        assert (slug is None) or (SIMPLE_ICONS / f"{slug}.svg").is_file(), (name, slug)
    # LinkedIn is not in simple-icons: its initial in a circle.
    (letter,) = symbols["net-linkedin"].iter(f"{SVG}text")
    assert letter.text == "L"
    assert not list(symbols["net-email"].iter(f"{SVG}text"))  # an envelope, not a letter


def test_the_script_says_how_it_is_used() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "portal.web.icons"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "usage:" in done.stderr


def test_the_common_networks_come_first_then_the_rest_by_label() -> None:
    names = list(connectors.registry())  # by label
    ordered = icons.ordered(names, lambda name: name)
    assert ordered[: len(icons.COMMON)] == list(icons.COMMON)
    assert ordered[len(icons.COMMON) :] == [n for n in names if n not in icons.COMMON]


def _picker(page: str) -> list[tuple[str, str]]:
    grid = re.search(r'<ul id="network-list".*?</ul>', page, re.S)
    assert grid, "no network picker"
    return re.findall(
        r'<a href="(/me/accounts/add\?network=[^"]+)"><svg[^>]*><use href="[^"]*#net-([^"]+)"',
        grid.group(0),
    )


async def test_the_picker_lists_every_network_as_a_link_with_its_icon(signed_in) -> None:
    page = await signed_in.get("/me/accounts", headers=HTML)
    assert page.status_code == 200
    links = _picker(page.text)
    names = [name for _, name in links]
    assert names == icons.ordered(connectors.registry(), lambda name: name)
    assert all(href == f"/me/accounts/add?network={name}" for href, name in links)
    assert '<script src="/static/networks.js?v=' in page.text
    # Without JavaScript the filter stays out of sight; the links are the picker.
    assert re.search(r'<div class="network-filter" hidden>', page.text)
    script = await signed_in.get("/static/networks.js")
    assert script.status_code == 200
    assert 'normalize("NFD")' in script.text


async def test_the_picker_is_in_the_page_language(signed_in) -> None:
    page = await signed_in.get("/me/accounts", headers={**HTML, "accept-language": "fr"})
    assert "Chercher un réseau" in page.text
    assert 'data-message="Aucun réseau ne correspond à votre recherche."' in page.text


async def test_a_linked_account_shows_its_network_icon_on_each_page(signed_in) -> None:
    added = await post_form(signed_in, "/me/accounts", network="github", handle="ada")
    assert added.status_code == 303, added.text
    use = re.compile(
        r'<svg class="net-icon" aria-hidden="true"[^>]*>'
        r'<use href="/static/vendor/networks\.svg\?v=[^"#]+#net-github"/></svg>'
    )

    mine = await signed_in.get("/me/accounts", headers=HTML)
    linked = re.search(r'data-testid="linked-account".*?</li>', mine.text, re.S)
    assert linked and use.search(linked.group(0)) and "GitHub" in linked.group(0)

    number = (await signed_in.get("/api/v1/me")).json()["number"]
    card = await signed_in.get(f"/n/{number}", headers=HTML)
    entry = re.search(r'<li data-network="github">.*?</li>', card.text, re.S)
    assert entry and use.search(entry.group(0)) and "GitHub" in entry.group(0)

    share = await signed_in.get("/me/share", params={"as": "anyone"}, headers=HTML)
    preview = re.search(r'data-testid="card-preview">(.*?)</dl>', share.text, re.S)
    assert preview and use.search(preview.group(1)) and "GitHub: @ada" in preview.group(1)

    sprite = await signed_in.get("/static/vendor/networks.svg")
    assert sprite.status_code == 200
    assert sprite.headers["content-type"].startswith("image/svg+xml")
    assert 'id="net-github"' in sprite.text


async def test_search_results_show_each_account_with_its_network_icon(signed_in, db) -> None:
    someone = await person(db, "Zoë Ørsted", find_by_name=True)
    await account(db, someone, "mastodon", "@zoe@example.social")
    await account(db, someone, "linkedin", "zoe-orsted")
    await db.commit()
    found = await signed_in.get("/search", params={"q": "Zoe Orsted"}, headers=HTML)
    assert found.status_code == 200
    shown = re.findall(
        r'<li data-network="(\w+)"><svg class="net-icon" aria-hidden="true"[^>]*>'
        r'<use href="[^"]*#net-(\w+)"/></svg>([^<:]+):',
        found.text,
    )
    assert sorted(shown) == [
        ("linkedin", "linkedin", "LinkedIn"),
        ("mastodon", "mastodon", "Mastodon"),
    ]
