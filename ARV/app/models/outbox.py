"""The transactional outbox: a message (an email today) is a row written in the same
transaction as the change that causes it, and delivered after commit by a worker that
claims it under the one job lease (`app.services.leases`)."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ColumnElement, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamped, UUIDPrimaryKey, string_enum
from app.models.lease import Leased, LeaseStates
from app.utils.clock import utcnow


class OutboxStatus(StrEnum):
    PENDING = "pending"  # waiting for its delivery task (or its next attempt)
    SENDING = "sending"  # a worker holds it
    SENT = "sent"
    DEAD = "dead"  # refused for good, or out of attempts: `last_error` says why


class OutboxMessage(UUIDPrimaryKey, Leased, Timestamped, Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_available_at", "status", "available_at"),)
    lease_states = LeaseStates(
        waiting=OutboxStatus.PENDING,
        held=OutboxStatus.SENDING,
        done=OutboxStatus.SENT,
        failed=OutboxStatus.DEAD,
    )

    # The channel class that delivers it ("email").
    channel: Mapped[str] = mapped_column(String(32))
    # What the message is, for people reading the dead letters ("password_reset").
    kind: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(320))
    # What the channel sends (an email's subject, text and HTML). Emptied once sent: it
    # holds sign-in links that must not outlive their purpose.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[OutboxStatus] = mapped_column(string_enum(OutboxStatus, "outbox_status"))
    # Not to be tried before: now when written, later after a failed attempt.
    available_at: Mapped[datetime] = mapped_column(default=utcnow)

    @classmethod
    def claimable(cls, now: datetime) -> ColumnElement[bool]:
        return cls.available_at <= now
