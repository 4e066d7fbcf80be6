"""The tables. Alembic migrations in ``migrations/`` are the only way the schema changes."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


MAX_ID = 2**31 - 1
"""The largest value of an Integer column on PostgreSQL, which refuses to compare beyond it: a
typed id past it is no row, not an error."""


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class CardGeneration(Base):
    """One row, counting the committed changes to what a card shows (people, pictures, linked
    accounts, contacts, blocks): every process's kept cards are dropped when it moved (see
    ``portal.domain.card_cache``)."""

    __tablename__ = "card_generation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class PortalNumber(Base):
    """Every number ever handed out. A row is never deleted, so a number is never reused."""

    __tablename__ = "portal_numbers"

    number: Mapped[str] = mapped_column(String(15), primary_key=True)
    length: Mapped[int] = mapped_column(Integer, index=True)
    allocated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(
        String(15), ForeignKey("portal_numbers.number"), unique=True
    )
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(100))
    bio: Mapped[str] = mapped_column(Text, default="")
    avatar_etag: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    # Who sees what (portal.domain.privacy): public, members, contacts or private.
    name_audience: Mapped[str] = mapped_column(String(10), default="public")
    avatar_audience: Mapped[str] = mapped_column(String(10), default="public")
    bio_audience: Mapped[str] = mapped_column(String(10), default="public")
    phone_audience: Mapped[str] = mapped_column(String(10), default="private")
    find_by_number: Mapped[bool] = mapped_column(Boolean, default=True)
    find_by_phone: Mapped[bool] = mapped_column(Boolean, default=False)
    find_by_name: Mapped[bool] = mapped_column(Boolean, default=False)
    messages_from: Mapped[str] = mapped_column(String(10), default="contacts")
    """Who may message the person through Portal (portal.domain.reach): ``contacts``,
    ``members`` or ``nobody``."""

    phone: Mapped[str | None] = mapped_column(String(16), unique=True, default=None)
    """The verified phone number, E.164; an unverified one waits in PhoneVerification."""
    phone_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    region: Mapped[str] = mapped_column(String(2), default="")
    """Two-letter region for reading the numbers the person types or uploads (``IT``)."""
    notify_by_email: Mapped[bool] = mapped_column(Boolean, default=False)
    email_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    """When the owner opened the link sent to ``email``; until then nobody can find them."""
    guide_done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    """When the owner finished or skipped the guided start after signing up (``/me/start``)."""
    language: Mapped[str | None] = mapped_column(String(5), default=None)
    """The language of the owner's pages, emails and notifications (``it``); None follows
    the browser's."""

    # The unified feed read elsewhere: a private address for reader apps, the Fever API.
    feed_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    """SHA-256 of the secret in the private address of one's feed as Atom and JSON Feed."""
    fever_key_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    """SHA-256 of the Fever API key (the MD5 of ``email:password`` that Fever apps send)."""
    digest_hour: Mapped[int | None] = mapped_column(Integer, default=None)
    """The hour (0-23, in UTC) the morning digest is emailed; None: never emailed."""
    digest_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    feed_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    """When the owner last opened their feed: the digest tells what came since."""

    avatar: Mapped[Avatar | None] = relationship(
        back_populates="user", lazy="raise", cascade="all, delete-orphan", passive_deletes=True
    )


class Avatar(Base):
    """The re-encoded picture, kept in the database so that web processes stay stateless."""

    __tablename__ = "avatars"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    content_type: Mapped[str] = mapped_column(String(40))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    etag: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="avatar", lazy="raise")


