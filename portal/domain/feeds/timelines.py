"""What a person reads on their own linked accounts, as sources of their unified feed.

- **Mastodon**: the account's home timeline (``GET /api/v1/timelines/home``,
  https://docs.joinmastodon.org/methods/timelines/#home), read with the account's token. The
  newest status id seen is kept on the source (``cursor``) and sent back as ``since_id``; a
  poll reads the newest page, then older ones by the ``Link`` header, down to it and at most
  :data:`connectors.mastodon._connector.HOME_PAGES` pages
  (:meth:`connectors.mastodon.Mastodon.home_timeline`). A 429 waits as long as the server
  says; a 401 (the token revoked) pauses the source and tells the owner that the account
  needs reconnecting, once. Private mentions (``direct``) are messages, not reading: left out.
- **Bluesky**: the accounts it follows. Its follow records
  (``com.atproto.repo.listRecords`` of ``app.bsky.graph.follow`` on its own PDS, public) are
  read, at most :data:`MAX_FOLLOWS`; each followed DID is resolved to its PDS (a few new ones
  a poll, :data:`RESOLVE_AT_ONCE`) and its public posts are the shared source that followers of
  a Portal number read too (:func:`.accounts.shared_source`). The owner is subscribed to each,
  marked as made by the account (``FeedSubscription.via_account_id``): a new follow is added at
  the next poll, an unfollow removed, and a feed the person follows by hand is left alone.

Such an account's source is **private**: it belongs to the account (``FeedSource.account_id``),
its address is a name of Portal's own (``account:<id>:<kind>``) that no fetch and no
subscription accepts, :func:`.store.source_at` never finds it, and only its owner is subscribed
to it. The token is never copied to the source: the poller loads the account's encrypted
secrets when it claims the source (:func:`readers`) and decrypts them only for the fetch
(:func:`retrieve`). Each subscription says the network it shows (``FeedSubscription.network``:
``mastodon``, ``bluesky``; empty for a feed).

The source appears when an account that can be read is linked or proven, and goes with it
(:func:`set_timeline`, called where :func:`.accounts.set_feed` is; an unlinked account takes its
source with it, by the foreign key).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors import base
from connectors._http import json_object, json_text
from connectors.atproto import xrpc
from connectors.bluesky import posts_address
from connectors.mastodon import Mastodon
from portal.crypto import SecretUnreadable, Vault
from portal.domain import notifications
from portal.domain.feeds import accounts as feed_accounts
from portal.domain.feeds.accounts import forget_if_unread, shared_source
from portal.domain.feeds.fetch import Fetched, FetchError, Validators
from portal.domain.feeds.statuses import HOME, home_feed, newest_id
from portal.domain.feeds.store import Retrieved
from portal.errors import N_
from portal.storage.models import FeedSource, FeedSubscription, LinkedAccount, utcnow

log = logging.getLogger("portal.feeds")

FOLLOWS = "follows"
KINDS = {"mastodon": HOME, "bluesky": FOLLOWS}
"""The networks whose accounts' reading becomes a source, and the kind of that source."""
MAX_FOLLOWS = 500
"""The most followed accounts read from one follow list."""
FOLLOWS_PAGE = 100
RESOLVE_AT_ONCE = 50
"""Followed accounts newly resolved to their PDS in one poll; the others at the next ones."""
VERIFIED = "verified"
NEEDS_RECONNECT = "needs_reconnect"
"""``portal.domain.linking.VERIFIED`` and ``NEEDS_RECONNECT`` (that package imports this one)."""
REVOKED = N_("The account no longer lets Portal read it: connect it again.")
REFUSED = N_("The network refused to give what this account reads.")
_FOLLOW = "app.bsky.graph.follow"


def private_url(account_id: int, kind: str) -> str:
    """The name of an account's private source: no address anyone can fetch or follow."""
    return f"account:{account_id}:{kind}"


# -- linking -------------------------------------------------------------------------------------


