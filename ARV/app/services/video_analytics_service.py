"""Playback analytics: viewer apps report events in batches; a rollup turns them into
daily figures per video; members read those for a date range.

Ingest only appends: each event once (keyed by the app's event id), plus a mark on the
(video, day) backlog. The rollup recomputes every marked day from its raw events, so it
is idempotent and never double-counts, and a hot video's viewers never queue on one
counter row. Ingest updates the mark rather than skipping it, which takes its row lock:
a rollup either waits for the ingest to commit (and then counts it) or has already taken
the mark away (and the ingest leaves a new one)."""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, case, delete, distinct, exists, func, select
from sqlalchemy.orm import Session

from app.background_tasks.names import ANALYTICS_ROLL_UP
from app.core.config import Settings
from app.core.database import insert_on_conflict
from app.core.exceptions import StatsRangeError
from app.core.security import device_hash
from app.models.video import Video
from app.models.video_analytics import (
    PlaybackEventKind,
    VideoDailyStats,
    VideoEvent,
    VideoStatsBacklog,
)
from app.schemas.video_analytics import PlaybackBatch, PlaybackEvent
from app.services.context import PublicActor, SystemActor
from app.services.plans import Feature, require_feature
from app.services.tenant import ScopedService, TenantService, readable
from app.utils.clock import utcnow

MAX_EVENT_AGE = timedelta(days=7)
MAX_CLOCK_SKEW = timedelta(minutes=5)
# A whole second of slack over the duration, for players that round up.
DURATION_SLACK_SECONDS = 1.0
MAX_STATS_RANGE_DAYS = 366
DEFAULT_STATS_RANGE_DAYS = 30
ROLLUP_BATCH = 500


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int
    reason: str
    message: str


@dataclass(slots=True)
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)


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
    if rows:
        stored = db.execute(
            insert_on_conflict(db, VideoEvent)
            .values(rows)
            .on_conflict_do_nothing()
            .returning(VideoEvent.company_id, VideoEvent.video_id, VideoEvent.day)
        ).all()
        result.accepted = len(stored)
        result.duplicates = len(rows) - len(stored)
        _mark_backlog(db, {(row.company_id, row.video_id, row.day) for row in stored}, now)
    return result


def _reportable_videos(db: Session, video_ids: set[uuid.UUID]) -> dict[uuid.UUID, Video]:
    """Videos a viewer could have played: what the public may read of videos."""
    found = db.scalars(readable(Video, PublicActor()).where(Video.id.in_(video_ids)))
    return {video.id: video for video in found}


def _refusal(event: PlaybackEvent, video: Video | None, now: datetime) -> tuple[str, str] | None:
    if video is None or video.duration_seconds is None:
        return "unknown_video", "No such video, or it has not been processed."
    if event.occurred_at < now - MAX_EVENT_AGE:
        return "too_old", f"Events are accepted for {MAX_EVENT_AGE.days} days."
    if event.occurred_at > now + MAX_CLOCK_SKEW:
        return "in_future", "occurred_at is ahead of the server's clock."
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


def utc_day(instant: datetime) -> date:
    return instant.astimezone(UTC).date()


def _mark_backlog(
    db: Session, pairs: Iterable[tuple[uuid.UUID, uuid.UUID, date]], now: datetime
) -> None:
    # Sorted, so two batches touching the same days lock them in the same order.
    for company_id, video_id, day in sorted(pairs, key=lambda pair: (pair[1], pair[2])):
        db.execute(
            insert_on_conflict(db, VideoStatsBacklog)
            .values(company_id=company_id, video_id=video_id, day=day, touched_at=now)
            .on_conflict_do_update(
                index_elements=[VideoStatsBacklog.video_id, VideoStatsBacklog.day],
                set_={"touched_at": now},
            )
        )


