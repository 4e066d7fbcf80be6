"""Adapting one text to one network: what fits, threads, shortening, and what people are told."""

from __future__ import annotations

import subprocess
import sys

import pytest
import regex
from hypothesis import example, given, settings
from hypothesis import strategies as st

import connectors
from connectors.base import PostRules, count_text
from connectors.mastodon import Mastodon
from connectors.mastodon._text import count_status
from portal.domain.posts.adapt import (
    END_LEFT_OUT,
    FULL_TEXT_LINK_TOO_LONG,
    LINK_TOO_LONG,
    LINKS_NOT_CLICKABLE,
    MAX_PARTS,
    NO_ROOM_LEFT,
    NO_THREADS,
    NOTHING_TO_POST,
    PICTURE_NEEDED,
    RULES,
    TOO_MANY_PARTS,
    TOO_MANY_PICTURES,
    adapt,
    rules_for,
    shorten,
    split_thread,
)

BLUESKY = RULES["bluesky"]
MASTODON = RULES["mastodon"]
TELEGRAM = RULES["telegram"]
INSTAGRAM = RULES["instagram"]

FAMILY = "👨\u200d👩\u200d👧\u200d👦"
ITALY = "🇮🇹"
E_ACUTE = "e\u0301"
GAK = "\u1100\u1161\u11a8"  # 각, written as three jamo
ADA = "@ada@mastodon.social"
NUMBER = regex.compile(r" (\d+)/(\d+)\Z")
CLUSTER = regex.compile(r"\X")


def graphemes(text: str) -> int:
    return count_text(text, "graphemes")


def mastodon(text: str) -> int:
    return count_status(text)


def utf16(text: str) -> int:
    return count_text(text, "utf16")


def chunks(parts: tuple[str, ...] | list[str]) -> list[str]:
    """The parts of a thread without their numbers, checking that they count 1/n … n/n."""
    if len(parts) == 1:
        return list(parts)
    found = []
    for index, part in enumerate(parts, 1):
        number = NUMBER.search(part)
        assert number, part
        assert (int(number[1]), int(number[2])) == (index, len(parts))
        found.append(part[: number.start()])
    return found


def _strip(text: str) -> str:
    """The text less the grapheme clusters of whitespace at its ends (a space that carries a
    combining mark is a cluster of its own, not whitespace)."""
    clusters = CLUSTER.findall(text)
    while clusters and clusters[0].isspace():
        clusters.pop(0)
    while clusters and clusters[-1].isspace():
        clusters.pop()
    return "".join(clusters)


def assert_whole(text: str, pieces: list[str]) -> list[int]:
    """The pieces are the text in order, less only the whitespace where it was cut, and every
    cut falls between two grapheme clusters of the text. The places of the cuts."""
    boundaries = {match.start() for match in CLUSTER.finditer(text)} | {len(text)}
    stripped = _strip(text)
    position = text.index(stripped) if stripped else len(text)
    cuts = []
    for piece in pieces:
        assert piece, "an empty post"
        assert piece == _strip(piece)
        while text[position].isspace() and not text.startswith(piece, position):
            position += 1
        assert text.startswith(piece, position), (piece, text[position : position + 40])
        assert position in boundaries
        position += len(piece)
        assert position in boundaries
        cuts.append(position)
    assert not _strip(text[position:])
    return cuts[:-1]


# -- as written ----------------------------------------------------------------------------------


def test_a_text_that_fits_goes_as_written():
    text = "Portal is out: one address for all of your accounts. https://portal.example/"
    version = adapt(text, BLUESKY, graphemes)
    assert version.parts == (text,)
    assert version.fit is None
    assert version.problems == version.notes == ()
    assert (version.length, version.limit) == (graphemes(text), 300)
    assert version.ok


def test_three_hundred_emoji_families_are_three_hundred_characters_on_bluesky():
    text = FAMILY * 300  # 2,100 code points; Bluesky sees 300 characters
    version = adapt(text, BLUESKY, graphemes)
    assert version.parts == (text,)
    assert version.length == 300


def test_the_spaces_around_a_text_are_not_posted():
    assert adapt("\n  Hello  \n", BLUESKY, graphemes).parts == ("Hello",)


