"""What every kind of viewer analytics shares (playback events per video, scan events per
AR content): batches judged event by event, each event stored once (keyed by the app's
event id), a (subject, day) backlog the rollup recomputes days from, one company per
rollup as the system actor, retention of raw events, and bounded date ranges for stats.

Ingest only appends: each event once, plus a mark on the (subject, day) backlog. The
rollup recomputes every marked day from its raw events, so it is idempotent and never
double-counts, and a hot subject's viewers never queue on one counter row. Ingest updates
the mark rather than skipping it, which takes its row lock: a rollup either waits for the
ingest to commit (and then counts it) or has already taken the mark away (and the ingest
leaves a new one)."""

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, exists, select
from sqlalchemy.orm import Session

from app.background_tasks.names import ANALYTICS_ROLL_UP
from app.core.config import Settings
from app.core.database import insert_on_conflict
from app.core.exceptions import StatsRangeError
from app.services.context import SystemActor
from app.services.tenant import ScopedService
from app.utils.clock import utcnow

MAX_EVENT_AGE = timedelta(days=7)
MAX_CLOCK_SKEW = timedelta(minutes=5)
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


@dataclass(frozen=True, slots=True)
class EventLog:
    """One kind of analytics: its raw events, its backlog of days to recompute, and how."""

    # Keyed by (subject, event_id), with company_id and day.
    events: type[Any]
    # Keyed by (subject, day), with company_id, touched_at, and any `mark_columns`.
    backlog: type[Any]
    # The column naming what the events are about (a video, an AR content).
    subject: str
    # Recomputes the daily figures of one backlog row, as the scope's system actor.
    recompute: Callable[[ScopedService, Any], None]
    # What a stored event copies onto its day's mark, besides the subject and the day.
    mark_columns: tuple[str, ...] = ("company_id",)

    def key(self, model: type[Any]) -> list[Any]:
        return [getattr(model, self.subject), model.day]


def timing_refusal(occurred_at: datetime, now: datetime) -> tuple[str, str] | None:
    """Why an event at `occurred_at` cannot count any more (or yet), if it cannot."""
    if occurred_at < now - MAX_EVENT_AGE:
        return "too_old", f"Events are accepted for {MAX_EVENT_AGE.days} days."
    if occurred_at > now + MAX_CLOCK_SKEW:
        return "in_future", "occurred_at is ahead of the server's clock."
    return None


def utc_day(instant: datetime) -> date:
    return instant.astimezone(UTC).date()


def store(db: Session, log: EventLog, rows: Sequence[dict[str, Any]], result: IngestResult) -> None:
    """Insert the rows an ingest accepted (each event once) and mark their days."""
    if not rows:
        return
    columns = [*log.mark_columns, log.subject, "day"]
    stored = db.execute(
        insert_on_conflict(db, log.events)
        .values(list(rows))
        .on_conflict_do_nothing()
        .returning(*(getattr(log.events, name) for name in columns))
    ).all()
    result.accepted = len(stored)
    result.duplicates = len(rows) - len(stored)
    marks = {tuple(row) for row in stored}
    now = utcnow()
    # Sorted by key, so two batches touching the same days lock them in the same order.
    for mark in sorted(marks, key=lambda values: (values[-2], values[-1])):
        db.execute(
            insert_on_conflict(db, log.backlog)
            .values(**dict(zip(columns, mark, strict=True)), touched_at=now)
            .on_conflict_do_update(index_elements=log.key(log.backlog), set_={"touched_at": now})
        )


def roll_up(db: Session, log: EventLog, limit: int = ROLLUP_BATCH) -> int:
    """Recompute the daily figures of up to `limit` marked (subject, day) pairs of one
    company, the one whose mark waited longest, as the system actor of that company;
    returns how many. Marks an ingest still holds are skipped and taken on a later run."""
    backlog = log.backlog
    company_id = db.scalar(
        select(backlog.company_id)
        .order_by(backlog.touched_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if company_id is None:
        return 0
    scope = ScopedService(db, SystemActor(company_id, task=ANALYTICS_ROLL_UP))
    marks = list(
        db.scalars(
            scope.scoped(backlog)
            .order_by(backlog.touched_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for mark in marks:
        log.recompute(scope, mark)
        db.delete(mark)
    db.flush()
    return len(marks)


def expired_event_companies(log: EventLog, settings: Settings) -> Select[uuid.UUID]:
    """The companies with raw events past retention (for a sweep, one company at a time)."""
    return select(log.events.company_id).where(log.events.day < _retention_cutoff(settings))


def purge_expired_events(scope: ScopedService, log: EventLog, settings: Settings) -> int:
    """Drop the scope's company's raw events past retention; their days' figures stay. A
    day still waiting for its rollup keeps its events until it has been counted."""
    events, backlog = log.events, log.backlog
    waiting = exists().where(
        *(mark == event for mark, event in zip(log.key(backlog), log.key(events), strict=True))
    )
    expired = scope.scoped(events).where(events.day < _retention_cutoff(settings), ~waiting)
    # The scope's own criteria (never empty: a scope always filters), so the delete
    # reaches only the company's rows.
    criteria = expired.whereclause
    if criteria is None:
        raise RuntimeError("a scoped statement without criteria")
    result = scope.db.execute(delete(events).where(criteria))
    return int(getattr(result, "rowcount", 0) or 0)


def _retention_cutoff(settings: Settings) -> date:
    return utc_day(utcnow()) - timedelta(days=settings.ANALYTICS_EVENT_RETENTION_DAYS)


@dataclass(frozen=True, slots=True)
class DayRange:
    start: date
    end: date

    def days(self) -> Iterator[date]:
        return (self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1))


def stats_range(start: date | None, end: date | None) -> DayRange:
    """The days a stats request asks for: by default the 30 ending today; refused when it
    ends before it starts or spans more than MAX_STATS_RANGE_DAYS."""
    end = end or utc_day(utcnow())
    start = start or end - timedelta(days=DEFAULT_STATS_RANGE_DAYS - 1)
    details = {"from": start.isoformat(), "to": end.isoformat()}
    if end < start:
        raise StatsRangeError("The range ends before it starts.", details=details)
    if (end - start).days + 1 > MAX_STATS_RANGE_DAYS:
        raise StatsRangeError(
            f"Ask for at most {MAX_STATS_RANGE_DAYS} days at a time.", details=details
        )
    return DayRange(start, end)


def rate(part: int, whole: int) -> float | None:
    """part / whole, or None without a whole."""
    return part / whole if whole else None
