"""Address books people upload are read by vobject, within limits: what cannot be read, or is
too much to read, is refused with a message that says why, never with a server error."""

from __future__ import annotations

import pytest

from portal.domain import address_book
from portal.errors import InvalidInput, PayloadTooLarge

VCARD_3 = b"""BEGIN:VCARD\r
VERSION:3.0\r
N:Lovelace;Ada;;;\r
FN:Ada Lovelace\r
TEL;TYPE=CELL:+39 347 123 4567\r
item1.TEL;type="voice,home":0412 345 678\r
item1.X-ABLabel:home\r
NOTE:Call me: TEL:+1 555 not a tel line\r
END:VCARD\r
BEGIN:VCARD\r
VERSION:3.0\r
FN:Grace Hopper\r
TEL;TYPE=WORK,VOICE:(201) 555-\r
 0123\r
END:VCARD\r
"""

VCARD_4 = """\ufeffBEGIN:VCARD
VERSION:4.0
FN:Émile
TEL;VALUE=uri;PREF=1;TYPE="voice,home":tel:+33-6-12-34-56-78
TEL;VALUE=uri;TYPE=cell:tel:+1-201-555-0123;ext=45
PHOTO:data:image/png;base64,iVBORw0KGgo=
END:VCARD
""".encode()

VCARD_21 = b"""BEGIN:VCARD
VERSION:2.1
N:Doe;John
TEL;CELL;PREF:+44 7400 123456
TEL;HOME:
END:VCARD
"""

CARD = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada\r\nTEL:+39 347 123 4567\r\nEND:VCARD\r\n"


def test_the_numbers_of_every_version_are_read():
    assert address_book.numbers_from_vcard(VCARD_3) == [
        "+39 347 123 4567",
        "0412 345 678",
        "(201) 555-0123",
    ]
    assert address_book.numbers_from_vcard(VCARD_4) == ["+33-6-12-34-56-78", "+1-201-555-0123"]
    assert address_book.numbers_from_vcard(VCARD_21) == ["+44 7400 123456"]


def test_utf16_with_a_byte_order_mark_is_read():
    data = CARD.replace("Ada", "Adà").encode("utf-16")
    assert address_book.numbers_from_vcard(data) == ["+39 347 123 4567"]


def test_a_binary_tel_value_is_skipped():
    card = CARD.replace("END:VCARD", "TEL;ENCODING=b:AAAA\r\nEND:VCARD")
    assert address_book.numbers_from_vcard(card.encode()) == ["+39 347 123 4567"]


def test_a_huge_file_is_refused_before_it_is_read():
    data = CARD.encode() * (address_book.MAX_BYTES // len(CARD) + 1)
    with pytest.raises(PayloadTooLarge, match="too large"):
        address_book.numbers_from_vcard(data)


def test_too_many_cards_are_refused(monkeypatch):
    monkeypatch.setattr(address_book, "MAX_CARDS", 3)
    assert len(address_book.numbers_from_vcard((CARD * 3).encode())) == 3
    with pytest.raises(PayloadTooLarge, match="at most 3 cards"):
        address_book.numbers_from_vcard((CARD * 4).encode())


def test_cards_nested_deeply_are_refused():
    deep = "BEGIN:VCARD\r\n" * 5000 + "END:VCARD\r\n" * 5000
    with pytest.raises(InvalidInput, match="cards inside cards"):
        address_book.numbers_from_vcard(deep.encode())
    agent = "BEGIN:VCARD\r\nVERSION:2.1\r\nTEL:+1 201 555 0123\r\n" + CARD + "END:VCARD\r\n"
    assert address_book.numbers_from_vcard(agent.encode()) == ["+1 201 555 0123"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (CARD.replace("END:VCARD\r\n", ""), "could not be read"),
        (CARD.replace("FN:Ada", "this line has no colon"), "part of it is not in vCard format"),
        ("BEGIN:VCARD\r\n" + "\x00" * 10, "not an address book"),
        ("BEGIN:VCALENDAR\r\nBEGIN:VCARD\r\nEND:VCARD\r\nEND:VCALENDAR\r\n", "not an address"),
        ("hello", "not an address book"),
    ],
)
def test_broken_files_are_refused_with_a_reason(text, message):
    with pytest.raises(InvalidInput, match=message):
        address_book.numbers_from_vcard(text.encode())


def test_a_file_in_another_encoding_is_refused():
    data = CARD.replace("Ada", "Adà").encode("latin-1")
    with pytest.raises(InvalidInput, match="not UTF-8"):
        address_book.numbers_from_vcard(data)
    with pytest.raises(InvalidInput, match="not an address book"):
        address_book.numbers_from_vcard(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