def roll_up(db: Session, limit: int = ROLLUP_BATCH) -> int:
    """Recompute the daily figures of up to `limit` marked (video, day) pairs of one
    company, the one whose mark waited longest, as the system actor of that company;
    returns how many. Marks an ingest still holds are skipped and taken on a later run."""
    company_id = db.scalar(
        select(VideoStatsBacklog.company_id)
        .order_by(VideoStatsBacklog.touched_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if company_id is None:
        return 0
    scope = ScopedService(db, SystemActor(company_id, task=ANALYTICS_ROLL_UP))
    marks = list(
        db.scalars(
            scope.scoped(VideoStatsBacklog)
            .order_by(VideoStatsBacklog.touched_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for mark in marks:
        _recompute_day(scope, company_id, mark.video_id, mark.day)
        db.delete(mark)
    db.flush()
    return len(marks)


def _recompute_day(
    scope: ScopedService, company_id: uuid.UUID, video_id: uuid.UUID, day: date
) -> None:
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
        .where(VideoEvent.video_id == video_id, VideoEvent.day == day)
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
        .values(company_id=company_id, video_id=video_id, day=day, **figures)
        .on_conflict_do_update(
            index_elements=[VideoDailyStats.video_id, VideoDailyStats.day], set_=figures
        )
    )


def expired_event_companies(settings: Settings) -> Select[uuid.UUID]:
    """The companies with raw events past retention (for a sweep, one company at a time)."""
    return select(VideoEvent.company_id).where(VideoEvent.day < _retention_cutoff(settings))


def purge_expired_events(scope: ScopedService, settings: Settings) -> int:
    """Drop the scope's company's raw events past retention; their days' figures stay. A
    day still waiting for its rollup keeps its events until it has been counted."""
    waiting = exists().where(
        VideoStatsBacklog.video_id == VideoEvent.video_id, VideoStatsBacklog.day == VideoEvent.day
    )
    expired = scope.scoped(VideoEvent).where(VideoEvent.day < _retention_cutoff(settings), ~waiting)
    # The scope's own criteria (never empty: a scope always filters), so the delete
    # reaches only the company's rows.
    criteria = expired.whereclause
    if criteria is None:
        raise RuntimeError("a scoped statement without criteria")
    result = scope.db.execute(delete(VideoEvent).where(criteria))
    return int(getattr(result, "rowcount", 0) or 0)


def _retention_cutoff(settings: Settings) -> date:
    return utc_day(utcnow()) - timedelta(days=settings.ANALYTICS_EVENT_RETENTION_DAYS)


@dataclass(frozen=True, slots=True)
class Totals:
    views: int
    completions: int
    watch_seconds: float

    @property
    def completion_rate(self) -> float | None:
        return self.completions / self.views if self.views else None


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
        require_feature(self.ctx.company, Feature.ANALYTICS)
        end = end or utc_day(utcnow())
        start = start or end - timedelta(days=DEFAULT_STATS_RANGE_DAYS - 1)
        _check_range(start, end)
        stored = {
            row.day: row
            for row in self.db.scalars(
                self.scoped(VideoDailyStats).where(
                    VideoDailyStats.video_id == video.id,
                    VideoDailyStats.day.between(start, end),
                )
            )
        }
        days = [
            stored.get(day) or _empty_day(video, day)
            for day in (start + timedelta(days=n) for n in range((end - start).days + 1))
        ]
        pending = self.db.scalar(
            select(
                self.scoped(VideoStatsBacklog)
                .where(
                    VideoStatsBacklog.video_id == video.id,
                    VideoStatsBacklog.day.between(start, end),
                )
                .exists()
            )
        )
        return VideoStats(video.id, start, end, days, bool(pending))


def _check_range(start: date, end: date) -> None:
    if end < start:
        raise StatsRangeError(
            "The range ends before it starts.",
            details={"from": start.isoformat(), "to": end.isoformat()},
        )
    if (end - start).days + 1 > MAX_STATS_RANGE_DAYS:
        raise StatsRangeError(
            f"Ask for at most {MAX_STATS_RANGE_DAYS} days at a time.",
            details={"from": start.isoformat(), "to": end.isoformat()},
        )


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
