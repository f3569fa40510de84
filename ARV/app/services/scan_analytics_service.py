"""Scan analytics: viewer pages and apps report what happened around one published AR
content (page opened, marker found with its time to detect, lost, video started and
finished); a rollup turns the events into daily figures per content; members read those
per content and per project (the sum of its contents) for a date range. Storing, the
backlog, the rollup and retention work as for playback events (`event_log`)."""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any, Self

from sqlalchemy import ColumnElement, Select, case, distinct, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.core.config import Settings
from app.core.database import insert_on_conflict
from app.core.exceptions import NotFoundError
from app.core.security import device_hash
from app.models.ar_content import ARContent
from app.models.billing import Feature
from app.models.scan_analytics import (
    VIDEO_EVENT_KINDS,
    ContentDailyStats,
    ContentStatsBacklog,
    ViewerEvent,
    ViewerEventKind,
)
from app.schemas.scan_analytics import ViewerEventBatch, ViewerEventReport
from app.services import event_log
from app.services.event_log import DayRange, IngestResult, Rejection, rate, stats_range, utc_day
from app.services.plans import limits_for, require_feature
from app.services.project_scope import ProjectScopedService
from app.services.public_contents import PublishedContent, published_content
from app.services.tenant import ScopedService
from app.utils.clock import utcnow
from app.utils.percentiles import percentile_cont

# Time to detect: the median and the 90th percentile.
DETECT_PERCENTILES = (0.5, 0.9)


def ingest(
    db: Session, settings: Settings, public_id: str, batch: ViewerEventBatch
) -> IngestResult:
    """Store a batch from one device about the published content `public_id` (404 for
    anything the public may not read). Events that cannot count are refused one by one,
    with the reason; the rest are kept."""
    published = published_content(db, public_id)
    if published is None:
        raise NotFoundError.for_entity("AR content", public_id)
    now = utcnow()
    device = device_hash(settings, batch.device_id)
    result = IngestResult()
    rows: list[dict[str, Any]] = []
    for index, event in enumerate(batch.events):
        reason = _refusal(event, now)
        if reason is not None:
            result.rejected.append(Rejection(index, *reason))
        else:
            rows.append(_event_row(event, batch, published, device, now))
    event_log.store(db, SCANS, rows, result)
    return result


def _refusal(event: ViewerEventReport, now: datetime) -> tuple[str, str] | None:
    timing = event_log.timing_refusal(event.occurred_at, now)
    if timing is not None:
        return timing
    if event.time_to_detect_ms is not None and event.type is not ViewerEventKind.MARKER_FOUND:
        return "detect_time_without_found", "time_to_detect_ms belongs to marker_found only."
    if event.watched_seconds and event.type not in VIDEO_EVENT_KINDS:
        return "watched_without_video", "watched_seconds belongs to video events only."
    return None


def _event_row(
    event: ViewerEventReport,
    batch: ViewerEventBatch,
    published: PublishedContent,
    device: str,
    now: datetime,
) -> dict[str, Any]:
    content = published.content
    return {
        "company_id": content.company_id,
        "project_id": content.project_id,
        "ar_content_id": content.id,
        "event_id": event.event_id,
        "version": published.version.number,
        "kind": event.type,
        "session_id": event.session_id,
        "device_hash": device,
        "platform": batch.platform,
        "client_version": batch.client_version,
        "occurred_at": event.occurred_at,
        "day": utc_day(event.occurred_at),
        "time_to_detect_ms": event.time_to_detect_ms,
        "watched_seconds": event.watched_seconds,
        "received_at": now,
    }


