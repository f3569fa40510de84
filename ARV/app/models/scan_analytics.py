"""Viewer events reported per AR content (the page opened, the marker found and lost, the
video started and finished), and the daily figures rolled up from them, so a company sees
which prints track badly in the field.

Raw events are kept for ANALYTICS_EVENT_RETENTION_DAYS; the daily rows for ever. A day is
a UTC calendar day of the event's `occurred_at`."""

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TenantOwned, string_enum
from app.models.project import InProject
from app.utils.clock import utcnow

CLIENT_VERSION_MAX_LENGTH = 40


class ViewerEventKind(StrEnum):
    PAGE_OPEN = "page_open"
    MARKER_FOUND = "marker_found"
    MARKER_LOST = "marker_lost"
    VIDEO_START = "video_start"
    # A periodic report of seconds watched while the video keeps playing.
    VIDEO_PROGRESS = "video_progress"
    VIDEO_COMPLETE = "video_complete"


VIDEO_EVENT_KINDS = frozenset(
    {ViewerEventKind.VIDEO_START, ViewerEventKind.VIDEO_PROGRESS, ViewerEventKind.VIDEO_COMPLETE}
)


class ViewerPlatform(StrEnum):
    IOS = "ios"
    ANDROID = "android"
    WEB = "web"
    OTHER = "other"


class ContentEvent(TenantOwned, InProject):
    """Keyed by one AR content."""

    ar_content_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ar_contents.id", ondelete="CASCADE"), primary_key=True, sort_order=-80
    )


class ViewerEvent(ContentEvent, Base):
    """One event, keyed by the id the viewer gave it, so a batch sent twice counts once."""

    __tablename__ = "viewer_events"
    __table_args__ = (Index("ix_viewer_events_ar_content_id_day", "ar_content_id", "day"),)

    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # The published version the content served when the event arrived.
    version: Mapped[int]
    kind: Mapped[ViewerEventKind] = mapped_column(string_enum(ViewerEventKind, "viewer_event_kind"))
    # One visit, from opening the viewer to leaving it.
    session_id: Mapped[uuid.UUID]
    # A keyed hash of the viewer's install id; the id itself is not kept.
    device_hash: Mapped[str] = mapped_column(String(64))
    platform: Mapped[ViewerPlatform] = mapped_column(string_enum(ViewerPlatform, "viewer_platform"))
    client_version: Mapped[str | None] = mapped_column(String(CLIENT_VERSION_MAX_LENGTH))
    occurred_at: Mapped[datetime]
    day: Mapped[date] = mapped_column(index=True)
    # Milliseconds from the camera starting to the marker found (marker_found only).
    time_to_detect_ms: Mapped[int | None]
    watched_seconds: Mapped[float] = mapped_column(default=0.0)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContentStatsBacklog(ContentEvent, Base):
    """(content, day) pairs with events not yet rolled up into `content_daily_stats`."""

    __tablename__ = "content_stats_backlog"

    day: Mapped[date] = mapped_column(primary_key=True)
    touched_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContentDailyStats(ContentEvent, Base):
    """One content's UTC day; a project's figures are the sum of its contents' rows."""

    __tablename__ = "content_daily_stats"

    day: Mapped[date] = mapped_column(primary_key=True)
    # page_open events, and the sessions that sent one.
    opens: Mapped[int] = mapped_column(BigInteger, default=0)
    opened_sessions: Mapped[int] = mapped_column(BigInteger, default=0)
    # marker_found events, and the sessions that sent one.
    scans: Mapped[int] = mapped_column(BigInteger, default=0)
    found_sessions: Mapped[int] = mapped_column(BigInteger, default=0)
    unique_devices: Mapped[int] = mapped_column(BigInteger, default=0)
    detect_ms_median: Mapped[float | None]
    detect_ms_p90: Mapped[float | None]
    starts: Mapped[int] = mapped_column(BigInteger, default=0)
    completions: Mapped[int] = mapped_column(BigInteger, default=0)
    watched_seconds: Mapped[float] = mapped_column(default=0.0)
    rolled_up_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def found_rate(self) -> float | None:
        """Sessions that found the marker / sessions that opened the viewer."""
        return self.found_sessions / self.opened_sessions if self.opened_sessions else None
