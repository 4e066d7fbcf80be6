"""The pages speak English, Italian and French."""

from __future__ import annotations

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from portal import i18n
from tests.fixtures.app import get_csrf

HTML = {"accept": "text/html"}


def _template_messages() -> set[str]:
    method_map = [("templates/**.html", "jinja2.ext:babel_extract")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    root = i18n.TRANSLATIONS_DIR.parents[1]
    return {message for _, _, message, _, _ in extract_from_dir(root, method_map, options)}


@pytest.mark.parametrize("language", [lang for lang in i18n.LANGUAGES if lang != i18n.DEFAULT])
def test_every_message_of_the_pages_is_translated(language):
    with (i18n.TRANSLATIONS_DIR / f"{language}.po").open("rb") as file:
        catalog = read_po(file, locale=language)
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    assert _template_messages() - translated == set()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("it-IT,it;q=0.9,en;q=0.5", "it"),
        ("de-DE, fr;q=0.8, en;q=0.7", "fr"),
        ("en-GB,en;q=0.9,it;q=0.8", "en"),
        ("ja, zh;q=0.5", "en"),
        ("it;q=0, fr;q=0.1", "fr"),
        ("fr;q=nonsense, it", "it"),
        ("", "en"),
    ],
)
async def test_the_browser_language_is_used(client, header, expected):
    response = await client.get("/", headers={**HTML, "accept-language": header})
    assert f'<html lang="{expected}">' in response.text


async def test_italian_and_french_pages(client):
    italian = await client.get("/", headers={**HTML, "accept-language": "it"})
    assert "Un solo numero per tutti i tuoi account" in italian.text
    french = await client.get("/signup", headers={**HTML, "accept-language": "fr"})
    assert "Créer mon compte" in french.text


async def test_the_chosen_language_wins_over_the_browser(client):
    token = await get_csrf(client, "/")
    response = await client.post(
        "/language", data={"csrf_token": token, "language": "fr", "next": "/signin"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/signin"
    page = await client.get("/signin", headers={**HTML, "accept-language": "it"})
    assert '<html lang="fr">' in page.text and "Se connecter" in page.text


async def test_an_unknown_language_is_refused(client):
    token = await get_csrf(client, "/")
    response = await client.post("/language", data={"csrf_token": token, "language": "xx"})
    assert response.status_code == 422
