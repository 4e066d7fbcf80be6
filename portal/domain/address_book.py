"""The phone numbers of an address book (.vcf) someone uploads, for contact discovery.

The file comes from anyone, so it is checked before vobject reads it: its size, its text
(UTF-8, or UTF-16 with a byte-order mark, as some phones export it), how many cards it holds
and how deep cards nest (vCard 2.1 lets a card carry another, and vobject reads nesting by
recursion). Whatever vobject cannot read is refused as a whole, with a message that says so.
"""

from __future__ import annotations

import binascii
import codecs
import re

import vobject
from vobject.base import VObjectError

from portal.errors import N_, InvalidInput, PayloadTooLarge

MAX_BYTES = 5 * 1024 * 1024
MAX_CARDS = 5000
MAX_DEPTH = 2
"""A card, and one card inside it (a vCard 2.1 AGENT)."""

NOT_A_VCF = N_("This file is not an address book in vCard format (.vcf).")
UNREADABLE = N_(
    "This address book could not be read: part of it is not in vCard format. Export it again "
    "from your phone or address book app."
)
_BEGIN_OR_END = re.compile(r"^[ \t]*(BEGIN|END)[ \t]*:", re.IGNORECASE | re.MULTILINE)


def _text(data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        if b"BEGIN:VCARD" not in data.upper():
            raise InvalidInput(NOT_A_VCF, field="file") from error
        raise InvalidInput(
            "This address book is not UTF-8 text. Export it again as vCard 3.0 or 4.0.",
            field="file",
        ) from error
    if "\x00" in text:
        raise InvalidInput(NOT_A_VCF, field="file")
    return text


def _check_shape(text: str) -> None:
    """Refuse too many cards, or cards nested deeper than :data:`MAX_DEPTH`, before parsing."""
    depth = cards = 0
    for match in _BEGIN_OR_END.finditer(text):
        if match.group(1).upper() == "BEGIN":
            depth += 1
            cards += depth == 1
            if depth > MAX_DEPTH:
                raise InvalidInput(
                    "This address book has cards inside cards inside cards; it cannot be read.",
                    field="file",
                )
        else:
            depth = max(depth - 1, 0)
    if cards > MAX_CARDS:
        raise PayloadTooLarge(
            "An address book may have at most %(max)d cards.", field="file", max=MAX_CARDS
        )


def _number(value: object) -> str | None:
    if not isinstance(value, str):
        return None  # a binary (base64) value is no phone number
    number = value.strip()
    if number.lower().startswith("tel:"):
        number = number[4:]
    return number.split(";", 1)[0].strip() or None


def numbers_from_vcard(data: bytes) -> list[str]:
    """The phone numbers of every card in a .vcf file (vCard 2.1, 3.0 and 4.0), in order."""
    if len(data) > MAX_BYTES:
        raise PayloadTooLarge("This file is too large for an address book.", field="file")
    text = _text(data)
    if "BEGIN:VCARD" not in text.upper():
        raise InvalidInput(NOT_A_VCF, field="file")
    _check_shape(text)
    found: list[str] = []
    try:
        for component in vobject.readComponents(text):
            if component.name.upper() != "VCARD":
                raise InvalidInput(NOT_A_VCF, field="file")
            for line in component.contents.get("tel", []):
                number = _number(line.value)
                if number:
                    found.append(number)
    except (VObjectError, ValueError, binascii.Error) as error:  # a line or value it cannot read
        raise InvalidInput(UNREADABLE, field="file") from error
    return found
