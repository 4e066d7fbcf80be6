"""Text lengths as networks count them, and the shared handle helpers of the base module."""

from __future__ import annotations

import pytest

from connectors.base import InvalidHandle, clean, count_text, path_from_url, site_of

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # man, woman, girl, boy
RAINBOW_FLAG = "\U0001f3f3\ufe0f\u200d\U0001f308"
SCOTLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
THUMBS_UP_MEDIUM = "\U0001f44d\U0001f3fd"


@pytest.mark.parametrize(
    ("text", "graphemes"),
    [
        ("", 0),
        ("hello", 5),
        ("\U0001f1eb\U0001f1f7", 1),  # 🇫🇷: two regional indicators, one flag
        ("\U0001f1eb\U0001f1f7\U0001f1e9\U0001f1ea", 2),  # 🇫🇷🇩🇪
        ("\U0001f1eb\U0001f1f7\U0001f1e9", 2),  # a flag and a lone indicator
        (FAMILY, 1),
        (RAINBOW_FLAG, 1),
        (SCOTLAND, 1),
        (THUMBS_UP_MEDIUM, 1),
        ("1\ufe0f\u20e3", 1),  # keycap 1
        ("e\u0301", 1),  # e + combining acute
        ("\u00e9", 1),  # precomposed é
        ("a\u0301\u0302\u0303", 1),  # several marks on one letter
        ("\u0301", 1),  # a mark with nothing to sit on is still one character
        ("a\u200db", 2),  # a joiner joins emoji, not letters
        ("\u200da", 2),
        ("\r\n", 1),
        ("\u1100\u1161\u11a8", 1),  # 각 written in jamo
        ("\u0915\u094d\u0937\u093f", 1),  # क्षि, a Devanagari conjunct
        ("a\U0001f600b", 3),
        ("caf\u00e9 \U0001f1eb\U0001f1f7!", 7),
    ],
)
def test_graphemes_are_what_a_reader_sees(text: str, graphemes: int) -> None:
    assert count_text(text, "graphemes") == graphemes


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("hello", 5),
        ("\u00e9", 1),
        ("\U0001f600", 2),  # one astral code point is a surrogate pair
        ("\U0001d400", 2),  # 𝐀, mathematical bold capital A
        (FAMILY, 11),
        ("\U0001f1eb\U0001f1f7", 4),
        ("ab\ud800", 3),  # a lone surrogate counts, it does not crash
    ],
)
def test_utf16_counts_code_units(text: str, units: int) -> None:
    assert count_text(text, "utf16") == units


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("a" * 280, 280),
        ("hello world", 11),
        ("https://example.org/", 23),
        ("https://example.org/a/very/long/path/that/goes/on/and/on?and=a&query=string", 23),
        ("see http://a.co", 4 + 23),
        ("see https://example.org/x. ok", 4 + 23 + 4),  # the period is not part of the link
        ("(https://example.org/)", 1 + 23 + 1),
        ("see https://example.org/a_(b)))!", 4 + 23 + 3),
        ("https://" + "." * 100_000, 23 + 100_000),  # linear, not a regular-expression trap
        ("https://a.example/" + "(" * 50_000 + ")" * 50_001, 23 + 1),
        ("two https://a.example/1 https://b.example/2", 4 + 23 + 1 + 23),
        ("\u4f60\u597d", 4),  # CJK counts double
        ("\u3053\u3093\u306b\u3061\u306f", 10),  # こんにちは
        ("\U0001f600", 2),
        (FAMILY, 2),  # an emoji sequence counts 2, whatever its length
        ("\U0001f1eb\U0001f1f7", 2),
        ("e\u0301", 1),  # normalised to é first
        ("\u00e9\u00e8\u00ea", 3),
        ("\u201cquoted\u201d", 8),
    ],
)
def test_twitter_weighs_links_emoji_and_wide_characters(text: str, length: int) -> None:
    assert count_text(text, "twitter") == length


def test_characters_and_bytes() -> None:
    assert count_text("h\u00e9llo \U0001f600", "characters") == 7
    assert count_text("h\u00e9llo \U0001f600", "bytes") == 1 + 2 + 3 + 1 + 4
    assert count_text("x\ud800", "bytes") == 4


def test_counting_a_megabyte_is_quick_and_right() -> None:
    text = ("abc \U0001f600 " * 100_000)[:1_000_000]
    assert count_text(text, "graphemes") == len(text)  # every code point here stands alone
    assert count_text(text, "utf16") == len(text) + text.count("\U0001f600")


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("  ada  ", "ada"),
        ("\u200bada\u200d", "ada"),
        ("\u202eada\u202c", "ada"),
        ("\u2066ada\u2069", "ada"),
        ("\ufeffada", "ada"),
        ("ad\u00ada", "ada"),
        ("\uff41\uff44\uff41", "ada"),  # full-width letters, NFKC
        ("ada\u3164", "ada"),  # the Hangul filler that makes names look empty
        ("ada\n", "ada"),
        ("ada\nlovelace", "ada lovelace"),
        ("ada\tlovelace", "ada lovelace"),
    ],
)
def test_clean_removes_what_cannot_be_seen(raw: str, cleaned: str) -> None:
    assert clean(raw) == cleaned


@pytest.mark.parametrize(
    "raw", ["", "   ", "\u200b\u200e", "a" * 801, "a\x00da", "ada\x1b[31m", "ada\x7f", None, 7]
)
def test_clean_refuses_nothing_and_too_much(raw: object) -> None:
    with pytest.raises(InvalidHandle):
        clean(raw)  # type: ignore[arg-type]


def test_path_from_url() -> None:
    hosts = ("instagram.com",)
    assert path_from_url("https://www.instagram.com/ada/", hosts) == "ada"
    assert path_from_url("instagram.com/ada?hl=en", hosts) == "ada"
    assert path_from_url("https://instagram.com./ada", hosts) == "ada"
    assert path_from_url("ada", hosts) is None
    assert path_from_url("ada.lovelace", hosts) is None
    assert path_from_url("https://m.me/ada", ("m.me",)) == "ada"
    for trap in (
        "https://evil.example/ada",
        "https://instagram.com@evil.example/ada",
        "https://evil.example\\@instagram.com/ada",
        "ftp://instagram.com/ada",
    ):
        with pytest.raises(InvalidHandle):
            path_from_url(trap, hosts)


@pytest.mark.parametrize(
    ("host", "hosts", "site"),
    [
        ("www.instagram.com", ("instagram.com",), "instagram.com"),
        ("WWW.Instagram.COM.", ("instagram.com",), "instagram.com"),
        ("mobile.twitter.com", ("x.com", "twitter.com"), "twitter.com"),
        ("m.me", ("m.me", "messenger.com"), "m.me"),  # a site of its own, not the mobile "me"
        ("www.m.me", ("m.me",), "m.me"),
        ("uk.linkedin.com", ("linkedin.com",), "uk.linkedin.com"),
        ("m.evil.example", ("instagram.com",), "evil.example"),
    ],
)
def test_site_of_removes_only_the_prefixes_of_the_same_site(
    host: str, hosts: tuple[str, ...], site: str
) -> None:
    assert site_of(host, hosts) == site
