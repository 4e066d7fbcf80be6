"""What one post may hold on a linked account's server, for the live preview and the check of a
post being saved: the limits the server sets itself (a Mastodon instance's ``max_characters``
and ``max_media_attachments``, :attr:`connectors.base.Connector.RULES_FROM_SERVER`), as the
delivery will find them, rather than the network's documented defaults.

**Kept by whom.** Each application owns its :class:`RulesCache` (built by ``create_app``, kept
on ``app.state``, handed to the routes by a dependency as :class:`ServerRules`, with the app's
link services): one per portal process, shared by every person writing, so many people on one
instance cost one question to it. Two applications in one process (each with its own address
rules) never see each other's answers.

**Kept how long.** A server's answer is kept for an hour (:data:`KEEP`). A server that gives
none (down, too slow, an address the portal refuses, an answer that is not what Mastodon
sends) or tells nothing more than the defaults is asked again after five minutes
(:data:`KEEP_DEFAULTS`), and meanwhile its posts are shown by the documented rules: a dead
instance slows no more than one preview every five minutes, by at most :data:`TIMEOUT`.
At most :data:`MAX_SERVERS` servers are kept, the one asked least recently dropped first.
The connector itself keeps an instance's answer for an hour in the portal's context
(:class:`connectors.base.Kept`): asked again here, a server that answered gives the same
answer from there, without a call, until its hour is out.
Previews that arrive together for one server share one question.

Nothing is written: the settings are public, asked with no token, so the account's token is
never renewed for them. The connector is built as for any other work of the account, with the
portal's guarded HTTP client (:meth:`~portal.domain.linking.services.LinkServices.http`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from connectors import base
from portal.domain import linking
from portal.domain.linking.services import LinkServices, connector
from portal.errors import NotFound
from portal.storage.models import LinkedAccount

log = logging.getLogger(__name__)

KEEP = 3600.0
"""Seconds a server's own limits are kept."""
KEEP_DEFAULTS = 300.0
"""Seconds the defaults are kept for a server that gave no limits of its own."""
TIMEOUT = 3.0
"""Seconds a server has to answer, everything included (its address looked up, connecting)."""
MAX_SERVERS = 1_000

_Key = tuple[str, str]
"""(network, server)."""


@dataclass(frozen=True, slots=True)
class _Kept:
    rules: base.PostRules
    until: float


class RulesCache:
    """The limits of the servers of linked accounts, asked once and kept a while."""

    def __init__(
        self,
        *,
        max_servers: int = MAX_SERVERS,
        keep: float = KEEP,
        keep_defaults: float = KEEP_DEFAULTS,
        timeout: float = TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_servers = max_servers
        self.keep = keep
        self.keep_defaults = keep_defaults
        self.timeout = timeout
        self._clock = clock
        self._kept: OrderedDict[_Key, _Kept] = OrderedDict()
        self._asking: dict[_Key, asyncio.Task[base.PostRules]] = {}

    def __len__(self) -> int:
        return len(self._kept)

    def clear(self) -> None:
        """Forget every server's answer (one being asked is still kept when it comes)."""
        self._kept.clear()

    @staticmethod
    def _key(account: LinkedAccount) -> _Key | None:
        """Whose answer holds for ``account``; ``None`` where its network's documented rules do."""
        try:
            cls = connector(account.network)
        except NotFound:
            return None
        if not cls.RULES_FROM_SERVER or cls.POST_RULES is None or not account.server:
            return None
        return cls.NAME, account.server.lower()

    def asks(self, accounts: Iterable[LinkedAccount]) -> bool:
        """Whether :meth:`of` would ask a server for any of ``accounts`` now (what it knows of
        the others is fresh)."""
        now = self._clock()
        for account in accounts:
            key = self._key(account)
            if key is None:
                continue
            kept = self._kept.get(key)
            if kept is None or kept.until <= now:
                return True
        return False

    async def of(
        self, services: LinkServices, accounts: Iterable[LinkedAccount]
    ) -> dict[int, base.PostRules]:
        """The rules of each account whose server sets its own, by account id; an account left
        out goes by its network's documented rules. Servers are asked at once, not in turn."""
        keys: dict[int, _Key] = {}
        first: dict[_Key, LinkedAccount] = {}
        for account in accounts:
            key = self._key(account)
            if key is not None:
                keys[account.id] = key
                first.setdefault(key, account)
        if not keys:
            return {}
        found = await asyncio.gather(*(self._rules(services, key, first[key]) for key in first))
        by_key = dict(zip(first, found, strict=True))
        return {account_id: by_key[key] for account_id, key in keys.items()}

    async def _rules(
        self, services: LinkServices, key: _Key, account: LinkedAccount
    ) -> base.PostRules:
        kept = self._kept.get(key)
        if kept is not None and kept.until > self._clock():
            self._kept.move_to_end(key)
            return kept.rules
        loop = asyncio.get_running_loop()
        task = self._asking.get(key)
        if task is None or task.done() or task.get_loop() is not loop:
            # What the connector needs is read now: the task holds no database object.
            credentials = linking.load_credentials(services, account) or base.Credentials()
            task = loop.create_task(self._ask(services, key, account.handle, credentials))
            self._asking[key] = task
        # One waiter gone (a preview the browser dropped) leaves the question to the others.
        return await asyncio.shield(task)

    async def _ask(
        self, services: LinkServices, key: _Key, handle: str, credentials: base.Credentials
    ) -> base.PostRules:
        cls = connector(key[0])
        defaults = cls.POST_RULES
        assert defaults is not None  # _key
        rules = defaults
        try:
            async with asyncio.timeout(self.timeout), services.http() as http:
                instance = cls(handle, credentials, http, context=services.context)
                rules = await instance.post_rules()
        except Exception as error:  # whatever the server did, the defaults hold for now
            log.info("%s %s: no post limits (%s)", key[0], key[1], type(error).__name__)
        finally:
            if self._asking.get(key) is asyncio.current_task():
                del self._asking[key]
        keep = self.keep if rules != defaults else self.keep_defaults
        self._kept[key] = _Kept(rules, self._clock() + keep)
        self._kept.move_to_end(key)
        while len(self._kept) > self.max_servers:
            self._kept.popitem(last=False)
        return rules


@dataclass(frozen=True, slots=True)
class ServerRules:
    """An app's :class:`RulesCache`, asking with the app's link services."""

    cache: RulesCache
    services: LinkServices

    def asks(self, accounts: Iterable[LinkedAccount]) -> bool:
        return self.cache.asks(accounts)

    async def of(self, accounts: Iterable[LinkedAccount]) -> dict[int, base.PostRules]:
        return await self.cache.of(self.services, accounts)