def test_a_link_that_ends_exactly_at_mastodons_limit_fits():
    link = "https://example.org/" + "a" * 200  # counts 23 on Mastodon, whatever its length
    text = "x" * 476 + " " + link
    assert mastodon(text) == 500
    version = adapt(text, MASTODON, mastodon)
    assert version.parts == (text,)
    assert version.fit is None
    assert version.length == 500


def test_a_long_link_fits_on_mastodon_but_would_be_cut_on_bluesky():
    link = "https://example.org/" + "p" * 400
    on_mastodon = adapt(f"Read this: {link}", MASTODON, mastodon)
    assert on_mastodon.parts == (f"Read this: {link}",)
    assert on_mastodon.problems == ()

    on_bluesky = adapt(f"Read this: {link}", BLUESKY, graphemes)
    assert on_bluesky.problems == (LINK_TOO_LONG,)
    assert "".join(chunks(on_bluesky.parts)) == f"Read this:{link}"  # nothing is lost


# -- threads -------------------------------------------------------------------------------------


def test_a_long_text_becomes_a_numbered_thread_each_post_within_the_limit():
    text = " ".join(f"Sentence number {n} says a little more." for n in range(40))
    version = adapt(text, BLUESKY, graphemes)
    assert version.fit == "thread"
    assert len(version.parts) > 1
    assert [NUMBER.search(p)[0] for p in version.parts] == [
        f" {n}/{len(version.parts)}" for n in range(1, len(version.parts) + 1)
    ]
    assert all(graphemes(part) <= 300 for part in version.parts)
    assert version.length == max(graphemes(part) for part in version.parts) <= 300
    assert_whole(text, chunks(version.parts))


def test_a_thread_breaks_between_paragraphs():
    first, second = "First thought, in full. " * 8, "Second thought, in full. " * 8
    text = f"{first.strip()}\n\n{second.strip()}"
    assert graphemes(text) > 300
    assert split_thread(text, 300, graphemes) == [f"{first.strip()} 1/2", f"{second.strip()} 2/2"]


def test_a_thread_breaks_after_a_sentence_rather_than_mid_sentence():
    text = "Short opening sentence here. " * 9 + "and then a long clause that runs on " * 5
    parts = chunks(split_thread(text, 300, graphemes))
    assert parts[0].endswith("here.")


def test_a_paragraph_too_early_in_a_post_does_not_leave_it_nearly_empty():
    text = "Hi!\n\n" + "Then a long paragraph that keeps going. " * 12
    parts = chunks(split_thread(text, 300, graphemes))
    assert len(parts[0]) > 150


def test_emoji_families_are_never_cut_in_two():
    text = FAMILY * 301
    parts = chunks(adapt(text, BLUESKY, graphemes).parts)
    assert [part.count(FAMILY) * len(FAMILY) == len(part) for part in parts] == [True, True]
    assert sum(part.count(FAMILY) for part in parts) == 301


