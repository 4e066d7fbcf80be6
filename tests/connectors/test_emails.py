"""Emails as Portal writes them and reads the answers to them: the text of a reply as mail
clients write one, and mail written to break a reader."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from connectors._emails import (
    compose,
    html_to_text,
    message_id,
    read_answer,
    same_address,
    subject_of,
    without_quotes,
)

THREAD = message_id("copy-1", "ada@example.org")


@pytest.mark.parametrize(
    ("reply", "text"),
    [
        pytest.param(
            "Friday suits me.\n\nOn Mon, 7 Dec 2026 at 17:00, Ada <ada@example.org> wrote:\n"
            "> Tea at five?\n> Ada\n",
            "Friday suits me.",
            id="gmail",
        ),
        pytest.param(
            "Friday suits me.\n\nOn Mon, Dec 7, 2026 at 5:00 PM Ada Lovelace <\n"
            "ada@example.org> wrote:\n\n> Tea at five?\n",
            "Friday suits me.",
            id="gmail, the attribution wrapped",
        ),
        pytest.param(
            "Oui !\n\nLe lun. 7 déc. 2026 à 17:00, Ada <ada@example.org> a écrit :\n"
            "> Thé à cinq heures ?\n",
            "Oui !",
            id="gmail in French",
        ),
        pytest.param(
            "Va bene.\n\nIl giorno lun 7 dic 2026 alle ore 17:00 Ada <ada@example.org> ha"
            " scritto:\n> Tè alle cinque?\n",
            "Va bene.",
            id="gmail in Italian",
        ),
        pytest.param(
            "On Mon, Ada wrote:\n> Tea at five?\nYes.\n> Or at six?\nBetter six.\n",
            "Yes.\nBetter six.",
            id="answered between the quoted lines",
        ),
        pytest.param(
            "Sure.\n\n________________________________\nFrom: Ada <ada@example.org>\n"
            "Sent: Monday, 7 December 2026 17:00\nTo: Grace\nSubject: Tea\n\nTea at five?\n",
            "Sure.",
            id="outlook",
        ),
        pytest.param(
            "Sure.\n\n-----Original Message-----\nFrom: Ada\nTea at five?",
            "Sure.",
            id="outlook, older",
        ),
        pytest.param("Sure.\n\n-- \nGrace Hopper\nYale\n", "Sure.", id="a signature"),
        pytest.param("Yes.\n\nOn Mon, Ada wrote:\nTea at five?\n", "Yes.", id="quoted without >"),
        pytest.param(
            "Here is what she wrote:\nbring scones.\n\n\n\nGrace",
            "Here is what she wrote:\nbring scones.\n\nGrace",
            id="nothing quoted",
        ),
    ],
)
def test_a_reply_is_read_without_what_it_quotes(reply: str, text: str) -> None:
    assert without_quotes(reply) == text


def test_html_is_read_as_its_text_with_its_quotes_marked() -> None:
    html = (
        "<html><head><style>p { color: red }</style><title>Re: Tea</title></head><body>"
        '<div dir="ltr">Friday&nbsp;suits <b>me</b> &amp; Ada.<br>See you</div>'
        '<div class="gmail_quote">On Mon, Ada &lt;ada@example.org&gt; wrote:<br>'
        "<blockquote><p>Tea at five?</p><blockquote>Older</blockquote></blockquote></div>"
        "<script>alert(1)</script><!-- a comment --><ul><li>one</li><li>two</li></ul>"
        "</body></html>"
    )
    assert html_to_text(html) == (
        "Friday suits me & Ada.\nSee you\nOn Mon, Ada <ada@example.org> wrote:\n"
        "> Tea at five?\n> > Older\n- one\n- two"
    )
    assert without_quotes(html_to_text(html)) == "Friday suits me & Ada.\nSee you\n- one\n- two"


@pytest.mark.parametrize(
    "html",
    [
        pytest.param(
            '<div dir="ltr"><div>Friday suits me.</div><div><br></div><div>Grace</div></div>'
            '<br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Mon, Dec 7,'
            ' 2026 at 5:00 PM Ada &lt;<a href="mailto:ada@example.org">ada@example.org</a>'
            '&gt; wrote:<br></div><blockquote class="gmail_quote" style="margin:0px">'
            "Tea at five?</blockquote></div>",
            id="gmail",
        ),
        pytest.param(
            "<html><head><style><!-- p.MsoNormal {margin:0} --></style></head><body>"
            "<div class=WordSection1><p class=MsoNormal>Friday suits me.<o:p></o:p></p>"
            "<p class=MsoNormal><br></p><p class=MsoNormal>Grace</p>"
            '<div style="border:none"><p class=MsoNormal><b>From:</b> Ada<br>'
            "<b>Sent:</b> Monday, 7 December 2026 17:00<br><b>To:</b> Grace<br>"
            "<b>Subject:</b> Tea</p></div><p class=MsoNormal>Tea at five?</p></div>",
            id="outlook",
        ),
    ],
)
def test_an_html_reply_is_read_without_what_it_quotes(html: str) -> None:
    assert without_quotes(html_to_text(html)) == "Friday suits me.\n\nGrace"


@pytest.mark.parametrize(
    "html",
    [
        "<a" * 100_000,
        "</" * 100_000,
        "<![" * 80_000,
        "<blockquote>" * 20_000,
        "<!--" + "-" * 250_000,
        "&#" + "9" * 250_000,
    ],
    ids=["unclosed tags", "unclosed ends", "declarations", "deep quotes", "comment", "number"],
)
def test_html_written_to_break_a_parser_is_read_in_no_time(html: str) -> None:
    # The processor's own time, not the wall clock: a busy machine does not fail it. Quadratic
    # parsing of these takes minutes; linear, well under a second.
    started = time.process_time()
    html_to_text(html)
    assert time.process_time() - started < 5.0


def test_a_subject_is_the_first_line_cut_at_a_word() -> None:
    assert subject_of("\n  Tea at five?\nI'll bring scones.") == "Tea at five?"
    assert subject_of(
        "Grace, are we still on for tea at five on Friday? I'll bring the cake and the scones."
    ) == ("Grace, are we still on for tea at five on Friday? I'll bring…")
    assert subject_of("x" * 100) == "x" * 60 + "…"


def test_every_try_of_a_message_is_the_same_email() -> None:
    now = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)
    one = compose("ada@example.org", "grace@example.org", "Tea?", THREAD, now)
    assert message_id("copy-1", "ada@example.org") == THREAD
    assert message_id("copy-2", "ada@example.org") != THREAD
    assert b"Message-ID: " + THREAD.encode() + b"\r\n" in one
    assert b"copy-1" not in one  # the key is the copy's own, never shown
    assert one.isascii()  # 7 bits: any server relays it as it is
    assert compose("ada@example.org", "grace@example.org", "Tè?", THREAD, now).isascii()


def test_an_address_is_the_same_in_any_case_and_in_unicode() -> None:
    assert same_address("Grace@Example.ORG", "grace@example.org")
    assert same_address("grace@bücher.example", "grace@xn--bcher-kva.example")
    assert not same_address("grace@example.org", "grace@example.org.evil.example")


def _mail(headers: str, body: str = "Friday suits me.") -> bytes:
    return f"{headers}\r\n\r\n{body}\r\n".encode()


ARRIVED = datetime(2026, 12, 7, 17, 5, tzinfo=UTC)


def test_an_answer_is_from_the_recipient_alone_and_to_the_message() -> None:
    base = "Message-ID: <r@example.org>\r\nDate: Mon, 07 Dec 2026 17:01:00 +0000\r\n"
    answer = read_answer(
        _mail(base + f"From: Grace <grace@example.org>\r\nIn-Reply-To: {THREAD}"),
        "grace@example.org",
        THREAD,
        ARRIVED,
    )
    assert answer is not None
    assert (answer.id, answer.text) == ("<r@example.org>", "Friday suits me.")
    assert answer.written_at == datetime(2026, 12, 7, 17, 1, tzinfo=UTC)
    for headers in [
        f"From: bob@example.org\r\nIn-Reply-To: {THREAD}",
        f"From: grace@example.org, bob@example.org\r\nIn-Reply-To: {THREAD}",
        "From: grace@example.org\r\nIn-Reply-To: <another@example.org>",
        "From: grace@example.org",
    ]:
        assert read_answer(_mail(base + headers), "grace@example.org", THREAD, ARRIVED) is None


def test_an_answer_is_never_written_after_it_arrived() -> None:
    future = f"From: grace@example.org\r\nIn-Reply-To: {THREAD}\r\nDate: Fri, 1 Jan 2100 0:00 +0000"
    undated = f"From: grace@example.org\r\nIn-Reply-To: {THREAD}\r\nDate: yesterday"
    for headers in (future, undated):
        answer = read_answer(_mail(headers), "grace@example.org", THREAD, ARRIVED)
        assert answer is not None and answer.written_at == ARRIVED
        assert answer.id.endswith("@no-message-id>")


@pytest.mark.parametrize(
    "headers",
    [
        "From: " + "=?utf-8?q?a?= " * 20_000 + "<grace@example.org>",
        "From: " + "<" * 200_000 + "grace@example.org",
        "From: grace@example.org\r\nContent-Type: text/plain; " + "a=b; " * 40_000,
    ],
    ids=["encoded words", "angle brackets", "parameters"],
)
def test_headers_written_to_break_a_parser_are_passed_over_in_no_time(headers: str) -> None:
    started = time.process_time()
    mail = _mail(f"{headers}\r\nIn-Reply-To: {THREAD}")
    assert read_answer(mail, "grace@example.org", THREAD, ARRIVED) is None
    assert time.process_time() - started < 5.0