def _recompute_day(scope: ScopedService, mark: ContentStatsBacklog) -> None:
    of_day = scope.scoped(ViewerEvent).where(
        ViewerEvent.ar_content_id == mark.ar_content_id, ViewerEvent.day == mark.day
    )

    def events(kind: ViewerEventKind) -> Any:
        return func.count(case((ViewerEvent.kind == kind, 1)))

    def sessions(kind: ViewerEventKind) -> Any:
        return func.count(distinct(case((ViewerEvent.kind == kind, ViewerEvent.session_id))))

    row = scope.db.execute(
        of_day.with_only_columns(
            events(ViewerEventKind.PAGE_OPEN).label("opens"),
            sessions(ViewerEventKind.PAGE_OPEN).label("opened_sessions"),
            events(ViewerEventKind.MARKER_FOUND).label("scans"),
            sessions(ViewerEventKind.MARKER_FOUND).label("found_sessions"),
            func.count(distinct(ViewerEvent.device_hash)).label("unique_devices"),
            events(ViewerEventKind.VIDEO_START).label("starts"),
            events(ViewerEventKind.VIDEO_COMPLETE).label("completions"),
            func.coalesce(func.sum(ViewerEvent.watched_seconds), 0.0).label("watched_seconds"),
        )
    ).one()
    median, p90 = _detect_percentiles(scope.db, of_day)
    figures = {
        **row._asdict(),
        "watched_seconds": float(row.watched_seconds),
        "detect_ms_median": median,
        "detect_ms_p90": p90,
        "rolled_up_at": utcnow(),
    }
    key = {"ar_content_id": mark.ar_content_id, "day": mark.day}
    scope.db.execute(
        insert_on_conflict(scope.db, ContentDailyStats)
        .values(company_id=mark.company_id, project_id=mark.project_id, **key, **figures)
        .on_conflict_do_update(index_elements=list(key), set_=figures)
    )


def _detect_percentiles(db: Session, of_day: Select[Any]) -> Sequence[float | None]:
    """`percentile_cont` in PostgreSQL; SQLite has none, so its times are sorted here."""
    detected = of_day.where(ViewerEvent.time_to_detect_ms.is_not(None))
    if db.get_bind().dialect.name == "sqlite":
        found = db.scalars(detected.with_only_columns(ViewerEvent.time_to_detect_ms))
        times = [float(ms) for ms in found if ms is not None]
        return [percentile_cont(times, fraction) for fraction in DETECT_PERCENTILES]
    return db.execute(
        detected.with_only_columns(
            *(
                func.percentile_cont(fraction).within_group(ViewerEvent.time_to_detect_ms)
                for fraction in DETECT_PERCENTILES
            )
        )
    ).one()


SCANS = event_log.EventLog(
    ViewerEvent,
    ContentStatsBacklog,
    "ar_content_id",
    _recompute_day,
    mark_columns=("company_id", "project_id"),
)


@dataclass(frozen=True, slots=True)
class Figures:
    """What adds up across days and contents."""

    opens: int
    opened_sessions: int
    scans: int
    found_sessions: int
    starts: int
    completions: int
    watched_seconds: float

    @property
    def found_rate(self) -> float | None:
        return rate(self.found_sessions, self.opened_sessions)

    @classmethod
    def names(cls) -> list[str]:
        return [item.name for item in fields(Figures)]

    @classmethod
    def total(cls, parts: Iterable["Figures | ContentDailyStats"]) -> "Figures":
        listed = list(parts)
        return Figures(*(sum(getattr(part, name) for part in listed) for name in cls.names()))

    @classmethod
    def summed(cls) -> list[ColumnElement[Any]]:
        """SUM of each figure over `content_daily_stats` rows (zero without rows)."""
        return [
            func.coalesce(func.sum(getattr(ContentDailyStats, name)), 0) for name in cls.names()
        ]

    @classmethod
    def of_row(cls, values: Sequence[Any], **extra: Any) -> Self:
        """From summed values in the order of `names`, and the subclass's own fields."""
        figures = dict(zip(Figures.names(), values, strict=True))
        figures["watched_seconds"] = float(figures["watched_seconds"])
        return cls(**figures, **extra)


@dataclass(frozen=True, slots=True)
class ProjectDay(Figures):
    day: date


@dataclass(frozen=True, slots=True)
class ContentTotals(Figures):
    ar_content_id: uuid.UUID
    title: str


@dataclass(frozen=True, slots=True)
class ContentScanStats:
    ar_content_id: uuid.UUID
    start: date
    end: date
    days: list[ContentDailyStats]
    pending: bool

    @property
    def totals(self) -> Figures:
        return Figures.total(self.days)


