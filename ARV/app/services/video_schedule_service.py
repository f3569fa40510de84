"""Which video plays over an AR content, and when.

Each entry attaches a video for a half-open window [starts_at, ends_at) (either edge may be
open) with a priority. At any instant the entry with the highest priority whose window
holds it and whose video plays is active; a video that failed or is still processing is
passed over, so a lower-priority entry (the default video) plays instead. Windows of
equal priority may not overlap, so the answer is never a tie."""

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import Select, delete
from sqlalchemy.orm import Session, contains_eager

from app.core.exceptions import (
    NotFoundError,
    ScheduleFullError,
    ScheduleOverlapError,
    ScheduleWindowError,
)
from app.models.ar_content import ARContent, ScheduledVideo
from app.models.video import PLAYING_STATUSES, Video
from app.schemas.ar_content import ScheduleWrite
from app.services.ar_content_service import ARContentService
from app.services.context import Actor
from app.services.pagination import PageParams, ResultPage, paginate
from app.services.project_scope import ProjectScopedService
from app.services.tenant import ScopedService, readable
from app.utils.timezones import NonexistentLocalTimeError, to_utc, zone

# Bounds the work of answering "what plays now" for one content.
MAX_ENTRIES_PER_CONTENT = 200


@dataclass(frozen=True, slots=True)
class Window:
    starts_at: datetime | None
    ends_at: datetime | None

    def holds(self, at: datetime) -> bool:
        return (self.starts_at is None or self.starts_at <= at) and (
            self.ends_at is None or at < self.ends_at
        )

    def overlaps(self, other: "Window") -> bool:
        return _before(self.starts_at, other.ends_at) and _before(other.starts_at, self.ends_at)

    def edges_after(self, at: datetime) -> list[datetime]:
        return [edge for edge in (self.starts_at, self.ends_at) if edge is not None and edge > at]


def _before(start: datetime | None, end: datetime | None) -> bool:
    return start is None or end is None or start < end


class Slot(Protocol):
    """A schedule entry as the window logic reads it: a draft row or a published one."""

    @property
    def starts_at(self) -> datetime | None: ...

    @property
    def ends_at(self) -> datetime | None: ...

    @property
    def priority(self) -> int: ...


S = TypeVar("S", bound=Slot)


def window_of(entry: Slot) -> Window:
    return Window(entry.starts_at, entry.ends_at)


@dataclass(frozen=True, slots=True)
class ActiveVideo:
    at: datetime
    entry: ScheduledVideo | None
    # The next window edge after `at`: until then the answer cannot change by schedule.
    next_change_at: datetime | None


def pick(
    entries: Sequence[S], at: datetime, plays: Callable[[S], bool]
) -> tuple[S | None, datetime | None]:
    """The entry active at `at` (the highest priority whose window holds it and which
    `plays`; the first of equal priorities wins), and the next window edge after `at`."""
    playing = [entry for entry in entries if plays(entry) and window_of(entry).holds(at)]
    winner = max(playing, key=lambda entry: entry.priority, default=None)
    edges = [edge for entry in entries for edge in window_of(entry).edges_after(at)]
    return winner, min(edges, default=None)


def pick_active(entries: Sequence[ScheduledVideo], at: datetime) -> ActiveVideo:
    """`entries` with their videos loaded."""
    winner, next_change_at = pick(entries, at, lambda entry: entry.video.status in PLAYING_STATUSES)
    return ActiveVideo(at, winner, next_change_at)


def content_schedule(actor: Actor, content_id: uuid.UUID) -> Select[Any]:
    """A content's entries with their live videos, as `actor` may read them, in the order
    ties are broken."""
    return (
        readable(ScheduledVideo, actor)
        .join(ScheduledVideo.video)
        .options(contains_eager(ScheduledVideo.video))
        .where(ScheduledVideo.ar_content_id == content_id, Video.deleted_at.is_(None))
        .order_by(
            ScheduledVideo.priority.desc(),
            ScheduledVideo.starts_at.asc().nulls_first(),
            ScheduledVideo.created_at,
            ScheduledVideo.id,
        )
    )


def active_video(db: Session, actor: Actor, content_id: uuid.UUID, at: datetime) -> ActiveVideo:
    """What plays over the content at `at`, for any actor: a member, the system acting in
    the content's company, or the public (which reads only published contents: none until
    publishing exists)."""
    return pick_active(list(db.scalars(content_schedule(actor, content_id))), at)


