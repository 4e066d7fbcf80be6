"""Languages of the web pages: English, Italian and French.

Catalogs are gettext ``.po`` files in ``portal/translations/``, compiled in memory at start-up
(no build step). The language comes from the ``portal_lang`` cookie set by the language
switcher, else from the browser's ``Accept-Language``, else English.

The messages are the templates' and the Python code's: errors are raised with a fixed English
sentence (their message id) and ``%(name)s`` placeholders, and module-level messages are marked
with ``N_``; :func:`translate` turns them into the reader's language where they are shown.

Update the catalogs after changing templates or messages with ``python -m portal.i18n``.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from babel.dates import format_date, format_datetime, format_timedelta
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations
from starlette.requests import Request

from portal.errors import N_, PortalError

LANGUAGES = {"en": "English", "it": "Italiano", "fr": "Français"}
DEFAULT = "en"
LANG_COOKIE = "portal_lang"
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
_ROOT = Path(__file__).resolve().parents[1]
"""The checkout's root, where messages are extracted from."""
_PACKAGED_TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATES_DIR = _PACKAGED_TEMPLATES if _PACKAGED_TEMPLATES.is_dir() else _ROOT / "templates"
"""The pages' and the letters' templates.

An installed wheel carries them inside the package (``portal/templates``); a checkout keeps them
in the top-level ``templates/`` folder, which is what an editable install finds."""

ERROR_CLASSES = [
    "PortalError",
    "InvalidInput",
    "NotAuthenticated",
    "Forbidden",
    "NotFound",
    "Conflict",
    "PayloadTooLarge",
    "RateLimited",
    "NetworkUnavailable",
    "SmsError",
    "Busy",
]
PYTHON_KEYWORDS: dict[str, tuple[int, ...] | None] = {
    "N_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "toast": (2,),  # portal.web.toast.toast(request, message)
    **dict.fromkeys(ERROR_CLASSES, (1,)),
}
"""The calls whose argument at that place (the first by default) is a message to translate."""
TEMPLATE_METHODS = [
    ("templates/**.html", "jinja2.ext:babel_extract"),
    ("templates/**.txt", "jinja2.ext:babel_extract"),  # emails (portal.letters)
]
TEMPLATE_OPTIONS = {
    "templates/**.html": {"extensions": "jinja2.ext.i18n"},
    "templates/**.txt": {"extensions": "jinja2.ext.i18n"},
}
PYTHON_METHODS = [("portal/**.py", "python")]

LABELS = (N_("Website"),)
"""Names of networks that are words rather than names; connectors cannot mark them."""


@cache
def translations(language: str) -> NullTranslations:
    path = TRANSLATIONS_DIR / f"{language}.po"
    if language == DEFAULT or not path.exists():
        return NullTranslations()
    with path.open("rb") as file:
        catalog = read_po(file, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def _accepted(header: str) -> list[str]:
    """Languages of an Accept-Language header, most wanted first (RFC 9110 §12.5.4)."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and quality > 0:
            weighted.append((-quality, index, tag.strip().lower()))
    return [tag for _, _, tag in sorted(weighted)]


def chosen(language: str | None) -> str | None:
    """``language`` if it is one of ours, else None (follow the browser)."""
    return language if language in LANGUAGES else None


def negotiate(request: Request) -> str:
    """The reader's language: the one a signed-in person chose in their settings, else the
    switcher's cookie, else the browser's, else English."""
    stored = chosen(getattr(getattr(request.state, "user", None), "language", None))
    if stored is not None:
        return stored
    chosen_now = request.cookies.get(LANG_COOKIE, "")
    if chosen_now in LANGUAGES:
        return chosen_now
    for tag in _accepted(request.headers.get("accept-language", "")):
        primary = tag.split("-", 1)[0]
        if primary in LANGUAGES:
            return primary
    return DEFAULT


def translate(language: str, message: str, params: Mapping[str, object] | None = None) -> str:
    """``message`` in ``language``, its placeholders filled from ``params``.

    A translation that does not fit its parameters falls back to the English sentence, so a
    mistake in a catalog never turns an error message into a server error.
    """
    if not message:  # gettext("") is the catalog's header
        return ""
    translated = translations(language).gettext(message)
    if not params:
        return translated
    try:
        return translated % params
    except (KeyError, ValueError, TypeError):
        return message % params


# --- times and numbers, written for the reader ------------------------------------------------

JUST_NOW = timedelta(minutes=1)
"""Closer in the past than this, a time is "just now" rather than a count of seconds."""


def aware(when: datetime) -> datetime:
    """``when`` with its zone. Times are stored in UTC; a naive one (SQLite keeps no offset,
    and a raw query reads it back without the models' conversion) is taken as UTC."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def relative_time(when: datetime, language: str, *, now: datetime | None = None) -> str:
    """How far ``when`` is from now, in words: "3 minutes ago", "in 2 days", "3 minuti fa"."""
    language = language if language in LANGUAGES else DEFAULT
    delta = aware(when) - aware(now or datetime.now(UTC))
    if -JUST_NOW < delta <= timedelta(0):
        return translate(language, N_("just now"))
    return format_timedelta(delta, add_direction=True, locale=language)


def full_date(when: datetime, language: str) -> str:
    """The date and the time of ``when`` in full, as written in ``language``, in UTC."""
    language = language if language in LANGUAGES else DEFAULT
    return f"{format_datetime(aware(when), 'medium', tzinfo=UTC, locale=language)} UTC"


def day(when: datetime, language: str) -> str:
    """The day of ``when`` in full, in ``language``, in UTC: "Monday, 7 December 2026"."""
    language = language if language in LANGUAGES else DEFAULT
    return format_date(aware(when), "full", locale=language)


def number(value: float, language: str) -> str:
    """A count as written in ``language``: 12,345 · 12.345 · 12 345."""
    return format_decimal(value, locale=language if language in LANGUAGES else DEFAULT)


def error_text(request: Request, error: PortalError) -> str:
    """The message of ``error`` in the language of ``request``."""
    return translate(negotiate(request), error.message_id, error.params)


def extract() -> list[tuple[str, int, str | tuple[str, ...], list[str], str | None]]:
    """Every message of the templates and of the Python code, with where it is."""
    from babel.messages.extract import extract_from_dir

    found = list(extract_from_dir(_ROOT, TEMPLATE_METHODS, TEMPLATE_OPTIONS))
    found += extract_from_dir(
        _ROOT, PYTHON_METHODS, keywords=PYTHON_KEYWORDS, comment_tags=("Translators:",)
    )
    return found


def update_catalogs() -> None:
    """Extract the messages of the templates and the code, and merge them into every ``.po``."""
    template = Catalog(project="Portal", fuzzy=False)
    for filename, lineno, message, comments, context in extract():
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    for language in LANGUAGES:
        if language == DEFAULT:
            continue
        path = TRANSLATIONS_DIR / f"{language}.po"
        if path.exists():
            with path.open("rb") as file:
                catalog = read_po(file, locale=language)
        else:
            catalog = Catalog(locale=language, project="Portal", fuzzy=False)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.revision_date = datetime.now(UTC)
        with path.open("wb") as file:
            write_po(file, catalog, width=100, omit_header=False, sort_output=False)


if __name__ == "__main__":  # pragma: no cover - a developer's command
    update_catalogs()