@dataclass(frozen=True, slots=True)
class ProjectScanStats:
    project_id: uuid.UUID
    start: date
    end: date
    days: list[ProjectDay]
    contents: list[ContentTotals]
    pending: bool

    @property
    def totals(self) -> Figures:
        return Figures.total(self.days)


class ScanStatsService(ProjectScopedService):
    """Daily scan figures of the entered project and its contents (plans with analytics)."""

    def of_content(
        self, content_id: uuid.UUID, start: date | None, end: date | None
    ) -> ContentScanStats:
        content = self.get_in_project(ARContent, content_id, "AR content")
        require_feature(self.db, self.ctx.company, Feature.ANALYTICS)
        span = stats_range(start, end)
        stored = {
            row.day: row
            for row in self.db.scalars(
                self._in_range(span).where(ContentDailyStats.ar_content_id == content.id)
            )
        }
        days = [stored.get(day) or _empty_day(content, day) for day in span.days()]
        pending = self._pending(span, ContentStatsBacklog.ar_content_id == content.id)
        return ContentScanStats(content.id, span.start, span.end, days, pending)

    def of_project(self, start: date | None, end: date | None) -> ProjectScanStats:
        require_feature(self.db, self.ctx.company, Feature.ANALYTICS)
        span = stats_range(start, end)
        by_day = {
            row[0]: ProjectDay.of_row(row[1:], day=row[0])
            for row in self._summed_by(span, ContentDailyStats.day)
        }
        zero = [0] * len(Figures.names())
        days = [by_day.get(day) or ProjectDay.of_row(zero, day=day) for day in span.days()]
        return ProjectScanStats(
            self.project.id,
            span.start,
            span.end,
            days,
            self._by_content(span),
            self._pending(span, ContentStatsBacklog.project_id == self.project.id),
        )

    def recent_totals(self) -> Figures | None:
        """The project's totals over the stats' default range (the last 30 days), for its
        summary; None on a plan without analytics."""
        if Feature.ANALYTICS not in limits_for(self.db, self.ctx.company).features:
            return None
        summed = self._in_range(stats_range(None, None)).with_only_columns(*Figures.summed())
        return Figures.of_row(self.db.execute(summed).one())

    def _by_content(self, span: DayRange) -> list[ContentTotals]:
        rows = self._summed_by(span, ContentDailyStats.ar_content_id)
        named = self.db.execute(
            self.scoped(ARContent, include_deleted=True)
            .with_only_columns(ARContent.id, ARContent.title)
            .where(ARContent.id.in_([row[0] for row in rows]))
        )
        # A list of rows: dict() of the Result itself would take it for a mapping.
        titles = dict(named.all())
        contents = [
            ContentTotals.of_row(row[1:], ar_content_id=row[0], title=titles[row[0]])
            for row in rows
        ]
        # The prints that track worst first; contents nobody opened last.
        return sorted(
            contents,
            key=lambda item: (item.found_rate is None, item.found_rate or 0.0, item.title),
        )

    def _summed_by(self, span: DayRange, column: InstrumentedAttribute[Any]) -> list[Sequence[Any]]:
        """(column, *figures) summed per value of `column` over the range."""
        summed = self._in_range(span).with_only_columns(column, *Figures.summed()).group_by(column)
        return list(self.db.execute(summed).all())

    def _in_range(self, span: DayRange) -> Select[Any]:
        return self.scoped(ContentDailyStats).where(
            ContentDailyStats.project_id == self.project.id,
            ContentDailyStats.day.between(span.start, span.end),
        )

    def _pending(self, span: DayRange, which: ColumnElement[bool]) -> bool:
        marked = self.scoped(ContentStatsBacklog).where(
            which, ContentStatsBacklog.day.between(span.start, span.end)
        )
        return bool(self.db.scalar(select(marked.exists())))


def _empty_day(content: ARContent, day: date) -> ContentDailyStats:
    return ContentDailyStats(
        company_id=content.company_id,
        project_id=content.project_id,
        ar_content_id=content.id,
        day=day,
        **dict.fromkeys(Figures.names(), 0),
        unique_devices=0,
        detect_ms_median=None,
        detect_ms_p90=None,
    )