class VideoScheduleService(ProjectScopedService):
    def list_entries(self, content_id: uuid.UUID, params: PageParams) -> ResultPage[ScheduledVideo]:
        self._content(content_id)
        return paginate(self.db, content_schedule(self.ctx, content_id), params)

    def get_entry(self, content_id: uuid.UUID, entry_id: uuid.UUID) -> ScheduledVideo:
        self._content(content_id)
        entry: ScheduledVideo | None = self.db.scalar(
            content_schedule(self.ctx, content_id).where(ScheduledVideo.id == entry_id)
        )
        if entry is None:
            raise NotFoundError.for_entity("Scheduled video", entry_id)
        return entry

    def attach(self, content_id: uuid.UUID, body: ScheduleWrite) -> ScheduledVideo:
        self._content(content_id, for_update=True)
        entries = self._entries(content_id)
        if len(entries) >= MAX_ENTRIES_PER_CONTENT:
            raise ScheduleFullError(
                f"An AR content holds at most {MAX_ENTRIES_PER_CONTENT} scheduled videos; "
                "remove past ones first.",
                details={"limit": MAX_ENTRIES_PER_CONTENT},
            )
        entry = ScheduledVideo(company_id=self.ctx.company_id, ar_content_id=content_id)
        self._write(entry, body, others=entries)
        self.db.add(entry)
        self.db.flush()
        self._audit("schedule.video_attached", entry)
        return self.get_entry(content_id, entry.id)

    def replace(
        self, content_id: uuid.UUID, entry_id: uuid.UUID, body: ScheduleWrite
    ) -> ScheduledVideo:
        self._content(content_id, for_update=True)
        entry = self.get_entry(content_id, entry_id)
        others = [other for other in self._entries(content_id) if other.id != entry.id]
        self._write(entry, body, others=others)
        self.db.flush()
        self._audit("schedule.video_rescheduled", entry)
        self.db.expire(entry, ["video"])
        return self.get_entry(content_id, entry.id)

    def detach(self, content_id: uuid.UUID, entry_id: uuid.UUID) -> None:
        self._content(content_id, for_update=True)
        entry = self.get_entry(content_id, entry_id)
        self._audit("schedule.video_detached", entry)
        self.db.delete(entry)

    def active(self, content_id: uuid.UUID, at: datetime) -> ActiveVideo:
        self._content(content_id)
        return active_video(self.db, self.ctx, content_id, at)

    def _write(
        self, entry: ScheduledVideo, body: ScheduleWrite, *, others: list[ScheduledVideo]
    ) -> None:
        video = self.get_owned(Video, body.video_id, "Video")
        window = self._window(body)
        clashes = [
            other
            for other in others
            if other.priority == body.priority and window_of(other).overlaps(window)
        ]
        if clashes:
            raise _overlap_error(clashes, body.priority)
        entry.video_id = video.id
        entry.starts_at = window.starts_at
        entry.ends_at = window.ends_at
        entry.timezone = body.timezone
        entry.priority = body.priority

    def _window(self, body: ScheduleWrite) -> Window:
        tz = zone(body.timezone)
        edges: dict[str, datetime | None] = {}
        for field in ("starts_at", "ends_at"):
            value: datetime | None = getattr(body, field)
            try:
                edges[field] = None if value is None else to_utc(value, tz)
            except NonexistentLocalTimeError as error:
                raise ScheduleWindowError(str(error), details={"field": field}) from error
        window = Window(edges["starts_at"], edges["ends_at"])
        if not _before(window.starts_at, window.ends_at):
            raise ScheduleWindowError(
                "ends_at must be later than starts_at.",
                details={"starts_at": _iso(window.starts_at), "ends_at": _iso(window.ends_at)},
            )
        return window

    def _entries(self, content_id: uuid.UUID) -> list[ScheduledVideo]:
        return list(self.db.scalars(content_schedule(self.ctx, content_id)))

    def _content(self, content_id: uuid.UUID, *, for_update: bool = False) -> ARContent:
        # Writers lock the content: two concurrent writes are checked for overlap in turn.
        contents = ARContentService(self.db, self.ctx, self.project, self.storage, self.settings)
        return contents.writable(content_id) if for_update else contents.get(content_id)

    def _audit(self, action: str, entry: ScheduledVideo) -> None:
        self.audit(action, "ar_content", entry.ar_content_id, _describe(entry))


def remove_video_from_schedules(scope: ScopedService, video_id: uuid.UUID) -> None:
    entries = scope.scoped(ScheduledVideo).where(ScheduledVideo.video_id == video_id)
    scope.db.execute(
        delete(ScheduledVideo).where(
            ScheduledVideo.id.in_(entries.with_only_columns(ScheduledVideo.id))
        )
    )


def _overlap_error(clashes: list[ScheduledVideo], priority: int) -> ScheduleOverlapError:
    first = clashes[0]
    return ScheduleOverlapError(
        f"This window overlaps the schedule of {first.video.title!r} at the same priority "
        f"{priority}; give one of them a higher priority, or move the window.",
        details={"conflicts": [_describe(clash) for clash in clashes]},
    )


def _describe(entry: ScheduledVideo) -> dict[str, Any]:
    return {
        "id": str(entry.id),
        "video_id": str(entry.video_id),
        "starts_at": _iso(entry.starts_at),
        "ends_at": _iso(entry.ends_at),
        "priority": entry.priority,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
