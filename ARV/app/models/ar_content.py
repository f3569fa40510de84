"""AR content (a marker that plays a video when a viewer app sees it) and its video
schedule: which video plays over the marker, when."""

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, SoftDeletable, TenantOwned, Timestamped, UUIDPrimaryKey
from app.models.video import Video


class ARContent(UUIDPrimaryKey, TenantOwned, Timestamped, SoftDeletable, Base):
    __tablename__ = "ar_contents"

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )


class ScheduledVideo(UUIDPrimaryKey, TenantOwned, Timestamped, Base):
    """A video attached to an AR content for a half-open window [starts_at, ends_at).

    An open end means "since forever" or "for ever". Where two windows overlap, the higher
    `priority` plays; overlapping windows of equal priority are refused when written."""

    __tablename__ = "scheduled_videos"
    __table_args__ = (
        CheckConstraint(
            "starts_at IS NULL OR ends_at IS NULL OR starts_at < ends_at", name="window_order"
        ),
    )

    ar_content_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ar_contents.id", ondelete="CASCADE"), index=True
    )
    video_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("videos.id", ondelete="CASCADE"), index=True
    )
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    # The IANA zone the window was written in: how it is shown back, not how it is stored.
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    priority: Mapped[int] = mapped_column(default=0)

    video: Mapped[Video] = relationship(lazy="raise")