async def set_timeline(
    session: AsyncSession, account: LinkedAccount, *, now: datetime | None = None
) -> FeedSource | None:
    """Give an account that can be read (proven, with secrets, on a network of :data:`KINDS`)
    its private source and its owner's subscription to it, due at once; an account that no
    longer can be read loses them. An account waiting to be reconnected keeps its source as
    it is; once reconnected, its paused source runs again."""
    kind = KINDS.get(account.network)
    source: FeedSource | None = await session.scalar(
        select(FeedSource).where(FeedSource.account_id == account.id)
    )
    if kind is None or account.secrets is None or account.status not in (VERIFIED, NEEDS_RECONNECT):
        if source is not None:
            await session.delete(source)
            await session.flush()
        return None
    if account.status == NEEDS_RECONNECT:  # kept, paused, until it is connected again
        return source
    now = now or utcnow()
    if source is None:
        source = FeedSource(
            url=private_url(account.id, kind),
            account_id=account.id,
            kind=kind,
            title=feed_accounts.account_name(account),
            next_poll_at=now,
        )
        session.add(source)
        await session.flush()
    elif source.paused_at is not None:
        source.paused_at = None
        source.failures = 0
        source.failing_since = None
        source.next_poll_at = now
    subscribed = await session.scalar(
        select(FeedSubscription.id).where(
            FeedSubscription.user_id == account.user_id, FeedSubscription.source_id == source.id
        )
    )
    if subscribed is None:
        session.add(
            FeedSubscription(user_id=account.user_id, source_id=source.id, network=account.network)
        )
    await session.flush()
    return source


async def fill_missing(session: AsyncSession, *, batch: int = 500) -> int:
    """Give every account that can be read and was proven before timelines were kept its
    private source; how many were given one. For an operator's command: in batches."""
    done = after = 0
    owned = select(FeedSource.account_id).where(FeedSource.account_id.is_not(None))
    while True:
        rows = await session.scalars(
            select(LinkedAccount)
            .where(
                LinkedAccount.network.in_(list(KINDS)),
                LinkedAccount.status == VERIFIED,
                LinkedAccount.secrets.is_not(None),
                LinkedAccount.id.not_in(owned),
                LinkedAccount.id > after,
            )
            .order_by(LinkedAccount.id)
            .limit(batch)
        )
        accounts = list(rows)
        if not accounts:
            return done
        for account in accounts:
            done += await set_timeline(session, account) is not None
        after = accounts[-1].id


async def forget_account(session: AsyncSession, account: LinkedAccount) -> None:
    """Before an account is unlinked: its private source goes, and so do the subscriptions
    its follows made, with each followed source nobody reads any more."""
    await sync_follows_of(session, account, {}, utcnow())
    await session.execute(delete(FeedSource).where(FeedSource.account_id == account.id))
    await session.flush()


async def account_revoked(
    session: AsyncSession, account_id: int, *, mailer: notifications.Mailer | None = None
) -> None:
    """The network no longer accepts the account's token: it needs reconnecting, and its
    owner is told once, when it moves into that state."""
    account = await session.get(LinkedAccount, account_id)
    if account is None or account.status == NEEDS_RECONNECT:
        return
    account.status = NEEDS_RECONNECT
    account.problem = REVOKED
    await session.flush()
    await notifications.account_needs_reconnect(session, account, mailer=mailer)


# -- claiming: what a fetch needs ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reader:
    """What reading one private source needs, loaded when it is claimed; the secrets stay
    encrypted until the fetch."""

    account_id: int
    kind: str
    network: str
    handle: str
    server: str
    secrets: str | None
    cursor: str | None
    followed: frozenset[str] = frozenset()
    """The DIDs the owner is subscribed to through this account already."""
    home: str = ""
    """Where the account's own posts are read (its public feed), when it has such a place:
    for a Bluesky account, on its PDS."""

    @property
    def origin(self) -> str:
        """The server read, for the poller's per-host pools: a Mastodon account's instance, a
        Bluesky account's PDS as its public feed names it."""
        if self.network == "mastodon":
            return base.server_url(self.server or self.handle.partition("@")[2] or "invalid")
        parts = urlsplit(self.home)
        return f"{parts.scheme}://{parts.netloc}" if parts.netloc else "https://bsky.network"


