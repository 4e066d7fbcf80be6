"""The pages speak English, Italian and French."""

from __future__ import annotations

import html
import io
import re
from datetime import UTC, datetime
from functools import cache

import httpx
import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from portal import i18n
from portal.domain import account as accounts
from portal.domain import number as numbers
from tests.fixtures.app import api_sign_up, api_token, get_csrf, post_form, web_sign_up

HTML = {"accept": "text/html"}
TRANSLATED = [lang for lang in i18n.LANGUAGES if lang != i18n.DEFAULT]
_PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?([diouxXeEfFgGcrsa])")


@cache
def _catalog(language: str) -> Catalog:
    with (i18n.TRANSLATIONS_DIR / f"{language}.po").open("rb") as file:
        return read_po(file, locale=language)


@cache
def _messages() -> dict[str | tuple[str, ...], str]:
    """Every message of the templates and of the code, with where it is."""
    return {message: f"{name}:{line}" for name, line, message, _, _ in i18n.extract()}


def _untranslated(catalog: Catalog, messages: dict[str | tuple[str, ...], str]) -> dict:
    """The messages ``catalog`` lacks a translation of, or any plural form of one."""

    def complete(message) -> bool:
        if not message.id or message.fuzzy:
            return False
        if isinstance(message.id, tuple):
            forms = message.string if isinstance(message.string, tuple) else (message.string,)
            return len(forms) == catalog.num_plurals and all(forms)
        return bool(message.string)

    translated = {message.id for message in catalog if complete(message)}
    return {m: where for m, where in messages.items() if m not in translated}


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_of_the_pages_is_translated(language):
    assert _untranslated(_catalog(language), _messages()) == {}


def _po(language: str, entries: str) -> Catalog:
    """A catalog of ``entries`` under the header of our ``language`` catalog."""
    rule = _catalog(language).plural_forms
    header = f'msgid ""\nmsgstr ""\n"Language: {language}\\n"\n"Plural-Forms: {rule}\\n"\n\n'
    return read_po(io.BytesIO((header + entries).encode()), locale=language)


def test_a_missing_plural_form_counts_as_untranslated():
    catalog = _po(
        "fr",
        'msgid "%(num)s day"\nmsgid_plural "%(num)s days"\n'
        'msgstr[0] "%(num)s jour"\nmsgstr[1] ""\n\n'
        'msgid "Hello"\nmsgstr "Bonjour"\n',
    )
    counted = ("%(num)s day", "%(num)s days")
    messages = {counted: "here:1", "Hello": "here:2"}
    assert _untranslated(catalog, messages) == {counted: "here:1"}
    catalog[counted].string = ("%(num)s jour", "%(num)s jours")
    assert _untranslated(catalog, messages) == {}


@pytest.mark.parametrize(("language", "rule"), [("it", "(n != 1)"), ("fr", "(n > 1)")])
def test_the_catalogs_count_plurals_by_their_language(language, rule):
    """Italian has "0 giorni", French "0 jour": each catalog says so in its header."""
    catalog = _catalog(language)
    assert (catalog.num_plurals, catalog.plural_expr) == (2, rule)


def test_the_code_messages_are_extracted():
    messages = _messages()
    assert messages["There is nothing at this address."].startswith("portal/app.py")
    assert messages["Website"].startswith("portal/")
    assert any(where.startswith("portal/domain/") for where in messages.values())


@pytest.mark.parametrize("language", list(i18n.LANGUAGES))
def test_an_empty_message_stays_empty(language):
    assert i18n.translate(language, "") == ""
    assert i18n.translate(language, "", {"name": "Ada"}) == ""


def test_every_error_class_is_an_extraction_keyword():
    import portal.app  # noqa: F401  (every module that defines an error is imported)
    from portal.errors import PortalError

    def subclasses(cls: type[PortalError]) -> list[type[PortalError]]:
        return [cls, *(sub for child in cls.__subclasses__() for sub in subclasses(child))]

    assert sorted(i18n.ERROR_CLASSES) == sorted({cls.__name__ for cls in subclasses(PortalError)})


def _filled(text: str) -> str:
    """``text`` with each placeholder filled by a value of its type; raises if it cannot."""
    values: dict[str, object] = {}
    for name, kind in _PLACEHOLDER.findall(text):
        values[name] = 7 if kind in "diouxXc" else 1.5 if kind in "eEfFgG" else "Ada"
    return text % values if values else text


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_translation_has_the_placeholders_of_its_message(language):
    assert _wrong_placeholders(_catalog(language)) == {}


def test_a_plural_form_without_its_count_is_found():
    catalog = _po(
        "it",
        'msgid "%(num)s day left"\nmsgid_plural "%(num)s days left"\n'
        'msgstr[0] "un giorno"\nmsgstr[1] "%(num)s giorni"\n\n'
        'msgid "%(num)s hour"\nmsgid_plural "%(num)s hours"\n'
        'msgstr[0] "%(num)s ora"\nmsgstr[1] "%(num)s ore"\n',
    )
    assert _wrong_placeholders(catalog) == {"%(num)s day left": "un giorno"}


