"""When to poll a feed again.

After a success, the feed's own hints decide, within bounds: the answer's
``Cache-Control: max-age``, RSS 2.0's ``<ttl>`` (minutes) and the Syndication module's
``sy:updatePeriod`` with ``sy:updateFrequency`` (RSS 1.0, http://purl.org/rss/1.0/modules/syndication/).
The longest hint wins — each is the publisher asking not to be fetched more often — but never
more often than :data:`SHORTEST` nor less often than :data:`LONGEST`.

After a failure, the wait doubles with each failure in a row, from :data:`SHORTEST` up to
:data:`LONGEST_BACKOFF`, with "equal jitter" (half the wait fixed, half random) so that the
sources of a host that was down do not all come back at the same moment. A ``Retry-After``
longer than that is honoured, up to :data:`LONGEST_BACKOFF`. A source that has failed for
:data:`PAUSE_AFTER` without a single success is paused, and its owner told.
"""

from __future__ import annotations

import random
from datetime import timedelta

SHORTEST = 15 * 60.0
"""Seconds: no feed is polled more often, whatever it says."""
USUAL = 60 * 60.0
"""Seconds between polls of a feed that gives no hint."""
LONGEST = 24 * 3600.0
LONGEST_BACKOFF = 24 * 3600.0
PAUSE_AFTER = timedelta(days=7)

_PERIODS = {
    "hourly": 3600.0,
    "daily": 86400.0,
    "weekly": 7 * 86400.0,
    "monthly": 30 * 86400.0,
    "yearly": 365 * 86400.0,
}


def update_period(period: str | None, frequency: str | int | None) -> float | None:
    """The seconds between updates that ``sy:updatePeriod`` and ``sy:updateFrequency`` say
    (the frequency is how many times per period, 1 when absent); ``None`` if unreadable."""
    if not period:
        return None
    seconds = _PERIODS.get(period.strip().lower())
    if seconds is None:
        return None
    try:
        times = int(str(frequency).strip()) if frequency not in (None, "") else 1
    except ValueError:
        times = 1
    return seconds / max(times, 1)


def ttl(minutes: str | int | None) -> float | None:
    """RSS 2.0's ``<ttl>`` in seconds, or ``None`` when absent or not a number."""
    if minutes is None:
        return None
    try:
        value = int(str(minutes).strip())
    except ValueError:
        return None
    return value * 60.0 if value > 0 else None


def interval_hint(*hints: float | None) -> float | None:
    """The longest of the hints given (any may be ``None``), or ``None``."""
    given = [hint for hint in hints if hint is not None and hint > 0]
    return max(given) if given else None


def interval(*hints: float | None) -> float:
    """Seconds until the next poll after a success, from the feed's hints (any may be
    ``None``): the longest one, kept between :data:`SHORTEST` and :data:`LONGEST`."""
    longest = interval_hint(*hints)
    if longest is None:
        return USUAL
    return min(max(longest, SHORTEST), LONGEST)


def backoff(
    failures: int, retry_after: float | None = None, rng: random.Random | None = None
) -> float:
    """Seconds until the next try after ``failures`` failures in a row (1 for the first)."""
    draw = (rng or random).random()
    ceiling = min(SHORTEST * 2.0 ** min(max(failures - 1, 0), 32), LONGEST_BACKOFF)
    wait = ceiling / 2 + draw * ceiling / 2
    if retry_after is not None and retry_after > wait:
        wait = min(retry_after, LONGEST_BACKOFF)
    return wait
