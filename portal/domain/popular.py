"""The networks people link most, in that order: offered first wherever a person picks a
network (the guided start, the network picker).

Plain data that imports nothing: the build of the networks' icons reads it with the system's
Python, before anything is installed."""

from __future__ import annotations

POPULAR: tuple[str, ...] = (
    "whatsapp",
    "telegram",
    "instagram",
    "facebook",
    "x",
    "mastodon",
    "bluesky",
    "linkedin",
    "github",
    "signal",
    "email",
    "website",
)