def _wrong_placeholders(catalog: Catalog) -> dict[str, str]:
    """Translations (any plural form of one) whose placeholders are not their message's."""
    language = str(catalog.locale)
    wrong = {}
    for message in catalog:
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if isinstance(message.id, tuple) and len(strings) != catalog.num_plurals:
            wrong[ids[0]] = f"{len(strings)} plural forms, {language} has {catalog.num_plurals}"
            continue
        expected = {name for text in ids for name in _PLACEHOLDER.findall(text)}
        for text in strings:
            if "%(" not in ids[0] and "%(" not in text:
                continue
            if set(_PLACEHOLDER.findall(text)) != expected:
                wrong[ids[0]] = text
                continue
            try:
                _filled(text)
            except (KeyError, ValueError, TypeError) as error:
                wrong[ids[0]] = f"{text}: {error}"
    return wrong


@pytest.mark.parametrize(
    ("language", "one", "two"),
    [
        ("en", "1 invitation can still be used.", "2 invitations can still be used."),
        ("it", "1 invito può ancora essere usato.", "2 inviti possono ancora essere usati."),
        ("fr", "1 invitation peut encore servir.", "2 invitations peuvent encore servir."),
    ],
)
async def test_invitations_left_are_counted_in_words(signed_in, language, one, two):
    signed_in.cookies.set(i18n.LANG_COOKIE, language)
    for expected in (one, two):
        made = await post_form(signed_in, "/me/invites", page="/me/invites")
        assert made.status_code == 201, made.text
        assert expected in made.text and "%(" not in made.text


def _english_sentences(language: str) -> set[str]:
    """The messages of four words or more that read differently in ``language``."""
    sentences = set()
    for message in _catalog(language):
        if isinstance(message.id, str) and message.string and message.string != message.id:
            plain = message.id.split("%(")[0].strip()
            if len(plain.split()) >= 4:
                sentences.add(plain)
    return sentences


def _english_in(language: str, page: str) -> set[str]:
    text = html.unescape(page)
    return {sentence for sentence in _english_sentences(language) if sentence in text}


@pytest.mark.parametrize("language", TRANSLATED)
async def test_errors_and_notifications_speak_the_reader_language(app, signed_in, language):
    pages = {}
    browser = {**HTML, "accept-language": language}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://portal.test") as stranger:
        pages["404"] = await stranger.get("/nowhere", headers=browser)
        pages["lookup"] = await stranger.get("/lookup?number=12a4", headers=browser)
        pages["too short"] = await stranger.get("/lookup?number=123", headers=browser)
        stranger.cookies.set(i18n.LANG_COOKIE, language)
        pages["sign-up"] = await web_sign_up(stranger, email="cy@example.org", password="short")
        await api_sign_up(stranger, email="bob@example.org", display_name="Bob")
        bob = {"authorization": f"Bearer {await api_token(stranger, email='bob@example.org')}"}
        number = (await signed_in.get("/api/v1/me")).json()["number"]
        asked = await stranger.post("/api/v1/contacts", json={"number": number}, headers=bob)
        assert asked.status_code == 201, asked.text
    signed_in.cookies.set(i18n.LANG_COOKIE, language)
    pages["notifications"] = await signed_in.get("/me/notifications", headers=HTML)
    statuses = {name: page.status_code for name, page in pages.items()}
    assert statuses == {
        "404": 404,
        "lookup": 422,
        "too short": 422,
        "sign-up": 422,
        "notifications": 200,
    }
    assert {name: _english_in(language, page.text) for name, page in pages.items()} == {
        name: set() for name in pages
    }
    expected = {
        "404": ("There is nothing at this address.", {}),
        "lookup": ("A portal number has only digits (spaces, dashes and dots are fine).", {}),
        "too short": (
            "A portal number has %(min)d to %(max)d digits; this one has %(count)d.",
            {"min": numbers.MIN_LENGTH, "max": numbers.MAX_LENGTH, "count": 3},
        ),
        "sign-up": (
            "Choose a password of at least %(min)d characters.",
            {"min": accounts.MIN_PASSWORD},
        ),
        "notifications": ("%(name)s asked to become your contact.", {"name": "Bob"}),
    }
    for name, (message, params) in expected.items():
        translated = i18n.translate(language, message, params)
        assert translated != (message % params if params else message)
        assert translated in html.unescape(pages[name].text), name


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", "Enter a portal number."),
        ("it-IT,it;q=0.9", "Inserisci un numero portal."),
        ("fr", "Saisissez un numéro Portal."),
    ],
)
async def test_api_errors_speak_the_accept_language(client, header, expected):
    response = await client.get("/api/v1/numbers/%20", headers={"accept-language": header})
    assert response.status_code == 422
    assert response.json()["detail"] == expected


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


