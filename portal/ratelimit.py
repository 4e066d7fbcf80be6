"""Rate limits on what can be guessed or abused (sign-in, sign-up, token creation).

In memory for the embedded default; ``redis://…`` shares the counters between web
processes in production. Built on the ``limits`` library's moving-window strategy.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse_many
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from portal.errors import RateLimited

# name → rules; every rule of a name must admit a hit.
RULES: dict[str, str] = {
    # Confirming something with the password (a new password, deleting the account), per account.
    "signin": "10/minute;60/hour",
    # Signing in, counted on the email's one form (portal.domain.text.email_key): tightly per
    # email and client address, so that a stranger guessing from one address does not lock the
    # owner out elsewhere; loosely per email, which still bounds guessing from many addresses;
    # and per client address whatever the email.
    "signin_pair": "10/minute;30/hour;100/day",
    "signin_email": "30/minute;100/hour;300/day",
    "signin_address": "20/minute;100/hour",
    # Wrong passwords per email: past this the owner is told, at most once per warning window.
    "signin_failures": "5/hour",
    "signin_warning": "1/day",
    "signup": "10/hour;30/day",
    "token": "10/minute;60/hour",
    "profile": "60/minute",
    "link": "20/minute;200/hour",
    "email_code": "3/10minute;10/day",
    # Links sent by email (confirm, new password, new address): per address written to, and
    # per client address or account asking.
    "email_link_pair": "3/10minute;10/day",
    "email_link": "10/hour;30/day",
    "email_link_from": "10/hour;50/day",
    # Looking numbers up, per client address and per account: a miss costs LOOKUP_MISS_COST,
    # so that walking numbers stops within a few dozen tries while a person never notices.
    "lookup": "60/minute;600/hour;3000/day",
    # Contact requests sent, per account and per client address; invitations made and used.
    "contact_request": "20/minute;100/hour;300/day",
    "invite": "10/minute;60/hour",
    # Phone codes, per account and per number texted (nobody can have a number flooded).
    "phone_code": "3/10minute;10/day",
    "phone_code_to": "3/10minute;5/day",
    # Contact discovery: uploads per account, and phone numbers per account (cost = count).
    "discovery": "20/hour;60/day",
    "discovery_numbers": "5000/day",
    # Searching by name or handle, per account and per client address.
    "search": "30/minute;300/hour;1000/day",
    # Feeds refreshed by hand and feeds added, per account: each one fetches another server.
    "feed_fetch": "10/minute;100/hour",
    # Pictures of the entries shown, fetched through Portal, per account.
    "feed_image": "600/minute;6000/hour",
    # Keys of reader apps (a Fever key, a private feed address) that open nothing, per client
    # address; and a Fever app's requests, per account.
    "fever_key": "20/minute;200/hour",
    "fever": "600/minute",
    # Posts written, and pictures uploaded for them, per account.
    "post": "30/minute;300/hour;1000/day",
    # Messages written, per sender; and received, per recipient, whoever writes (nobody can
    # have a person flooded through Portal).
    "message": "10/minute;100/hour;500/day",
    "message_to": "30/hour;200/day",
    "post_media": "30/minute;300/hour",
    # A post's pictures fetched by the networks they are published on (signed addresses that
    # expire), per client address.
    "public_picture": "120/minute;1200/hour",
}
LOOKUP_MISS_COST = 5


class RateLimiter:
    def __init__(self, storage_uri: str, *, enabled: bool = True) -> None:
        self.enabled = enabled
        if not storage_uri.startswith("async+"):
            storage_uri = "async+" + storage_uri
        options = {"implementation": "redispy"} if "redis" in storage_uri else {}
        self._storage = storage_from_string(storage_uri, **options)
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._rules: dict[str, list[RateLimitItem]] = {
            name: parse_many(spec) for name, spec in RULES.items()
        }

    async def close(self) -> None:
        """Close the Redis connection pool, if there is one (the memory store has none)."""
        client = getattr(getattr(self._storage, "bridge", None), "storage", None)
        if client is not None:
            await client.aclose()

    async def admit(self, name: str, *keys: str) -> bool:
        """Count one event against ``name`` for ``keys``; whether every rule admitted it. For
        what is noted rather than refused (a warning sent at most so often)."""
        if not self.enabled:
            return True
        admitted = True
        for item in self._rules[name]:
            admitted = await self._limiter.hit(item, name, *keys) and admitted
        return admitted

    async def hit(self, name: str, *keys: str, cost: int = 1) -> None:
        """Count ``cost`` attempts against ``name`` for ``keys``; raise :class:`RateLimited` if
        a rule would go over."""
        if not self.enabled:
            return
        for item in self._rules[name]:
            if not await self._limiter.hit(item, name, *keys, cost=cost):
                stats = await self._limiter.get_window_stats(item, name, *keys)
                retry_after = max(1, math.ceil(stats.reset_time - time.time()))
                raise RateLimited(
                    "Too many attempts. Please wait a little and try again.",
                    retry_after=retry_after,
                )