async def readers(
    session: AsyncSession, sources: Sequence[tuple[int, int, str, str | None]]
) -> dict[int, Reader]:
    """The readers of claimed private sources, given as ``(source id, account id, kind,
    cursor)``, by source id."""
    if not sources:
        return {}
    ids = [account_id for _, account_id, _, _ in sources]
    accounts = {
        account.id: account
        for account in await session.scalars(select(LinkedAccount).where(LinkedAccount.id.in_(ids)))
    }
    followed: dict[int, set[str]] = {}
    rows = await session.execute(
        select(FeedSubscription.via_account_id, FeedSource.url)
        .join(FeedSource, FeedSource.id == FeedSubscription.source_id)
        .where(FeedSubscription.via_account_id.in_(ids))
    )
    for via, url in rows:
        did = _did_of(url)
        if via is not None and did:
            followed.setdefault(via, set()).add(did)
    homes: dict[int, str] = {}
    feeds = await session.execute(
        select(LinkedAccount.id, FeedSource.url)
        .join(FeedSource, FeedSource.id == LinkedAccount.feed_source_id)
        .where(LinkedAccount.id.in_(ids))
    )
    for account_id, url in feeds:
        homes[account_id] = url
    found = {}
    for source_id, account_id, kind, cursor in sources:
        account = accounts.get(account_id)
        if account is None:
            continue
        found[source_id] = Reader(
            account_id=account.id,
            kind=kind,
            network=account.network,
            handle=account.handle,
            server=account.server,
            secrets=account.secrets,
            cursor=cursor,
            followed=frozenset(followed.get(account.id, ())),
            home=homes.get(account.id, ""),
        )
    return found


def _did_of(url: str) -> str:
    try:
        return parse_qs(urlsplit(url).query).get("repo", [""])[0]
    except ValueError:
        return ""


# -- fetching ------------------------------------------------------------------------------------


async def retrieve(
    http: httpx.AsyncClient,
    reader: Reader,
    *,
    vault: Vault | None,
    context: base.Context,
    parsing: asyncio.Semaphore | None = None,
) -> Retrieved:
    """Read a private source with its account's credentials; no database at hand."""
    if vault is None:  # a poller not given the keys: the account is not at fault
        return Retrieved(error=FetchError(REFUSED))
    credentials = _credentials(vault, reader.secrets)
    if credentials is None:
        return Retrieved(error=FetchError(REVOKED, refused=True), revoked=True)
    try:
        if reader.kind == HOME:
            return await _home(http, reader, credentials, context, parsing)
        if reader.kind == FOLLOWS:
            return await _follows(http, reader, credentials, context)
    except base.AuthRevoked:
        return Retrieved(error=FetchError(REVOKED, refused=True), revoked=True)
    except base.RateLimited as error:
        return Retrieved(
            error=FetchError(
                N_("The server asks us to fetch less often."), retry_after=error.retry_after
            )
        )
    except base.Retriable:
        return Retrieved(error=FetchError(N_("The server could not be reached.")))
    except (base.ConnectorError, ValueError) as error:
        log.info("reading account %s failed: %s", reader.account_id, error)
        return Retrieved(error=FetchError(REFUSED))
    return Retrieved(error=FetchError(REFUSED, refused=True))


def _credentials(vault: Vault, secrets: str | None) -> base.Credentials | None:
    if not secrets:
        return None
    try:
        value = vault.decrypt_json(secrets)
    except SecretUnreadable:
        return None
    return base.Credentials(
        access_token=str(value.get("access_token", "")),
        refresh_token=str(value.get("refresh_token", "")),
        scope=str(value.get("scope", "")),
        extra=dict(value.get("extra") or {}),
    )


def _answer(url: str, nothing_new: bool) -> Fetched:
    return Fetched(
        url=url,
        moved_to=None,
        not_modified=nothing_new,
        body=b"",
        content_type="application/json",
        validators=Validators(),
        max_age=None,
    )


async def _home(
    http: httpx.AsyncClient,
    reader: Reader,
    credentials: base.Credentials,
    context: base.Context,
    parsing: asyncio.Semaphore | None,
) -> Retrieved:
    connection = Mastodon(reader.handle, credentials, http, context=context)
    statuses = await connection.home_timeline(reader.cursor)
    url = f"{base.server_url(connection.instance)}/api/v1/timelines/home"
    if not statuses:
        return Retrieved(_answer(url, True))
    async with parsing or contextlib.nullcontext():
        feed = await asyncio.to_thread(home_feed, statuses, base.server_url(connection.instance))
    return Retrieved(_answer(url, False), feed, cursor=newest_id(statuses, reader.cursor))


# -- Bluesky follows ----------------------------------------------------------------------------