def _without_sprite(page: str) -> str:
    """The page with each network icon cut down to the name of its symbol."""
    return re.sub(r'<svg class="net-icon"[^>]*><use href="[^"#]*', "", page)


@pytest.mark.parametrize(
    ("language", "label"), [("en", "Website"), ("it", "Sito web"), ("fr", "Site web")]
)
async def test_the_website_label_is_translated(signed_in, language, label):
    added = await post_form(
        signed_in, "/me/accounts", network="website", handle="https://ada.example.org/"
    )
    assert added.status_code == 303, added.text
    signed_in.cookies.set(i18n.LANG_COOKIE, language)
    page = await signed_in.get("/me/accounts", headers=HTML)
    # The network's icon, then its label: <svg …><use href="…#net-website"/></svg>Website
    icon = '#net-website"/></svg>'
    assert f"<strong>{icon}{label}</strong>" in _without_sprite(page.text)
    number = (await signed_in.get("/api/v1/me")).json()["number"]
    mine = await signed_in.get(f"/n/{number}", headers=HTML)
    assert f'<span class="network">{icon}{label}</span>' in _without_sprite(mine.text)


_RAW = ("%(", "{{", "{%", "%s", "%d")
"""What a sentence shows when its placeholders were not filled."""


async def _a_request_from_bob(app, signed_in) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://portal.test") as bob:
        await api_sign_up(bob, email="bob@example.org", display_name="Bob")
        headers = {"authorization": f"Bearer {await api_token(bob, email='bob@example.org')}"}
        number = (await signed_in.get("/api/v1/me")).json()["number"]
        asked = await bob.post("/api/v1/contacts", json={"number": number}, headers=headers)
        assert asked.status_code == 201, asked.text


@pytest.mark.parametrize("language", TRANSLATED)
async def test_no_page_shows_an_unfilled_placeholder(app, signed_in, language):
    await _a_request_from_bob(app, signed_in)
    signed_in.cookies.set(i18n.LANG_COOKIE, language)
    made = await post_form(signed_in, "/me/tokens", page="/me/tokens", name="backup")
    assert made.status_code in (200, 201), made.text
    pages = {"token made": made, "invite made": None}
    pages["invite made"] = await post_form(signed_in, "/me/invites", page="/me/invites")
    for path in (
        "/",
        "/me",
        "/me/tokens",
        "/me/invites",
        "/me/contacts",
        "/me/contacts/blocked",
        "/me/notifications",
        "/me/phone",
        "/me/discover",
        "/search?q=bob",
    ):
        pages[path] = await signed_in.get(path, headers=HTML)
    assert {name: page.status_code for name, page in pages.items()} == {
        name: 201 if name == "invite made" else 200 for name in pages
    }
    raw = {
        name: [mark for mark in _RAW if mark in html.unescape(page.text)]
        for name, page in pages.items()
    }
    assert raw == {name: [] for name in pages}
    assert all(f'<html lang="{language}">' in page.text for page in pages.values())


@pytest.mark.parametrize(
    ("language", "made", "expires", "asked"),
    [
        ("it", "proprio ora", "Scade tra 1 giorno.", "Richiesta inviata proprio ora"),
        ("fr", "à l'instant", "Elle expire dans 1 jour.", "Demande envoyée à l'instant"),
    ],
)
async def test_times_are_said_in_the_reader_language(
    app, signed_in, language, made, expires, asked
):
    await _a_request_from_bob(app, signed_in)
    signed_in.cookies.set(i18n.LANG_COOKIE, language)
    await post_form(signed_in, "/me/tokens", page="/me/tokens", name="backup")
    shown = {
        "tokens": (await signed_in.get("/me/tokens", headers=HTML)).text,
        "notifications": (await signed_in.get("/me/notifications", headers=HTML)).text,
        "contacts": (await signed_in.get("/me/contacts", headers=HTML)).text,
        "invite": (await post_form(signed_in, "/me/invites", page="/me/invites")).text,
    }
    time = re.compile(
        r'<time datetime="(\d{4}-\d\d-\d\dT[^"]+\+00:00)" title="([^"]+)">([^<]+)</time>'
    )
    said = {
        name: [(html.unescape(t), html.unescape(w)) for _, t, w in time.findall(page)]
        for name, page in shown.items()
    }
    year = str(datetime.now(UTC).year)
    assert all(said.values()) and all(
        year in title for times in said.values() for title, _ in times
    )
    assert said["tokens"][0][1] == made
    assert said["notifications"][0][1] == made
    assert asked in html.unescape(re.sub(r"<[^>]+>", "", shown["contacts"]))
    assert re.search(r'id="incoming-title">[^<]+<small class="muted">\(1\)<', shown["contacts"])
    assert expires in html.unescape(re.sub(r"<[^>]+>", "", shown["invite"]))
