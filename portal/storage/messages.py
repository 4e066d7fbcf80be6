"""The tables of messages: one message from a person to another, and its copies, one per
messenger it goes over (``portal.domain.messages``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import false

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
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    """When the first answer to it was read back, on any of its messengers."""
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    """When the recipient saw it in their conversation on Portal."""
    dropped: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """From someone the recipient blocked: never sent, never shown to them."""
    state: Mapped[str] = mapped_column(String(10), default="", server_default="")
    """``request``: the first words of someone who is not the recipient's contact, held until
    the recipient accepts them; ``declined``: held for good (its sender is not told); empty:
    on its way."""

    @property
    def held(self) -> bool:
        """It waits for its recipient to accept it, or was declined (its writer is not told
        which)."""
        return self.state != ""


class MessageCopy(Base):
    """The message on one messenger: from one of the sender's accounts to one of the
    recipient's, with its own status and what the network answered."""

    __tablename__ = "message_copies"
    __table_args__ = (Index("ix_message_copies_thread_remote_id", "thread", "remote_id"),)

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
    """The sender's account it goes from; ``None`` for one the portal's bot writes."""
    by_bot: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Written by the portal's own bot in the sender's name, not from an account of theirs
    (Telegram, where nobody can write as themselves through an API)."""
    recipient_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("linked_accounts.id", ondelete="SET NULL"), default=None, index=True
    )
    to_handle: Mapped[str] = mapped_column(String(320))
    """The recipient's handle when the message was written, kept if the account goes."""
    status: Mapped[str] = mapped_column(String(12), default="queued")
    """``waiting`` (a later one of ``first``), ``queued``, ``sending``, ``retrying``,
    ``sent``, ``failed``, ``skipped`` (another copy of ``first`` was delivered, or an answer
    came before it went), or ``withdrawn`` (taken back, unread, once answered elsewhere)."""
    key: Mapped[str] = mapped_column(String(64), unique=True)
    """The idempotency key: where the network takes one, a retry never sends twice."""
    remote_id: Mapped[str | None] = mapped_column(String(500), default=None)
    thread: Mapped[str] = mapped_column(String(500), default="", server_default="")
    """Where its answers come, as the network said when it took it (a Matrix room)."""
    error: Mapped[str] = mapped_column(String(500), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class MessageAnswer(Base):
    """What the recipient wrote back to one copy, read from the network it went over."""

    __tablename__ = "message_answers"
    __table_args__ = (
        UniqueConstraint("copy_id", "remote_id"),
        Index("ix_message_answers_message_id_written_at", "message_id", "written_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    copy_id: Mapped[int] = mapped_column(ForeignKey("message_copies.id", ondelete="CASCADE"))
    remote_id: Mapped[str] = mapped_column(String(500))
    """The network's id for it: an answer read twice is kept once."""
    text: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(2000), default=None)
    written_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    """When the message's sender saw it in their conversation."""


class MessageSender(Base):
    """Someone whose message request a person accepted: their messages go straight on."""

    __tablename__ = "message_senders"

    owner_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    sender_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