class WebSession(Base):
    """A signed-in browser. The cookie holds a random secret; only its SHA-256 is stored."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    user_agent: Mapped[str] = mapped_column(String(200), default="")


class ApiToken(Base):
    """A personal access token for the API. Only its SHA-256 is stored; it is shown once."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_user_id_created_at", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class LinkedAccount(Base):
    """An account of the person on another network, shown behind their number."""

    __tablename__ = "linked_accounts"
    __table_args__ = (
        UniqueConstraint("user_id", "network", "handle"),
        Index("ix_linked_accounts_user_id_position", "user_id", "position"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    network: Mapped[str] = mapped_column(String(40))
    handle: Mapped[str] = mapped_column(String(320))
    server: Mapped[str] = mapped_column(String(255), default="")
    """The instance, homeserver or provider the account lives on, where the network has many."""
    external_id: Mapped[str | None] = mapped_column(String(320), default=None)
    """The network's own stable id (OpenID ``sub``, a DID, an account id) once verified."""
    display_name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(20), default="unverified")
    verified_by: Mapped[str | None] = mapped_column(String(20), default=None)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    position: Mapped[int] = mapped_column(Integer, default=0)
    secrets: Mapped[str | None] = mapped_column(Text, default=None)
    """Encrypted JSON of what acts for the account (tokens, an XMPP password). Never plain."""
    token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    problem: Mapped[str] = mapped_column(String(300), default="")
    audience: Mapped[str] = mapped_column(String(10), default="public")
    """Who sees the account behind the number (portal.domain.privacy)."""
    reach_rank: Mapped[int | None] = mapped_column(Integer, default=None)
    """Where the account comes in the order the owner wants to be messaged on (1 first);
    ``None``: not chosen, after the chosen ones in the card's order (portal.domain.reach)."""
    reach_off: Mapped[bool] = mapped_column(Boolean, default=False)
    """The owner does not want to be messaged here through Portal."""
    feed_source_id: Mapped[int | None] = mapped_column(
        ForeignKey("feed_sources.id", ondelete="SET NULL"), default=None, index=True
    )
    """The account's public feed, read by the people who follow the owner's number."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class OAuthApp(Base):
    """This portal registered as a client of one server (a Mastodon instance, say)."""

    __tablename__ = "oauth_apps"
    __table_args__ = (UniqueConstraint("network", "server", "redirect_uri"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    network: Mapped[str] = mapped_column(String(40))
    server: Mapped[str] = mapped_column(String(255))
    redirect_uri: Mapped[str] = mapped_column(String(2048))
    client_id: Mapped[str] = mapped_column(String(255))
    secrets: Mapped[str | None] = mapped_column(Text, default=None)
    """Encrypted JSON holding the client secret."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LinkAttempt(Base):
    """A link under way: an OAuth authorization or an email code, used once, soon expired."""

    __tablename__ = "link_attempts"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 of the OAuth ``state`` (or of the attempt's random id): the value is not kept."""
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    network: Mapped[str] = mapped_column(String(40))
    server: Mapped[str] = mapped_column(String(255), default="")
    linked_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("linked_accounts.id", ondelete="CASCADE"), default=None, index=True
    )
    secrets: Mapped[str] = mapped_column(Text)
    """Encrypted JSON: PKCE verifier, nonce, redirect URI, or the digest of an email code."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ContactRequest(Base):
    """One person asked another to become mutual contacts; gone once answered."""

    __tablename__ = "contact_requests"
    __table_args__ = (UniqueConstraint("sender_id", "recipient_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sender_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    recipient_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    message: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Contact(Base):
    """One side of a mutual contact: a pair is always two rows, ``a→b`` and ``b→a``, made and
    removed together; the row carries what its owner keeps about the other (tags)."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("owner_id", "other_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    other_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ContactTag(Base):
    """A tag of the owner's own on one of their contacts."""

    __tablename__ = "contact_tags"

    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(40), primary_key=True)


class Block(Base):
    """The owner blocked another person: they see no more than an anonymous viewer."""

    __tablename__ = "blocks"

    owner_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    blocked_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Invite(Base):
    """A one-time invitation to become mutual contacts, for meeting in person."""

    __tablename__ = "invites"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 of the invitation's secret: the secret itself is only in the link."""
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    used_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )


