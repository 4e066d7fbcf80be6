"""The address of a message's picture, for the messengers that take none in a message: the
same on every try of the message, working for a month after it was written, then not."""

from __future__ import annotations

import time

from portal.domain.posts import public_pictures

SECRET = "a secret of the portal, long enough"


def test_every_try_of_a_message_writes_the_same_address() -> None:
    written = time.time()
    first = public_pictures.message_address("https://portal.example", "m1", SECRET, written)
    again = public_pictures.message_address("https://portal.example", "m1", SECRET, written)
    other = public_pictures.message_address("https://portal.example", "m2", SECRET, written)
    assert first == again != other
    assert first.startswith("https://portal.example/pictures/")


def test_the_address_works_for_a_month_after_the_message_was_written() -> None:
    written = time.time()
    address = public_pictures.message_address("https://portal.example", "m1", SECRET, written)
    token = address.rsplit("/", 1)[1]
    month = public_pictures.MESSAGE_LIFETIME
    assert month >= 7 * 86400
    assert public_pictures.read(token, SECRET, now=written + month - 60) == "m1"
    assert public_pictures.read(token, SECRET, now=written + month + 1) is None
    assert public_pictures.read(token, "another portal's secret") is None


def test_a_posts_picture_address_is_new_each_time_and_lives_an_hour() -> None:
    first, second = (public_pictures.token("p1", SECRET) for _ in range(2))
    assert first != second
    assert public_pictures.read(first, SECRET, now=time.time() + 3500) == "p1"
    assert public_pictures.read(second, SECRET) == "p1"
    assert public_pictures.read(first, SECRET, now=time.time() + 3700) is None
