"""Playback events reported by viewer apps, and the daily figures rolled up from them.

Raw events are kept for ANALYTICS_EVENT_RETENTION_DAYS; the daily rows for ever. A day is
a UTC calendar day of the event's `occurred_at`."""

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TenantOwned, string_enum
from app.utils.clock import utcnow


class PlaybackEventKind(StrEnum):
    PLAY = "play"
    PAUSE = "pause"
    COMPLETE = "complete"
    # A periodic report of seconds watched while the video keeps playing.
    PROGRESS = "progress"


class VideoEvent(TenantOwned, Base):
    """One event, keyed by the id the app gave it, so a batch sent twice counts once."""

    __tablename__ = "video_events"
    __table_args__ = (Index("ix_video_events_video_id_day", "video_id", "day"),)

    video_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True
    )
    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[PlaybackEventKind] = mapped_column(
        string_enum(PlaybackEventKind, "playback_event_kind")
    )
    # One playback, from play to complete: a view is a session that played.
    session_id: Mapped[uuid.UUID]
    # A keyed hash of the app's install id; the id itself is not kept.
    device_hash: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime]
    day: Mapped[date] = mapped_column(index=True)
    watched_seconds: Mapped[float] = mapped_column(default=0.0)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class VideoDay(TenantOwned):
    """Keyed by one video's UTC day."""

    video_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(primary_key=True)


class VideoStatsBacklog(VideoDay, Base):
    """(video, day) pairs with events not yet rolled up into `video_daily_stats`."""

    __tablename__ = "video_stats_backlog"

    touched_at: Mapped[datetime] = mapped_column(default=utcnow)


class VideoDailyStats(VideoDay, Base):
    __tablename__ = "video_daily_stats"

    views: Mapped[int] = mapped_column(BigInteger, default=0)
    completions: Mapped[int] = mapped_column(BigInteger, default=0)
    watch_seconds: Mapped[float] = mapped_column(default=0.0)
    unique_devices: Mapped[int] = mapped_column(BigInteger, default=0)
    rolled_up_at: Mapped[datetime] = mapped_column(default=utcnow)