class PhoneVerification(Base):
    """A phone number waiting for its code."""

    __tablename__ = "phone_verifications"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    phone: Mapped[str] = mapped_column(String(16))
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Notification(Base):
    """Something that happened for a person: a contact request, an answer, a broken link."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_id_id", "user_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), default=None
    )
    linked_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("linked_accounts.id", ondelete="CASCADE"), default=None
    )
    feed_source_id: Mapped[int | None] = mapped_column(
        ForeignKey("feed_sources.id", ondelete="CASCADE"), default=None
    )
    """The feed it is about (a feed paused)."""
    post_id: Mapped[str | None] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), default=None
    )
    """The post it is about (new answers to it)."""
    detail: Mapped[str] = mapped_column(String(500), default="")
    """What the sentence names besides (JSON): who answered, on which network, how many."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class EmailLink(Base):
    """A one-time link sent by email: confirm an address, reset a password, change the email.

    Only the SHA-256 of the link's secret is kept; a link is used once and expires soon."""

    __tablename__ = "email_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20))
    """``confirm``, ``reset`` or ``change``."""
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    new_email: Mapped[str | None] = mapped_column(String(254), default=None)
    """The address the link was mailed to: for ``change`` the new one (the account keeps its
    old address until the link is used); for the others the account's address then, so that a
    link stops working once the account has moved to another address."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class FeedSource(Base):
    """A feed, fetched once for everyone who reads it: one poll serves all its subscribers.

    Its health is kept for its readers to see: when it last worked, what went wrong last (a
    message id with its parameters) and when it is polled next. A source that has failed for
    a week without a success is paused (``paused_at``) until someone refreshes it."""

    __tablename__ = "feed_sources"
    __table_args__ = (Index("ix_feed_sources_next_poll_at", "next_poll_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    kind: Mapped[str] = mapped_column(String(10), default="")
    title: Mapped[str] = mapped_column(String(500), default="")
    site_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    etag: Mapped[str | None] = mapped_column(String(1024), default=None)
    last_modified: Mapped[str | None] = mapped_column(String(64), default=None)
    hint_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    """How often the feed itself says it changes (``<ttl>``, ``sy:updatePeriod``)."""
    next_poll_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(String(300), default=None)
    """What went wrong at the last poll, as a message id (``None`` after a success)."""
    last_error_params: Mapped[str | None] = mapped_column(Text, default=None)
    """The message's parameters, as JSON."""
    failures: Mapped[int] = mapped_column(Integer, default=0)
    """Failed polls in a row."""
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("linked_accounts.id", ondelete="CASCADE", use_alter=True),
        default=None,
        index=True,
    )
    """The linked account whose own reading this is (a Mastodon home timeline, a Bluesky
    follow list): a private source, read with the account's token, never shared and never
    found by its address (``portal.domain.feeds.timelines``). ``None`` for a feed."""
    cursor: Mapped[str | None] = mapped_column(String(100), default=None)
    """The newest item a private source has seen (a Mastodon status id)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FeedEntry(Base):
    """One entry of a source, stored once for all its readers; an updated entry replaces it."""

    __tablename__ = "feed_entries"
    __table_args__ = (
        UniqueConstraint("source_id", "key_hash"),
        Index("ix_feed_entries_source_id_sort_at", "source_id", "sort_at", "id"),
        Index("ix_feed_entries_sort_at", "sort_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("feed_sources.id", ondelete="CASCADE"))
    key_hash: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the entry's identity in its source: its guid, else link, else content."""
    guid: Mapped[str | None] = mapped_column(String(1000), default=None)
    link: Mapped[str | None] = mapped_column(String(2000), default=None)
    title: Mapped[str] = mapped_column(String(500), default="")
    html: Mapped[str] = mapped_column(Text, default="")
    """Sanitised when stored (portal.domain.feeds.sanitize)."""
    text: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str | None] = mapped_column(String(200), default=None)
    image: Mapped[str | None] = mapped_column(String(2000), default=None)
    digest: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    sort_at: Mapped[datetime] = mapped_column(UTCDateTime)
    """When it was published, or first seen if it says nothing or a time yet to come."""
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FeedSubscription(Base):
    """A person reads a source."""

    __tablename__ = "feed_subscriptions"
    __table_args__ = (
        UniqueConstraint("user_id", "source_id"),
        Index("ix_feed_subscriptions_source_id", "source_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    source_id: Mapped[int] = mapped_column(ForeignKey("feed_sources.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(500), default="")
    """The reader's own name for the source; empty for the source's title."""
    folder: Mapped[str] = mapped_column(String(100), default="")
    network: Mapped[str] = mapped_column(String(40), default="", server_default="")
    """The network the source shows (``mastodon`` for a home timeline, ``bluesky`` for an
    account followed there); empty for a feed."""
    via_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("linked_accounts.id", ondelete="CASCADE"),
        default=None,
        index=True,
    )
    """The linked account whose follows made this subscription (it goes with an unfollow)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FeedEntryState(Base):
    """What one reader did with one entry: read it, starred it. No row: unread, not starred."""

    __tablename__ = "feed_entry_states"
    __table_args__ = (Index("ix_feed_entry_states_user_id_starred_at", "user_id", "starred_at"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("feed_entries.id", ondelete="CASCADE"), primary_key=True
    )
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    starred_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class Follow(Base):
    """A person follows another by number: they read the public feeds of the accounts the
    owner shows them, decided when they read (portal.domain.privacy), not when they follow."""

    __tablename__ = "follows"
    __table_args__ = (
        UniqueConstraint("user_id", "owner_id"),
        Index("ix_follows_owner_id", "owner_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# The tables of publishing live in their own module; importing it here puts them in
# ``Base.metadata`` wherever the models are loaded (migrations, the schema check).
from portal.storage import messages as _messages  # noqa: E402, F401
from portal.storage import posts as _posts  # noqa: E402, F401
