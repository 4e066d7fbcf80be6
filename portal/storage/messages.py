"""The tables of messages: one message from a person to another, and its copies, one per
messenger it goes over (``portal.domain.messages``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.storage.models import Base, UTCDateTime, utcnow


class Message(Base):
    """What one person wrote to another, once, to go over one or several of the recipient's
    messengers: ``all`` at once, or the ``first`` that delivers in the recipient's order."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_sender_id_created_at", "sender_id", "created_at"),
        Index("ix_messages_recipient_id_created_at", "recipient_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    """Random, not a counter: a message's address tells nothing of the others."""
    sender_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    mode: Mapped[str] = mapped_column(String(8), default="all")
    """``all``: every copy at once; ``first``: one after the other until one is delivered."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class MessageCopy(Base):
    """The message on one messenger: from one of the sender's accounts to one of the
    recipient's, with its own status and what the network answered."""

    __tablename__ = "message_copies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    """Its place in the recipient's order (``first`` tries them in it)."""
    network: Mapped[str] = mapped_column(String(40))
    sender_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("linked_accounts.id", ondelete="SET NULL"), default=None, index=True
    )
    recipient_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("linked_accounts.id", ondelete="SET NULL"), default=None, index=True
    )
    to_handle: Mapped[str] = mapped_column(String(320))
    """The recipient's handle when the message was written, kept if the account goes."""
    status: Mapped[str] = mapped_column(String(12), default="queued")
    """``waiting`` (a later one of ``first``), ``queued``, ``sending``, ``retrying``,
    ``sent``, ``failed``, or ``skipped`` (another copy of ``first`` was delivered)."""
    key: Mapped[str] = mapped_column(String(64), unique=True)
    """The idempotency key: where the network takes one, a retry never sends twice."""
    remote_id: Mapped[str | None] = mapped_column(String(500), default=None)
    error: Mapped[str] = mapped_column(String(500), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