def test_flags_are_never_cut_in_two():
    text = ITALY * 400
    parts = chunks(split_thread(text, 300, graphemes))
    assert all(part == ITALY * (len(part) // len(ITALY)) for part in parts)
    assert "".join(parts) == text


def test_a_letter_keeps_its_accent():
    text = E_ACUTE * 700
    parts = chunks(split_thread(text, 300, graphemes))
    assert all(not part.startswith("\u0301") for part in parts)
    assert "".join(parts) == text


def test_hangul_written_in_jamo_is_cut_between_syllables():
    text = GAK * 500
    parts = chunks(split_thread(text, 300, graphemes))
    assert all(len(part) % 3 == 0 and part.startswith("\u1100") for part in parts)
    assert "".join(parts) == text


def test_chinese_without_spaces_is_cut_after_a_full_stop():
    text = "我们今天很高兴见到你们。" * 60
    parts = chunks(adapt(text, BLUESKY, graphemes).parts)
    assert len(parts) == 3
    assert all(part.endswith("。") for part in parts)
    assert "".join(parts) == text


def test_a_word_longer_than_a_post_is_cut_and_nothing_is_lost():
    text = "a" * 700
    parts = split_thread(text, 300, graphemes)
    assert all(graphemes(part) <= 300 for part in parts)
    assert "".join(chunks(parts)) == text


def test_mentions_hashtags_and_links_stay_whole_across_posts():
    words = [ADA, "#PortalDays", "https://example.org/a/b?c=d", "hello"]
    text = " ".join(words * 40)
    for rules, count in ((BLUESKY, graphemes), (MASTODON, mastodon)):
        parts = chunks(adapt(text, rules, count).parts)
        assert len(parts) > 1
        assert {word for part in parts for word in part.split()} == set(words)


def test_a_mention_at_the_limit_inside_a_long_word_moves_whole_to_the_next_post():
    text = "x" * 290 + f"({ADA})"
    parts = chunks(split_thread(text, 300, graphemes))
    assert any(ADA in part for part in parts)
    assert "".join(parts) == text


def test_a_hashtag_at_the_limit_inside_a_long_word_moves_whole_to_the_next_post():
    text = "x" * 292 + "(#PortalDays)"
    parts = chunks(split_thread(text, 300, graphemes))
    assert any("#PortalDays" in part for part in parts)


def test_a_link_at_the_boundary_moves_whole_to_the_next_post():
    link = "https://example.org/some/where"
    text = "word " * 58 + link + " and more words after it"
    assert text.index(link) < 300 < text.index(link) + len(link)
    parts = chunks(adapt(text, BLUESKY, graphemes).parts)
    assert parts[1].startswith(link)


def test_right_to_left_text_with_links_splits_at_sentences_and_keeps_links():
    sentence = (
        "مرحبا بالعالم، هذا نص طويل. שלום עולם, זה טקסט ארוך. Portal https://example.org/عربي؟ "
    )
    text = sentence * 6
    version = adapt(text, BLUESKY, graphemes)
    parts = chunks(version.parts)
    assert len(parts) > 1
    assert all(graphemes(part) <= 300 for part in version.parts)
    assert all(part.count("https://example.org/عربي") == part.count("https://") for part in parts)
    assert all(part[-1] in ".؟" for part in parts)
    assert_whole(text, parts)


def test_on_mastodon_links_count_23_so_a_post_holds_more_of_them():
    text = " ".join(["see https://example.org/" + "p" * 80] * 40)
    version = adapt(text, MASTODON, mastodon)
    assert all(mastodon(part) <= 500 for part in version.parts)
    assert max(len(part) for part in version.parts) > 1000


def test_mastodon_counts_the_content_warning_in_every_post_of_a_thread():
    warning = "Spoilers: season 2"
    text = "It was the butler, all along. " * 30
    version = adapt(text, MASTODON, mastodon, content_warning=warning)
    assert version.fit == "thread"
    assert all(mastodon(part) + graphemes(warning) <= 500 for part in version.parts)
    assert version.length == max(mastodon(p) for p in version.parts) + graphemes(warning)
    assert version.length <= version.limit == 500


def test_a_text_that_fits_only_without_its_warning_becomes_a_thread_on_mastodon():
    text = "a" * 490
    assert adapt(text, MASTODON, mastodon).parts == (text,)
    assert adapt(text, MASTODON, mastodon, content_warning="Spoilers ahead").fit == "thread"


def test_a_warning_counts_nothing_where_the_network_has_no_field_for_it():
    text = "a" * 295
    assert adapt(text, BLUESKY, graphemes, content_warning="Spoilers ahead").parts == (text,)


def test_a_warning_that_leaves_no_room_is_a_problem():
    version = adapt("a" * 600, MASTODON, mastodon, content_warning="w" * 490)
    assert version.problems == (NO_ROOM_LEFT,)


def test_a_thread_longer_than_ten_posts_is_a_problem_and_says_how_many():
    text = "This goes on and on. " * 200
    version = adapt(text, BLUESKY, graphemes)
    assert len(version.parts) > MAX_PARTS
    assert all(graphemes(part) <= 300 for part in version.parts)  # two-digit numbers count
    assert version.parts[-1].endswith(f" {len(version.parts)}/{len(version.parts)}")
    assert version.problems == (TOO_MANY_PARTS % {"parts": len(version.parts), "max": 10},)
    assert "at most 10" in version.problems[0]


def test_a_problem_keeps_its_message_id_for_translation():
    (problem,) = adapt("This goes on and on. " * 200, BLUESKY, graphemes).problems
    assert problem.message_id == TOO_MANY_PARTS  # type: ignore[attr-defined]
    assert problem.params["max"] == 10  # type: ignore[attr-defined]


# -- pictures and captions -----------------------------------------------------------------------


def test_telegram_allows_a_long_message_but_a_short_caption():
    text = "Telegram news of the day. " * 60  # 1,560 characters
    assert adapt(text, TELEGRAM, utf16).parts == (text.strip(),)
    with_picture = adapt(text, TELEGRAM, utf16, media=1)
    assert with_picture.limit == 1024
    assert with_picture.fit == "thread"
    assert all(utf16(part) <= 1024 for part in with_picture.parts)


def test_telegram_counts_an_emoji_as_two_in_a_caption():
    text = "😀" * 600  # 600 characters, 1,200 UTF-16 code units
    version = adapt(text, TELEGRAM, utf16, media=1)
    assert version.fit == "thread"
    assert all(utf16(part) <= 1024 for part in version.parts)
    assert "".join(chunks(version.parts)) == text


def test_too_many_pictures_is_a_problem():
    version = adapt("Album", TELEGRAM, utf16, media=11)
    assert version.problems == (TOO_MANY_PICTURES % {"max": 10, "extra": 1},)


def test_instagram_needs_a_picture():
    version = adapt("Only words", INSTAGRAM, len)
    assert version.problems == (PICTURE_NEEDED,)
    assert adapt("Only words", INSTAGRAM, len, media=1).problems == ()


def test_nothing_to_post_is_a_problem_but_pictures_alone_are_not():
    for blank in ("", "   ", "\n\t \n"):
        version = adapt(blank, BLUESKY, graphemes)
        assert version.problems == (NOTHING_TO_POST,)
        assert version.parts == ()
    pictures = adapt("  ", BLUESKY, graphemes, media=2)
    assert (pictures.parts, pictures.problems) == ((), ())


def test_instagram_shortens_with_a_link_and_says_links_do_not_work_there():
    text = "A long caption about the day. " * 100
    version = adapt(text, INSTAGRAM, len, media=1, full_text_url="https://portal.example/p/1")
    (caption,) = version.parts
    assert version.fit == "shorten"
    assert len(caption) <= 2200
    assert caption.endswith(" long… https://portal.example/p/1")  # a whole word, the link whole
    assert version.notes == (NO_THREADS, LINKS_NOT_CLICKABLE)


def test_instagram_warns_of_a_link_in_a_caption_that_fits():
    version = adapt("New photo! https://example.org", INSTAGRAM, len, media=1)
    assert version.notes == (LINKS_NOT_CLICKABLE,)
    assert adapt("New photo!", INSTAGRAM, len, media=1).notes == ()


def test_instagram_takes_jpeg_alone_and_ten_pictures():
    assert INSTAGRAM.media_types == ("image/jpeg",)
    assert (INSTAGRAM.max_media, INSTAGRAM.threads, INSTAGRAM.max_length) == (10, False, 2200)


# -- shortening ----------------------------------------------------------------------------------


def test_shortening_cuts_between_words_and_ends_with_an_ellipsis():
    text = "The quick brown fox jumps over the lazy dog " * 10
    short = shorten(text, 100, graphemes)
    assert short.endswith("…")
    assert graphemes(short) <= 100
    kept = short.removesuffix("…")
    assert text.startswith(kept)
    assert text[len(kept)] == " "


def test_shortening_keeps_the_link_whole_counted_as_mastodon_counts_it():
    link = "https://portal.example/posts/" + "x" * 150
    short = adapt("word " * 200, MASTODON, mastodon, fit="shorten", full_text_url=link)
    (post,) = short.parts
    assert post.endswith(f"… {link}")
    assert mastodon(post) <= 500 < len(post)
    assert short.notes == ()


def test_shortening_without_a_link_says_the_end_is_left_out():
    version = adapt("word " * 200, BLUESKY, graphemes, fit="shorten")
    assert version.parts[0].endswith("word…")
    assert version.notes == (END_LEFT_OUT,)


def test_a_full_text_link_longer_than_a_post_is_left_out_and_said():
    link = "https://portal.example/" + "x" * 400
    version = adapt("word " * 200, BLUESKY, graphemes, fit="shorten", full_text_url=link)
    assert version.problems == (FULL_TEXT_LINK_TOO_LONG,)
    assert version.parts[0].endswith("word…")
    assert graphemes(version.parts[0]) <= 300
    with pytest.raises(ValueError, match="link"):
        shorten("word " * 200, 300, graphemes, link)


def test_an_ellipsis_never_runs_on_into_a_link():
    text = "see https://example.org/page " + "z" * 400
    short = shorten(text, 100, graphemes)
    assert short == "see https://example.org/page …"


def test_shortening_never_cuts_an_emoji_family():
    short = shorten(FAMILY * 400, 300, graphemes, "https://portal.example/p")
    kept = short.removesuffix("… https://portal.example/p")
    assert kept == FAMILY * (len(kept) // len(FAMILY))
    assert graphemes(short) <= 300


def test_a_text_that_fits_is_not_shortened():
    assert shorten("Hello", 300, graphemes, "https://portal.example/p") == "Hello"


# -- the property: nothing lost, nothing over the limit -------------------------------------------

PIECES = [
    "word",
    "longerword",
    " ",
    " ",
    "  ",
    "\n",
    "\n\n",
    ". ",
    "! ",
    "。",
    "我们",
    FAMILY,
    ITALY,
    E_ACUTE,
    GAK,
    "مرحبا",
    "שלום",
    "https://example.org/path?q=1",
    "(",
    ADA,
    "#tag",
    "x" * 30,
]


LINK = regex.compile(
    r"(?<=^|\s|(?:^|\s)\()https://example\.org/path\?q=1(?=$|\s|[.,!?;:)](?:\s|$))"
)
"""A link that stands alone: glued to another word, it is part of one longer token, which a
post too short for it must cut somewhere."""


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(st.sampled_from(PIECES), max_size=200),
    limit=st.integers(min_value=30, max_value=200),
    counting=st.sampled_from(["graphemes", "mastodon"]),
)
def test_a_thread_loses_nothing_and_no_post_is_over_the_limit(pieces, limit, counting):
    count = graphemes if counting == "graphemes" else mastodon
    text = "".join(pieces)
    parts = split_thread(text, limit, count)
    assert all(count(part) <= limit for part in parts)
    cuts = assert_whole(text, chunks(parts))
    # A mention is one after a space or a bracket, not the end of an email address.
    for word in (
        regex.compile(r"(?<=^|\s|(?:^|\s)\()@ada@mastodon\.social(?=$|\s|[.,!?;:)](?:\s|$))"),
        LINK,
    ):
        for match in word.finditer(text):
            if count(match[0] + " 99/99") <= limit:
                assert not [cut for cut in cuts if match.start() < cut < match.end()]


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=600), limit=st.integers(min_value=10, max_value=120))
@example(text=" \u0300", limit=10)  # a space carrying a combining mark: kept whole
def test_any_text_splits_without_loss(text, limit):
    parts = split_thread(text, limit, graphemes)
    assert all(graphemes(part) <= limit for part in parts)
    assert_whole(text, chunks(parts))


