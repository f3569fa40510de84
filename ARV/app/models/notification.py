"""What people are told: notifications (a user's inbox, and what live sockets replay),
each user's stream position, their preferences, their push devices, and the log of each
delivery. A notification belongs to a user, not to a company: it may name the company it
is about. See ARV/docs/notifications.md."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamped, UTCDateTime, UUIDPrimaryKey, string_enum
from app.utils.clock import utcnow


class NotificationChannel(StrEnum):
    IN_APP = "in_app"
    EMAIL = "email"
    PUSH = "push"


class Notification(UUIDPrimaryKey, Base):
    """One event told to one user. `(user_id, event_id)` is unique: an event dispatched
    again (its delivery redelivered after a crash) tells nobody twice. `sequence` is the
    user's stream offset within `UserStream.epoch`, which sockets replay from."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("user_id", "event_id"),
        UniqueConstraint("user_id", "sequence"),
        Index("ix_notifications_user_inbox", "user_id", "in_inbox", "created_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    company_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[uuid.UUID]
    type: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    link: Mapped[str | None] = mapped_column(String(2000))
    sequence: Mapped[int] = mapped_column(BigInteger)
    # Shown in the inbox (the user's in-app preference for the type when it was told).
    in_inbox: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UserStream(Base):
    """Where a user's notification stream is: its epoch (a new one when the stream is
    started again, so a client's old offsets are known to be stale) and the last sequence
    given. Taken by an upsert that holds the row until the dispatch commits, so sequences
    are gap-free and in commit order per user."""

    __tablename__ = "user_streams"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    epoch: Mapped[str] = mapped_column(String(32))
    last_sequence: Mapped[int] = mapped_column(BigInteger)


class NotificationPreference(UUIDPrimaryKey, Timestamped, Base):
    """A user's choice for one event type on one channel; without a row the type's
    default holds."""

    __tablename__ = "notification_preferences"
    __table_args__ = (UniqueConstraint("user_id", "type", "channel"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(64))
    channel: Mapped[NotificationChannel] = mapped_column(
        string_enum(NotificationChannel, "notification_channel")
    )
    enabled: Mapped[bool]


class DeliveryStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class NotificationDelivery(UUIDPrimaryKey, Timestamped, Base):
    """One attempt to reach a user on a channel other than the inbox: an email, a push to
    one device. Email and push go through the outbox (`outbox_message_id`), whose row is
    the truth of where the delivery is."""

    __tablename__ = "notification_deliveries"

    notification_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[NotificationChannel] = mapped_column(
        string_enum(NotificationChannel, "notification_channel")
    )
    outbox_message_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("outbox.id", ondelete="SET NULL"), index=True
    )
    # The device pushed to.
    device_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("push_devices.id", ondelete="SET NULL")
    )
    status: Mapped[DeliveryStatus] = mapped_column(
        string_enum(DeliveryStatus, "delivery_status"), default=DeliveryStatus.QUEUED
    )
    reason: Mapped[str | None] = mapped_column(Text)


class PushPlatform(StrEnum):
    ANDROID = "android"
    IOS = "ios"
    WEB = "web"


class PushDevice(UUIDPrimaryKey, Timestamped, Base):
    """Where a user's pushes go: an FCM registration token (Android, iOS) or a Web Push
    subscription (a browser). Removed when the provider says it is gone."""

    __tablename__ = "push_devices"
    __table_args__ = (UniqueConstraint("user_id", "token"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    platform: Mapped[PushPlatform] = mapped_column(string_enum(PushPlatform, "push_platform"))
    # The FCM token, or the Web Push subscription's endpoint.
    token: Mapped[str] = mapped_column(String(1000))
    # A Web Push subscription's keys: `p256dh` and `auth`.
    keys: Mapped[dict[str, str] | None] = mapped_column(JSON)
    app_version: Mapped[str | None] = mapped_column(String(50))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
