"""vCards as address books read them: parsed back by vobject, line by line as the RFCs say."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
import vobject

from portal.domain import vcard
from portal.domain.privacy import Card, Relation, VisibleAccount

PAGE = "https://portal.test/n/12345674"
NOW = datetime(2025, 3, 1, 12, 30, 5, tzinfo=UTC)


def _account(
    index: int, network: str, label: str, handle: str, url: str | None, app: str | None
) -> VisibleAccount:
    return VisibleAccount(index, network, label, handle, url, app, True, "oauth")


ACCOUNTS = (
    _account(1, "xmpp", "XMPP", "ada@example.org", None, "xmpp:ada@example.org?message"),
    _account(
        2,
        "matrix",
        "Matrix",
        "@ada:example.org",
        "https://matrix.to/#/@ada:example.org",
        "https://matrix.to/#/@ada:example.org",
    ),
    _account(
        3, "telegram", "Telegram", "@ada_l", "https://t.me/ada_l", "tg://resolve?domain=ada_l"
    ),
    _account(4, "whatsapp", "WhatsApp", "+44 7400 123456", "https://wa.me/447400123456", None),
    _account(5, "viber", "Viber", "+44 7400 123456", None, "viber://chat?number=%2B447400123456"),
    _account(6, "email", "Email", "ada@example.org", None, "mailto:ada@example.org"),
    _account(
        7,
        "mastodon",
        "Mastodon",
        "@ada@mastodon.social",
        "https://mastodon.social/@ada",
        "https://mastodon.social/@ada",
    ),
    _account(8, "signal", "Signal", "ada.42", None, None),
)
CARD = Card(
    user_id=1,
    number="12345674",
    display_number="1234 5674",
    relation=Relation.CONTACT,
    display_name="Ada Lovelace",
    bio="Analyst.",
    avatar_etag="abc123",
    phone="+447400123456",
    accounts=ACCOUNTS,
)
HOSTILE_NAMES = [
    pytest.param("Ada 👩‍💻🚀 Lovelace", id="emoji"),
    pytest.param("Lovelace, Ada, Countess", id="commas"),
    pytest.param("Ada; DROP TABLE;", id="semicolons"),
    pytest.param("Ada\nLovelace\r\nX-EVIL:1\rEND:VCARD", id="newlines"),
    pytest.param("Ada \\ Lovelace \\n not a newline", id="backslashes"),
    pytest.param("ע" * 200 + " Ada " + "🏳️‍🌈" * 60 + "x" * 100, id="500-chars"),
    pytest.param("\u05d0\u05d3\u05d4 \u05dc\u05d5\u05d1\u05dc\u05d9\u05d9\u05e1 (Ada)", id="RTL"),
    pytest.param("Ada\x00\x1b[31m\x7fLovelace", id="controls"),
]


def _render(card: Card, version: vcard.Version = "4.0") -> str:
    return vcard.render(card, version=version, page_url=PAGE, now=NOW).text


def _parse(text: str) -> Any:
    return vobject.readOne(text)


def _values(parsed: Any, name: str) -> list[str]:
    return [child.value for child in parsed.getChildren() if child.name == name.upper()]


@pytest.mark.parametrize("version", vcard.VERSIONS)
@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_survive_folding_and_escaping(name: str, version: vcard.Version) -> None:
    card = replace(CARD, display_name=name, bio=f"About {name}")
    text = _render(card, version)

    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "")  # no bare line breaks anywhere
    for line in text.split("\r\n")[:-1]:
        assert len(line.encode()) <= vcard.MAX_OCTETS, line
        line.encode().decode()  # every line is valid UTF-8 on its own: no split sequence
    parsed = _parse(text)
    expected = re.sub("[\x00-\x08\x0b-\x1f\x7f]", "", name).replace("\r\n", "\n")
    expected = expected.replace("\r", "\n")
    assert parsed.fn.value == expected
    assert parsed.note.value == f"About {expected}"
    # The name never leaks out of its property into a line of its own.
    assert _values(parsed, "X-EVIL") == []
    assert [child.name for child in parsed.getChildren()].count("FN") == 1


def test_a_long_name_is_folded_not_cut() -> None:
    name = "😀" * 500
    text = _render(replace(CARD, display_name=name))
    folded = [line for line in text.split("\r\n") if line.startswith(" ")]
    assert len(folded) > 20
    assert _parse(text).fn.value == name


@pytest.mark.parametrize("version", vcard.VERSIONS)
def test_everything_the_card_shows_is_in_the_vcard(version: vcard.Version) -> None:
    parsed = _parse(_render(CARD, version))

    assert parsed.version.value == version
    assert parsed.fn.value == "Ada Lovelace"
    assert parsed.note.value == "Analyst."
    assert parsed.photo.value == f"{PAGE}/avatar?v=abc123"
    tel = parsed.tel.value
    assert tel == ("tel:+447400123456" if version == "4.0" else "+447400123456")
    assert _values(parsed, "email") == ["ada@example.org"]
    urls = _values(parsed, "url")
    assert urls[0] == PAGE
    assert set(urls[1:]) == {
        "https://matrix.to/#/@ada:example.org",
        "https://t.me/ada_l",
        "https://wa.me/447400123456",
        "https://mastodon.social/@ada",
    }
    assert set(_values(parsed, "impp")) == {"xmpp:ada@example.org", "matrix:u/ada:example.org"}
    social = {
        child.params["TYPE"][0]: child.value
        for child in parsed.getChildren()
        if child.name == "X-SOCIALPROFILE"
    }
    assert social == {
        "telegram": "tg://resolve?domain=ada_l",
        "whatsapp": "https://wa.me/447400123456",
        "viber": "viber://chat?number=%2B447400123456",
    }
    assert parsed.rev.value == "20250301T123005Z"
    assert parsed.uid.value == vcard.uid(PAGE)


def test_version_specific_properties() -> None:
    v4 = _parse(_render(CARD, "4.0"))
    v3 = _parse(_render(CARD, "3.0"))
    assert v4.kind.value == "individual"
    assert v4.tel.params == {"VALUE": ["uri"], "TYPE": ["cell"]}
    assert "n" not in v4.contents  # optional in 4.0, where a single name cannot be split
    assert "kind" not in v3.contents
    assert v3.n.value.given == "Ada Lovelace"
    assert v3.photo.params == {"VALUE": ["uri"]}


def test_a_card_that_hides_everything_but_the_number() -> None:
    hidden = replace(
        CARD, display_name=None, bio=None, avatar_etag=None, phone=None, accounts=(ACCOUNTS[6],)
    )
    for version in vcard.VERSIONS:
        text = _render(hidden, version)
        parsed = _parse(text)
        assert parsed.fn.value == "1234 5674"
        for name in ("note", "photo", "tel", "email", "impp"):
            assert name not in parsed.contents, name
        assert "Ada" not in text and "447400123456" not in text and "xmpp" not in text
        assert _values(parsed, "url") == [PAGE, "https://mastodon.social/@ada"]


def test_the_uid_is_stable_and_the_revision_is_the_time_written() -> None:
    first = vcard.render(CARD, version="4.0", page_url=PAGE, now=NOW).text
    later = vcard.render(CARD, version="4.0", page_url=PAGE, now=NOW.replace(year=2026)).text
    other = vcard.render(CARD, version="4.0", page_url=PAGE[:-1] + "5", now=NOW).text
    assert _parse(first).uid.value == _parse(later).uid.value != _parse(other).uid.value
    assert re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", _parse(first).uid.value)
    assert first != later
    assert vcard.without_revision(first) == vcard.without_revision(later)


def test_uris_cannot_break_the_line_structure() -> None:
    odd = _account(
        9, "xmpp", "XMPP", "a,b;c@example.org", None, "xmpp:a,b;c\\d@example.org?message"
    )
    parsed = _parse(_render(replace(CARD, accounts=(odd,))))
    assert _values(parsed, "impp") == ["xmpp:a%2Cb%3Bc%5Cd@example.org"]


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("a,b", "a\\,b"),
        ("a;b", "a\\;b"),
        ("a\\b", "a\\\\b"),
        ("a\nb", "a\\nb"),
        ("a\r\nb", "a\\nb"),
        ("a\tb", "a\tb"),
        ("a\x00b", "ab"),
    ],
)
def test_escape_text(value: str, escaped: str) -> None:
    assert vcard.escape_text(value) == escaped


def test_fold_counts_octets_and_the_continuation_space() -> None:
    line = "FN:" + "é" * 100  # two octets each
    folded = vcard.fold(line).split("\r\n")
    assert folded[-1] == ""
    assert [len(part.encode()) for part in folded[:-1]] == [
        75,
        75,
        55,
    ]  # 3 + 36×2, 1 + 37×2, 1 + 27×2
    assert "".join(part.removeprefix(" ") for part in folded) == line
