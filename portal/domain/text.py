"""Cleaning of what people type: names, bios, emails.

Names are checked the way UTS #39 ("Unicode Security Mechanisms") suggests: NFKC form, no
control or invisible formatting characters, and no word that mixes alphabets whose letters
look alike (a Cyrillic ``а`` inside a Latin word). Japanese, Chinese and Korean combinations
that UTS #39 calls "highly restrictive" are allowed. https://www.unicode.org/reports/tr39/
"""

from __future__ import annotations

import re
import unicodedata

from email_validator import EmailNotValidError, validate_email

from portal.errors import N_, InvalidInput

# Joiners are needed by Persian, Indic scripts and emoji sequences; every other format
# character (bidi overrides, zero-width spaces, tags…) only serves to hide or reorder text.
_ALLOWED_FORMAT = frozenset("\u200c\u200d")
_ALLOWED_SCRIPT_SETS = (
    frozenset({"LATIN", "CJK", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "CJK", "BOPOMOFO"}),
    frozenset({"LATIN", "CJK", "HANGUL"}),
)
_SCRIPT_ALIASES = {"KATAKANA-HIRAGANA": "KATAKANA", "IDEOGRAPHIC": "CJK"}
_WHITESPACE = re.compile(r"\s+")
MAX_EMAIL = 254
_EMAIL_TOO_LONG = N_("An email address has at most %(max)d characters.")
# Full stops that IDNA reads as dots, after NFKC: a fully qualified domain ends with one.
_FULL_STOPS = (".", "\u3002")


def _script(ch: str) -> str | None:
    """The script of a letter, read off its Unicode name; ``None`` for anything else."""
    if not unicodedata.category(ch).startswith("L"):
        return None
    name = unicodedata.name(ch, "")
    first = name.split(" ", 1)[0]
    if first in {"MODIFIER", "SUPERSCRIPT", "SUBSCRIPT", ""}:
        return None
    return _SCRIPT_ALIASES.get(first, first)


def _mixed_word(text: str) -> tuple[str, frozenset[str]] | None:
    for word in text.split():
        scripts = frozenset(s for s in map(_script, word) if s)
        if len(scripts) > 1 and not any(scripts <= allowed for allowed in _ALLOWED_SCRIPT_SETS):
            return word, scripts
    return None


def reject_invisible(text: str, label: str, field: str, *, newlines: bool) -> None:
    """Refuse a character nobody can see (control, format, unassigned), naming its code."""
    for ch in text:
        if newlines and ch == "\n":
            continue
        category = unicodedata.category(ch)
        if category in {"Cc", "Cs", "Co", "Cn", "Zl", "Zp"} or (
            category == "Cf" and ch not in _ALLOWED_FORMAT
        ):
            raise InvalidInput(
                "%(label)s contains an invisible or control character (U+%(code)04X); "
                "please remove it.",
                field=field,
                label=label,
                code=ord(ch),
            )


def clean_name(text: str, *, field: str = "display_name", max_length: int = 100) -> str:
    """A display name: one line, 1-``max_length`` characters, no lookalike mixing."""
    value = unicodedata.normalize("NFKC", text)
    reject_invisible(value, "The name", field, newlines=False)
    value = _WHITESPACE.sub(" ", value).strip()
    if not value:
        raise InvalidInput("Enter a name.", field=field)
    if len(value) > max_length:
        raise InvalidInput("A name has at most %(max)d characters.", field=field, max=max_length)
    mixed = _mixed_word(value)
    if mixed:
        word, scripts = mixed
        names = " and ".join(sorted(s.title() for s in scripts))
        raise InvalidInput(
            "The word “%(word)s” mixes %(names)s letters. Letters of different alphabets that "
            "look alike can be used to impersonate someone, so each word must use one alphabet.",
            field=field,
            word=word,
            names=names,
        )
    return value


def clean_bio(text: str, *, max_length: int = 1000) -> str:
    """A short text about oneself: several lines allowed, no control characters."""
    value = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    reject_invisible(value, "The bio", "bio", newlines=True)
    value = value.strip()
    if len(value) > max_length:
        raise InvalidInput("A bio has at most %(max)d characters.", field="bio", max=max_length)
    return value


def clean_email(text: str) -> str:
    """The one form of an address, used for identity, uniqueness, rate limits and logs; its
    domain is not looked up.

    Spellings that read the same are one address: compatibility forms (fullwidth letters,
    ligatures, circled digits) become plain letters (NFKC), letters are lower-cased, and the
    domain goes through IDNA (UTS #46), so that ``bücher.example`` and
    ``xn--bcher-kva.example`` are one domain, kept in its Unicode form. The dot that ends a
    fully qualified domain (``example.org.``) is dropped.
    """
    candidate = unicodedata.normalize("NFKC", text).strip()
    if "@" in candidate and candidate.endswith(_FULL_STOPS):
        candidate = candidate[:-1]
    if not candidate:
        raise InvalidInput("Enter an email address.", field="email")
    if len(candidate) > MAX_EMAIL:
        raise InvalidInput(_EMAIL_TOO_LONG, field="email", max=MAX_EMAIL)
    try:
        result = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput(
            "This email address is not valid: %(reason)s", field="email", reason=str(exc)
        ) from None
    local = unicodedata.normalize("NFKC", result.local_part.lower())
    address = f"{local}@{result.domain.lower()}"
    if len(address) > MAX_EMAIL:
        raise InvalidInput(_EMAIL_TOO_LONG, field="email", max=MAX_EMAIL)
    return address


def email_key(text: str) -> str:
    """What was typed as an email, in the form that rate limits count: the address's one form,
    or, for what is not an address, its NFKC lower-cased text, so that look-alike spellings
    of anything count as one."""
    try:
        return clean_email(text[: 4 * MAX_EMAIL])
    except InvalidInput:
        return unicodedata.normalize("NFKC", text[: 4 * MAX_EMAIL]).strip().lower()[:MAX_EMAIL]