async def _follows(
    http: httpx.AsyncClient,
    reader: Reader,
    credentials: base.Credentials,
    context: base.Context,
) -> Retrieved:
    did, pds = credentials.extra.get("did"), credentials.extra.get("pds")
    if not isinstance(did, str) or not isinstance(pds, str) or not did or not pds:
        return Retrieved(error=FetchError(REVOKED, refused=True), revoked=True)
    pds = pds.rstrip("/")
    followed = await _followed(http, pds, did)
    known = [subject for subject in followed if subject in reader.followed]
    new = [subject for subject in followed if subject not in reader.followed]
    found: dict[str, tuple[str, str]] = {}
    for subject in known:
        found[subject] = ("", "")  # kept as it is
    identities = await asyncio.gather(
        *(_identity(http, context, subject) for subject in new[:RESOLVE_AT_ONCE])
    )
    for subject, identity in zip(new, identities, strict=False):
        if identity is not None:
            found[subject] = identity
    url = f"{pds}/xrpc/com.atproto.repo.listRecords?" + urlencode(
        {"repo": did, "collection": _FOLLOW}
    )
    return Retrieved(_answer(url, True), follows=found)


async def _followed(http: httpx.AsyncClient, pds: str, did: str) -> list[str]:
    """The DIDs ``did`` follows, newest follow first, at most :data:`MAX_FOLLOWS`."""
    subjects: list[str] = []
    cursor = ""
    while len(subjects) < MAX_FOLLOWS:
        params = {"repo": did, "collection": _FOLLOW, "limit": str(FOLLOWS_PAGE)}
        if cursor:
            params["cursor"] = cursor
        data = await xrpc(http, pds, "com.atproto.repo.listRecords", params=params, label="The PDS")
        records = data.get("records")
        if not isinstance(records, list):
            # Not an empty list of follows: a wrong answer, which must not unfollow anyone.
            raise ValueError("a list of follow records without its records")
        for record in records:
            value = json_object(json_object(record).get("value"))
            subject = json_text(value.get("subject"))
            if subject.startswith("did:") and subject not in subjects:
                subjects.append(subject)
        cursor = json_text(data.get("cursor"))
        if not cursor or len(records) < FOLLOWS_PAGE:
            break
    return subjects[:MAX_FOLLOWS]


async def _identity(
    http: httpx.AsyncClient, context: base.Context, did: str
) -> tuple[str, str] | None:
    """The posts address and the name of a followed DID, or ``None`` when it cannot be
    resolved now (it is tried again at the next poll)."""
    try:
        document = await context.resolver.resolve_did(did, http)
    except (base.ConnectorError, httpx.HTTPError) as error:
        log.info("resolving %s failed: %s", did, error)
        return None
    if document.pds is None:
        return None
    name = f"Bluesky @{document.handle}" if document.handle else f"Bluesky {did}"
    return posts_address(document.pds, did), name


async def sync_follows(
    session: AsyncSession,
    source: FeedSource,
    follows: Mapping[str, tuple[str, str]],
    now: datetime,
) -> None:
    """Keep the owner of a follow list subscribed to each account it follows (newly resolved
    ones added), and to none it no longer follows."""
    account = await session.get(LinkedAccount, source.account_id) if source.account_id else None
    if account is not None:
        await sync_follows_of(session, account, follows, now)


async def sync_follows_of(
    session: AsyncSession,
    account: LinkedAccount,
    follows: Mapping[str, tuple[str, str]],
    now: datetime,
) -> None:
    """:func:`sync_follows` for ``account``."""
    current = await session.execute(
        select(FeedSubscription, FeedSource.url)
        .join(FeedSource, FeedSource.id == FeedSubscription.source_id)
        .where(FeedSubscription.via_account_id == account.id)
    )
    kept: set[str] = set()
    for subscription, url in current.all():
        did = _did_of(url)
        if did in follows:
            kept.add(did)
            continue
        source_id = subscription.source_id
        await session.execute(
            delete(FeedSubscription).where(FeedSubscription.id == subscription.id)
        )
        await forget_if_unread(session, source_id)
    for did, (url, name) in follows.items():
        if did in kept or not url:
            continue
        followed = await shared_source(session, url, now, name)
        taken = await session.scalar(
            select(FeedSubscription.id).where(
                FeedSubscription.user_id == account.user_id,
                FeedSubscription.source_id == followed.id,
            )
        )
        if taken is None:
            session.add(
                FeedSubscription(
                    user_id=account.user_id,
                    source_id=followed.id,
                    network=account.network,
                    via_account_id=account.id,
                )
            )
    await session.flush()
