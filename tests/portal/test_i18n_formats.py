"""Times, dates and counts written for the reader's language, at fixed times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from portal import i18n, letters
from portal.web.templating import templates

NOW = datetime(2026, 12, 6, 17, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("language", "past", "future"),
    [
        ("en", "3 minutes ago", "in 2 days"),
        ("it", "3 minuti fa", "tra 2 giorni"),
        ("fr", "il y a 3 minutes", "dans 2 jours"),
    ],
)
def test_a_time_is_said_in_words(language, past, future):
    assert i18n.relative_time(NOW - timedelta(minutes=3), language, now=NOW) == past
    assert i18n.relative_time(NOW + timedelta(days=2), language, now=NOW) == future


@pytest.mark.parametrize(("language", "words"), [("en", "just now"), ("fr", "à l'instant")])
def test_a_moment_ago_is_just_now(language, words):
    assert i18n.relative_time(NOW - timedelta(seconds=20), language, now=NOW) == words
    assert i18n.relative_time(NOW, language, now=NOW) == words


def test_a_naive_time_is_read_as_utc():
    naive = datetime(2026, 12, 6, 14, 5)  # as SQLite gives it back to a raw query
    assert i18n.aware(naive) == datetime(2026, 12, 6, 14, 5, tzinfo=UTC)
    assert i18n.relative_time(naive, "en", now=NOW) == "3 hours ago"
    assert i18n.relative_time(NOW, "en", now=NOW.replace(tzinfo=None)) == "just now"
    rome = NOW.astimezone(timezone(timedelta(hours=1)))
    assert i18n.aware(rome) == NOW and i18n.aware(rome).utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("language", "date"),
    [
        ("en", "Dec 6, 2026, 5:05:00\u202fPM UTC"),
        ("it", "6 dic 2026, 17:05:00 UTC"),
        ("fr", "6 déc. 2026, 17:05:00 UTC"),
    ],
)
def test_the_full_date_is_written_for_the_language(language, date):
    assert i18n.full_date(NOW, language) == date
    assert i18n.full_date(NOW.replace(tzinfo=None), language) == date


@pytest.mark.parametrize(
    ("language", "written"), [("en", "12,345"), ("it", "12.345"), ("fr", "12\u202f345")]
)
def test_counts_are_written_for_the_language(language, written):
    assert i18n.number(12345, language) == written


def test_an_unknown_language_writes_english():
    assert i18n.relative_time(NOW - timedelta(minutes=3), "xx", now=NOW) == "3 minutes ago"
    assert i18n.number(12345, "xx") == "12,345"


@pytest.mark.parametrize(
    ("language", "zero", "one", "two"),
    [
        ("en", "0 numbers checked.", "1 number checked.", "2 numbers checked."),
        ("it", "0 numeri controllati.", "1 numero controllato.", "2 numeri controllati."),
        # French counts zero as one.
        ("fr", "0 numéro vérifié.", "1 numéro vérifié.", "2 numéros vérifiés."),
    ],
)
def test_a_counted_sentence_takes_the_form_of_its_count(language, zero, one, two):
    singular, plural = "%(num)s number checked.", "%(num)s numbers checked."
    catalog = i18n.translations(language)
    said = [catalog.ngettext(singular, plural, n) % {"num": n} for n in (0, 1, 2)]
    assert said == [zero, one, two]


@pytest.mark.parametrize(
    ("language", "words", "count"),
    [("en", "3 minutes ago", "12,345"), ("it", "3 minuti fa", "12.345")],
)
def test_the_page_filters_take_the_reader_language(language, words, count):
    page = templates.env.from_string("{{ when | when }} {{ count | decimal }}")
    when = datetime.now(UTC) - timedelta(minutes=3)
    shown = page.render(lang=language, when=when, count=12345)
    title = i18n.full_date(when, language)
    assert shown == (f'<time datetime="{when.isoformat()}" title="{title}">{words}</time> {count}')


@pytest.mark.parametrize(
    ("language", "one", "many"),
    [
        ("en", "for 1 hour.", "for 48 hours."),
        ("it", "per 1 ora.", "per 48 ore."),
        ("fr", "pendant 1 heure.", "pendant 48 heures."),
    ],
)
def test_a_letter_counts_its_hours_in_words(language, one, many):
    for hours, expected in ((1, one), (48, many)):
        _, body = letters.write(
            "confirm",
            language,
            base_url="https://portal.test",
            link="https://portal.test/l",
            hours=hours,
        )
        assert expected in body and "%(" not in body
