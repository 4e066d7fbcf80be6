"""Portal numbers: short, random, self-checking identifiers.

A number is ``length - 1`` random digits (the first never ``0``) followed by a Damm check
digit. The Damm algorithm (H. Michael Damm, 2004) detects every single-digit substitution and
every transposition of two adjacent digits, so a typo never silently becomes somebody
else's number. See https://en.wikipedia.org/wiki/Damm_algorithm.

Numbers are drawn with a cryptographic generator, so they cannot be walked one by one.
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from portal.errors import InvalidInput

# The weakly totally anti-symmetric quasigroup of order 10 from Damm's thesis.
_DAMM_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

MIN_LENGTH = 4
MAX_LENGTH = 15
_SEPARATORS = frozenset(" -.\u00a0\u2009\u202f\t")


def damm_check_digit(digits: str) -> int:
    """The digit that, appended to ``digits``, makes the Damm interim value zero."""
    interim = 0
    for ch in digits:
        interim = _DAMM_TABLE[interim][ord(ch) - 48]
    return interim


def is_valid(number: str) -> bool:
    """Whether an all-digit string carries a correct check digit."""
    return number.isascii() and number.isdigit() and damm_check_digit(number) == 0


class RandomSource(Protocol):
    def randrange(self, stop: int, /) -> int: ...


SYSTEM_RANDOM: RandomSource = secrets.SystemRandom()


def generate(length: int, rng: RandomSource = SYSTEM_RANDOM) -> str:
    """A fresh random number of ``length`` digits, the last being the check digit."""
    if not MIN_LENGTH <= length <= MAX_LENGTH:
        raise ValueError(f"length must be between {MIN_LENGTH} and {MAX_LENGTH}")
    body = str(1 + rng.randrange(9)) + "".join(str(rng.randrange(10)) for _ in range(length - 2))
    return body + str(damm_check_digit(body))


def capacity(length: int) -> int:
    """How many valid numbers of ``length`` digits exist (first digit 1-9, last fixed)."""
    return int(9 * 10 ** (length - 2))


def parse(text: str) -> str:
    """Read a number typed by a person: ``#482 913-75``, ``482.913.75``, full-width digits…

    Returns the bare digits, or raises :class:`InvalidInput` with a message that says what is
    wrong. A number whose check digit does not match is refused, never looked up.
    """
    cleaned = unicodedata.normalize("NFKC", text).strip()
    if cleaned.startswith("#"):
        cleaned = cleaned[1:]
    digits = "".join(ch for ch in cleaned if ch not in _SEPARATORS)
    if not digits:
        raise InvalidInput("Enter a portal number.", field="number")
    if not (digits.isascii() and digits.isdigit()):
        raise InvalidInput(
            "A portal number has only digits (spaces, dashes and dots are fine).", field="number"
        )
    if len(digits) < MIN_LENGTH or len(digits) > MAX_LENGTH:
        raise InvalidInput(
            "A portal number has %(min)d to %(max)d digits; this one has %(count)d.",
            field="number",
            min=MIN_LENGTH,
            max=MAX_LENGTH,
            count=len(digits),
        )
    if digits[0] == "0":
        raise InvalidInput("A portal number never starts with 0.", field="number")
    if damm_check_digit(digits) != 0:
        raise InvalidInput(
            "This number has a typo: its last digit does not match the others. "
            "Check each digit and try again.",
            field="number",
        )
    return digits


def display(number: str) -> str:
    """Group digits for reading aloud: ``48291375`` → ``482 913 75``.

    Groups of three from the left; a lone final digit is avoided by ending on two pairs.
    """
    groups = [number[i : i + 3] for i in range(0, len(number), 3)]
    if len(groups) > 1 and len(groups[-1]) == 1:
        last = groups[-2] + groups[-1]
        groups[-2:] = [last[:2], last[2:]]
    return " ".join(groups)


@dataclass(frozen=True)
class AllocationPolicy:
    """How long new numbers are and when the length grows."""

    min_length: int = 8
    max_fill: float = 0.5
    attempts: int = 32


class NumberSpaceExhausted(RuntimeError):
    """No free number could be found even at the longest length."""


async def allocate(
    policy: AllocationPolicy,
    used_by_length: Callable[[int], Awaitable[int]],
    try_claim: Callable[[str], Awaitable[bool]],
    rng: RandomSource = SYSTEM_RANDOM,
) -> str:
    """Draw random numbers until one can be claimed.

    ``used_by_length(n)`` counts numbers of length ``n`` ever handed out (tombstones
    included); ``try_claim(number)`` atomically reserves a number and says whether it was
    free; the database's unique constraint makes this safe between processes. Below the fill
    ratio each draw succeeds with probability above ``1 - max_fill``, so ``attempts`` failures
    in a row mean the space is fuller than counted (other processes allocate too), and the
    next length is used.
    """
    for length in range(policy.min_length, MAX_LENGTH + 1):
        if await used_by_length(length) >= policy.max_fill * capacity(length):
            continue
        for _ in range(policy.attempts):
            candidate = generate(length, rng)
            if await try_claim(candidate):
                return candidate
    raise NumberSpaceExhausted("no free portal number is left at any length")