@settings(max_examples=200, deadline=None)
@given(
    pieces=st.lists(st.sampled_from(PIECES), max_size=200),
    limit=st.integers(min_value=40, max_value=200),
)
def test_a_shortened_text_is_a_prefix_of_the_text_within_the_limit(pieces, limit):
    text = "".join(pieces).strip()
    link = "https://portal.example/p/1"
    short = shorten(text, limit, mastodon, link)
    assert mastodon(short) <= limit
    if short != text:
        assert short.endswith(f"… {link}")
        kept = short.removesuffix(f"… {link}").rstrip()
        assert text.startswith(kept)


# -- rules -----------------------------------------------------------------------------------------


def test_a_connectors_own_rules_win():
    assert rules_for(Mastodon) is Mastodon.POST_RULES


@pytest.mark.parametrize("name", ["instagram", "facebook", "vk", "telegram", "matrix", "bluesky"])
def test_networks_without_rules_of_their_own_get_the_documented_ones(name):
    connector = connectors.get(name)
    assert connector is not None
    if connector.POST_RULES is None:
        assert rules_for(connector) is RULES[name]
    else:
        assert rules_for(connector) is connector.POST_RULES


def test_a_network_the_portal_does_not_publish_to_has_no_rules():
    github = connectors.get("github")
    assert github is not None
    assert rules_for(github) is None


def test_the_documented_limits():
    assert (TELEGRAM.max_length, TELEGRAM.caption_length, TELEGRAM.max_media) == (4096, 1024, 10)
    assert RULES["facebook"].max_length == 63_206
    assert (BLUESKY.max_length, MASTODON.max_length, MASTODON.content_warning) == (300, 500, True)
    assert all(isinstance(rules, PostRules) for rules in RULES.values())


def test_adapting_needs_no_web_framework():
    code = "import sys, portal.domain.posts.adapt; sys.exit('fastapi' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
