"""Playback analytics: viewer apps report events in batches; a rollup turns them into
daily figures per video; members read those for a date range. Storing, the backlog, the
rollup and retention work as for every kind of viewer analytics (`event_log`)."""

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, case, distinct, func, select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.database import insert_on_conflict
from app.core.security import device_hash
from app.models.billing import Feature
from app.models.video import Video
from app.models.video_analytics import (
    PlaybackEventKind,
    VideoDailyStats,
    VideoEvent,
    VideoStatsBacklog,
)
from app.schemas.video_analytics import PlaybackBatch, PlaybackEvent
from app.services import event_log
from app.services.context import PublicActor
from app.services.event_log import IngestResult, Rejection, rate, stats_range, utc_day
from app.services.plans import require_feature
from app.services.tenant import ScopedService, TenantService, readable
from app.utils.clock import utcnow

# A whole second of slack over the duration, for players that round up.
DURATION_SLACK_SECONDS = 1.0


def ingest(db: Session, settings: Settings, batch: PlaybackBatch) -> IngestResult:
    """Store a batch from one device. Events that cannot count are refused one by one,
    with the reason; the rest are kept."""
    now = utcnow()
    videos = _reportable_videos(db, {event.video_id for event in batch.events})
    device = device_hash(settings, batch.device_id)
    result = IngestResult()
    rows: list[dict[str, Any]] = []
    for index, event in enumerate(batch.events):
        video = videos.get(event.video_id)
        reason = _refusal(event, video, now)
        if reason is not None:
            result.rejected.append(Rejection(index, *reason))
        elif video is not None:
            rows.append(_event_row(event, video, device, now))
    event_log.store(db, PLAYBACK, rows, result)
    return result


def _reportable_videos(db: Session, video_ids: set[uuid.UUID]) -> dict[uuid.UUID, Video]:
    """Videos a viewer could have played: what the public may read of videos."""
    found = db.scalars(readable(Video, PublicActor()).where(Video.id.in_(video_ids)))
    return {video.id: video for video in found}


def _refusal(event: PlaybackEvent, video: Video | None, now: datetime) -> tuple[str, str] | None:
    if video is None or video.duration_seconds is None:
        return "unknown_video", "No such video, or it has not been processed."
    timing = event_log.timing_refusal(event.occurred_at, now)
    if timing is not None:
        return timing
    if event.watched_seconds > video.duration_seconds + DURATION_SLACK_SECONDS:
        return (
            "watched_exceeds_duration",
            f"The video lasts {video.duration_seconds:.1f} s; report each loop separately.",
        )
    return None


def _event_row(event: PlaybackEvent, video: Video, device: str, now: datetime) -> dict[str, Any]:
    return {
        "company_id": video.company_id,
        "video_id": video.id,
        "event_id": event.event_id,
        "kind": event.type,
        "session_id": event.session_id,
        "device_hash": device,
        "occurred_at": event.occurred_at,
        "day": utc_day(event.occurred_at),
        "watched_seconds": event.watched_seconds,
        "received_at": now,
    }


def _recompute_day(scope: ScopedService, mark: VideoStatsBacklog) -> None:
    def sessions_that(kind: PlaybackEventKind) -> Any:
        return func.count(distinct(case((VideoEvent.kind == kind, VideoEvent.session_id))))

    views, completions, watch_seconds, devices = scope.db.execute(
        scope.scoped(VideoEvent)
        .with_only_columns(
            sessions_that(PlaybackEventKind.PLAY),
            sessions_that(PlaybackEventKind.COMPLETE),
            func.coalesce(func.sum(VideoEvent.watched_seconds), 0.0),
            func.count(distinct(VideoEvent.device_hash)),
        )
        .where(VideoEvent.video_id == mark.video_id, VideoEvent.day == mark.day)
    ).one()
    figures = {
        "views": views,
        "completions": completions,
        "watch_seconds": float(watch_seconds),
        "unique_devices": devices,
        "rolled_up_at": utcnow(),
    }
    scope.db.execute(
        insert_on_conflict(scope.db, VideoDailyStats)
        .values(company_id=mark.company_id, video_id=mark.video_id, day=mark.day, **figures)
        .on_conflict_do_update(
            index_elements=[VideoDailyStats.video_id, VideoDailyStats.day], set_=figures
        )
    )


PLAYBACK = event_log.EventLog(VideoEvent, VideoStatsBacklog, "video_id", _recompute_day)


def roll_up(db: Session, limit: int = event_log.ROLLUP_BATCH) -> int:
    """Playback's share of the rollup (`event_log.roll_up`)."""
    return event_log.roll_up(db, PLAYBACK, limit)


def expired_event_companies(settings: Settings) -> Select[uuid.UUID]:
    return event_log.expired_event_companies(PLAYBACK, settings)


def purge_expired_events(scope: ScopedService, settings: Settings) -> int:
    return event_log.purge_expired_events(scope, PLAYBACK, settings)


@dataclass(frozen=True, slots=True)
class Totals:
    views: int
    completions: int
    watch_seconds: float

    @property
    def completion_rate(self) -> float | None:
        return rate(self.completions, self.views)


@dataclass(frozen=True, slots=True)
class VideoStats:
    video_id: uuid.UUID
    start: date
    end: date
    days: list[VideoDailyStats]
    pending: bool

    @property
    def totals(self) -> Totals:
        return Totals(
            views=sum(day.views for day in self.days),
            completions=sum(day.completions for day in self.days),
            watch_seconds=sum(day.watch_seconds for day in self.days),
        )


class VideoStatsService(TenantService):
    def daily(self, video_id: uuid.UUID, start: date | None, end: date | None) -> VideoStats:
        video = self.get_owned(Video, video_id, "Video")
        require_feature(self.db, self.ctx.company, Feature.ANALYTICS)
        span = stats_range(start, end)
        stored = {
            row.day: row
            for row in self.db.scalars(
                self.scoped(VideoDailyStats).where(
                    VideoDailyStats.video_id == video.id,
                    VideoDailyStats.day.between(span.start, span.end),
                )
            )
        }
        days = [stored.get(day) or _empty_day(video, day) for day in span.days()]
        pending = self.db.scalar(
            select(
                self.scoped(VideoStatsBacklog)
                .where(
                    VideoStatsBacklog.video_id == video.id,
                    VideoStatsBacklog.day.between(span.start, span.end),
                )
                .exists()
            )
        )
        return VideoStats(video.id, span.start, span.end, days, bool(pending))


def _empty_day(video: Video, day: date) -> VideoDailyStats:
    return VideoDailyStats(
        company_id=video.company_id,
        video_id=video.id,
        day=day,
        views=0,
        completions=0,
        watch_seconds=0.0,
        unique_devices=0,
    )
