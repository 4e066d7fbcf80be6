"""The tables of publishing: posts, their pictures, one delivery per target, and the durable
queue of background work (``portal.domain.jobs``) that delivers them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from portal.storage.models import Base, UTCDateTime, utcnow


class Job(Base):
    """One piece of background work, kept until it is done (or, done, made the next work on
    its subject: a new job in the same row): a worker claims it by writing a lease
    (``leased_until``); a worker that dies leaves the lease to run out, and the job is claimed
    again. One job per subject and kind (``deliver`` delivery 7)."""

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("kind", "subject"),
        Index("ix_jobs_run_at", "run_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(100))
    run_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    """When it is due: now, a scheduled time, or the time of the next retry."""
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    worker: Mapped[str] = mapped_column(String(100), default="")
    """Who holds the lease: only they may finish the job while it runs."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Post(Base):
    """What a person wrote once to publish on several networks: a draft, scheduled, or sent
    (its :class:`Delivery` rows say where it stands on each network)."""

    __tablename__ = "posts"
    __table_args__ = (Index("ix_posts_user_id_created_at", "user_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    """Random, not a counter: a post's address tells nothing of the others."""
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text, default="")
    content_warning: Mapped[str] = mapped_column(String(500), default="")
    state: Mapped[str] = mapped_column(String(12), default="draft")
    """``draft``, ``scheduled`` (``publish_at`` ahead), ``published`` (handed to the
    deliveries) or ``deleted``."""
    publish_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PostMedia(Base):
    """A picture for a post or a message, stored re-encoded: uploaded first, attached to one
    post or one message after."""

    __tablename__ = "post_media"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    post_id: Mapped[str | None] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), default=None, index=True
    )
    message_id: Mapped[str | None] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), default=None, index=True
    )
    """The message it goes with, instead of a post: a picture is used once, by one or other."""
    position: Mapped[int] = mapped_column(Integer, default=0)
    mime_type: Mapped[str] = mapped_column(String(40))
    width: Mapped[int] = mapped_column(Integer, default=0)
    height: Mapped[int] = mapped_column(Integer, default=0)
    size: Mapped[int] = mapped_column(Integer, default=0)
    description: Mapped[str] = mapped_column(Text, default="")
    """The alt text."""
    no_description: Mapped[bool] = mapped_column(Boolean, default=False)
    """The author chose to go without alt text (it is asked for otherwise)."""
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Delivery(Base):
    """A post on one target (a linked account, and a room or channel where it posts into
    one): its own version of the text, its status, and what the network answered."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("post_id", "account_id", "destination"),
        # The copies on one network sent lately: where an answer pushed by the network
        # (Telegram's comments) may belong.
        Index("ix_deliveries_network_sent_at", "network", "sent_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[str] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("linked_accounts.id", ondelete="SET NULL"), default=None, index=True
    )
    network: Mapped[str] = mapped_column(String(40))
    handle: Mapped[str] = mapped_column(String(320))
    """The account's handle when the post was written, kept if the account is unlinked."""
    destination: Mapped[str] = mapped_column(String(300), default="")
    fit: Mapped[str] = mapped_column(String(10), default="thread")
    """What to do with a text too long for the network: ``thread`` or ``shorten``."""
    text: Mapped[str | None] = mapped_column(Text, default=None)
    """The author's own version for this network; ``None``: the post's text, adapted."""
    status: Mapped[str] = mapped_column(String(12), default="draft")
    key: Mapped[str] = mapped_column(String(64), unique=True)
    """The idempotency key: sent where the network takes one, so a retry never posts twice."""
    parts: Mapped[str] = mapped_column(Text, default="[]")
    """JSON: each published part (``id``, ``url``, ``ref``), recorded as soon as it is out."""
    remote_id: Mapped[str | None] = mapped_column(String(500), default=None)
    remote_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    error: Mapped[str] = mapped_column(String(500), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    answers_read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    """When the network was last asked what people did with the post (the backfeed)."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Answer(Base):
    """What someone did with a published copy of a post, read back from its network: a
    reply or a quote (with its text), a repost, or a like."""

    __tablename__ = "post_answers"
    __table_args__ = (
        UniqueConstraint("delivery_id", "kind", "remote_id"),
        Index("ix_post_answers_post_id_happened_at", "post_id", "happened_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[str] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), index=True
    )
    network: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(10))
    """``reply``, ``quote``, ``repost`` or ``like``."""
    remote_id: Mapped[str] = mapped_column(String(500))
    """The reply's id on its network; for a repost or a like, who made it."""
    author_id: Mapped[str] = mapped_column(String(500))
    author_handle: Mapped[str] = mapped_column(String(320))
    author_name: Mapped[str] = mapped_column(String(200), default="")
    author_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    text: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(String(2000), default=None)
    """Where to answer it, on its network."""
    in_reply_to: Mapped[str | None] = mapped_column(String(500), default=None)
    happened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    """When it was made, as the network says; when Portal first saw it where it does not."""
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TelegramThread(Base):
    """A post of a Telegram channel as Telegram forwarded it into the channel's discussion
    group, where its comments are answers to it: which copy of a post the comments of a
    thread of the group answer."""

    __tablename__ = "telegram_threads"

    group_id: Mapped[str] = mapped_column(String(24), primary_key=True)
    """The discussion group's chat id (``-100…``)."""
    thread_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    """The forwarded message's number in the group: the comments' ``message_thread_id``."""
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), index=True
    )


class TelegramBot(Base):
    """How far the portal's Telegram bot has read its updates (``getUpdates``): Telegram keeps
    what the bot has not confirmed for a day, and forgets what it has."""

    __tablename__ = "telegram_bots"

    bot_id: Mapped[str] = mapped_column(String(24), primary_key=True)
    """The bot's number, the part of its token before the colon."""
    next_update: Mapped[int | None] = mapped_column(BigInteger, default=None)
    """The ``offset`` of the next read: the last update read, plus one."""
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
