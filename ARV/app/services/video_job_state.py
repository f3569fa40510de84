"""The database side of a video job, as a worker runs it: every read and write goes
through the system actor of the job's company, in short transactions, and the events a
change causes are published after it commits.

`JobState` holds the state transitions of one job: entering a stage, recording the probe,
preparing and updating renditions (live, or pending while an older set plays), stills and
the master playlist, and the outcomes (succeeded with the pending set swapped in, failed,
cancelled, released for a retry, handed back by a stopping worker).
"""

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.background_tasks.names import VIDEO_RUN_JOB
from app.core.config import Settings
from app.core.database import session_scope
from app.models.billing import Feature
from app.models.company import Company
from app.models.storage import StoredFile
from app.models.video import (
    ACTIVE_JOB_STATUSES,
    JobKind,
    PipelineStage,
    RenditionStatus,
    Video,
    VideoJob,
    VideoRendition,
    VideoStatus,
)
from app.schemas.chroma_key import ChromaKey
from app.services import leases
from app.services.context import SystemActor
from app.services.object_keys import JobOutputKeys, job_output_prefix
from app.services.plans import limits_for
from app.services.tenant import ScopedService
from app.services.video_events import publish_after_commit
from app.services.video_jobs import renew_lease
from app.services.video_outputs import (
    discard_pending,
    plays_older_outputs,
    rendition_keys,
    renditions_after,
    renditions_of,
    retire,
    swap_in_pending,
)
from app.services.video_plan import PlannedRendition
from app.services.video_service import lock_job, settle_cancelled
from app.utils.clock import utcnow
from app.utils.ffmpeg import MediaInfo, Progress, is_standard

# How many bytes keys take in storage: the pipeline hands in its storage's measure.
StoredBytes = Callable[[list[str]], int]


class JobCancelledError(Exception):
    """Someone cancelled or deleted the video while the job ran."""


@dataclass(frozen=True, slots=True)
class SourceFacts:
    key: str
    outputs: JobOutputKeys
    poster_at_seconds: float | None
    max_seconds: int
    max_short_side: int
    cap_short_side: int
    hls: bool
    chroma_key: ChromaKey | None


@dataclass(frozen=True, slots=True)
class Stills:
    poster_key: str
    thumbnail_keys: list[str]
    storyboard_key: str
    storyboard_vtt_key: str

    def keys(self) -> list[str]:
        return [self.poster_key, *self.thumbnail_keys, self.storyboard_key, self.storyboard_vtt_key]


@dataclass(frozen=True, slots=True)
class VariantEntry:
    """A finished rendition's master-playlist entry (measured) and its playlist's key."""

    variant: dict[str, Any]
    playlist_key: str


class JobState:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        job_id: uuid.UUID,
        company_id: uuid.UUID,
        *,
        kind: JobKind = JobKind.PROCESS,
        task_id: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.job_id = job_id
        self.kind = kind
        self.actor = SystemActor(company_id, task=VIDEO_RUN_JOB)
        self.task_id = task_id
        # Whether the renditions this job makes go live one by one (a video not playing
        # yet), or wait as pending until the whole set can replace what plays.
        self.in_place = True

    @classmethod
    def of_job(
        cls, sessions: sessionmaker[Session], settings: Settings, job_id: uuid.UUID
    ) -> "JobState | None":
        """For a job known only by id (the watchdog's): the job row names its company."""
        with session_scope(sessions) as db:
            company_id = db.scalar(select(VideoJob.company_id).where(VideoJob.id == job_id))
        return None if company_id is None else cls(sessions, settings, job_id, company_id)

    @contextmanager
    def unit(self) -> Iterator[ScopedService]:
        """One short transaction, as the system actor in the job's company."""
        with session_scope(self.sessions) as db:
            yield ScopedService(db, self.actor)

    # Reading
    def job(self, scope: ScopedService) -> VideoJob:
        job: VideoJob = scope.db.scalars(
            scope.scoped(VideoJob).where(VideoJob.id == self.job_id)
        ).one()
        return job

    def video(self, scope: ScopedService, video_id: uuid.UUID) -> Video:
        return scope.get_owned(Video, video_id, "Video", include_deleted=True)

    # Stages
    def enter(self, video_id: uuid.UUID, stage: PipelineStage) -> SourceFacts:
        """Record the stage; raises `JobCancelledError` if the video was deleted or the job
        cancelled (or taken away) meanwhile. Returns what the stage needs to know."""
        with self.unit() as scope:
            video = self.video(scope, video_id)
            if video.deleted_at is not None or self.renew(scope):
                raise JobCancelledError
            video.stage = stage
            if video.status in (VideoStatus.UPLOADED, VideoStatus.FAILED, VideoStatus.CANCELLED):
                video.status = VideoStatus.PROCESSING
            return self._facts(scope, video)

    def _facts(self, scope: ScopedService, video: Video) -> SourceFacts:
        source = scope.get_owned(StoredFile, video.file_id, "File", include_deleted=True)
        company = scope.db.get_one(Company, self.actor.company_id)
        limits = limits_for(scope.db, company)
        defaults = company.settings.video_defaults
        return SourceFacts(
            key=source.storage_key,
            outputs=JobOutputKeys(job_output_prefix(video.company_id, video.id, self.job_id)),
            poster_at_seconds=video.poster_at_seconds,
            max_seconds=limits.max_video_seconds,
            max_short_side=limits.max_video_short_side,
            cap_short_side=defaults.max_resolution,
            hls=Feature.HLS in limits.features and defaults.hls_enabled,
            chroma_key=video.chroma_key,
        )

    def renew(self, scope: ScopedService) -> bool:
        """Extend the lease; whether the job asks to be cancelled (or was taken away)."""
        return renew_lease(
            scope.db, self.job_id, self._held_by(), self.settings.VIDEO_JOB_LEASE_SECONDS
        )

    def record_probe(self, video_id: uuid.UUID, info: MediaInfo) -> None:
        with self.unit() as scope:
            video = self.video(scope, video_id)
            video.duration_seconds = info.duration
            video.width = info.display_width
            video.height = info.display_height
            video.rotation = info.rotation
            video.has_audio = info.has_audio
            video.source_codec = info.video_codec
            video.source_is_standard = is_standard(info)
            video.probe = jsonable(asdict(info))

    # Renditions
    def decide_in_place(self, video_id: uuid.UUID, outputs: JobOutputKeys) -> None:
        with self.unit() as scope:
            video = self.video(scope, video_id)
            self.in_place = not plays_older_outputs(scope, video, outputs.prefix)

    def prepare_renditions(
        self, video_id: uuid.UUID, planned: list[PlannedRendition], outputs: JobOutputKeys
    ) -> set[str]:
        """Rows for the renditions this job makes, live or pending; returns those an
        earlier attempt of this job already finished, kept as they are (their outputs may
        already be linked). Any other row in the way is reset, and the files it named
        retired."""
        names = {rendition.name for rendition in planned}
        retire_at = self.links_expired_at() if self.in_place else utcnow()
        resumed: set[str] = set()
        with self.unit() as scope:
            video = self.video(scope, video_id)
            existing = {r.name: r for r in renditions_of(scope, video.id, live=self.in_place)}
            for name, stale in existing.items():
                if name not in names:
                    retire(scope.db, video, rendition_keys(stale), retire_at)
                    scope.db.delete(stale)
            for rendition in planned:
                row = existing.get(rendition.name)
                if row is not None and _finished_by(row, rendition, outputs.prefix):
                    resumed.add(rendition.name)
                    continue
                if row is None:
                    row = VideoRendition(
                        company_id=video.company_id,
                        video_id=video.id,
                        name=rendition.name,
                        live=self.in_place,
                    )
                    scope.db.add(row)
                retire(scope.db, video, rendition_keys(row), retire_at)
                _reset(row, rendition)
        return resumed

    def update_rendition(self, video_id: uuid.UUID, name: str, **values: Any) -> None:
        with self.unit() as scope:
            row = self._rendition(scope, video_id, name)
            for field, value in values.items():
                setattr(row, field, value)

    def report_progress(self, video_id: uuid.UUID, name: str | None, progress: Progress) -> bool:
        """Write a rendition's progress and renew the lease, in one transaction; returns
        whether the job is to stop."""
        with self.unit() as scope:
            cancel = self.renew(scope)
            if name is None:
                return cancel
            row = self._rendition(scope, video_id, name)
            row.percent = round(progress.percent, 1)
            row.eta_seconds = progress.eta_seconds
            publish_after_commit(
                scope.db,
                self.settings,
                self.video(scope, video_id),
                "video.progress",
                rendition=name,
                percent=row.percent,
                eta_seconds=row.eta_seconds,
            )
            return cancel

    def variants_after(self, video_id: uuid.UUID) -> list[VariantEntry]:
        """The HLS variants that play once this job's set is live, smallest first."""
        with self.unit() as scope:
            rows = renditions_after(scope, video_id, replaces_all=self.replaces_all)
            return [
                VariantEntry(r.hls_variant, r.hls_playlist_key)
                for r in rows
                if r.status == RenditionStatus.DONE and r.hls_variant and r.hls_playlist_key
            ]

    def mark_playable(self, video_id: uuid.UUID) -> None:
        with self.unit() as scope:
            video = self.video(scope, video_id)
            video.status = VideoStatus.PLAYABLE
            video.playable_at = video.playable_at or utcnow()
            publish_after_commit(scope.db, self.settings, video, "video.playable")

    # Stills and the master playlist
    def point_at_master(self, video_id: uuid.UUID, key: str | None) -> None:
        with self.unit() as scope:
            self._point_at_master(scope, self.video(scope, video_id), key)

    def apply_stills(self, video_id: uuid.UUID, stills: Stills, stored_bytes: StoredBytes) -> None:
        with self.unit() as scope:
            self._apply_stills(scope, self.video(scope, video_id), stills, stored_bytes)

    def set_poster(self, video_id: uuid.UUID, key: str, stored_bytes: StoredBytes) -> None:
        with self.unit() as scope:
            video = self.video(scope, video_id)
            retire(scope.db, video, [video.poster_key], self.links_expired_at())
            video.poster_key = key
            video.assets_bytes = stored_bytes(asset_keys(video))

    # Outcomes
    def succeed(
        self, master_key: str | None, stills: Stills | None, stored_bytes: StoredBytes
    ) -> None:
        """The final state, in one transaction: a pending set replaces what played, all at
        once; the event goes out after the commit."""
        with self.unit() as scope:
            job, video = self._locked(scope)
            leases.succeed(job)
            video.stage = PipelineStage.FINALIZE
            if not self.in_place:
                swap_in_pending(
                    scope,
                    video,
                    replaces_all=self.replaces_all,
                    purge_after=self.links_expired_at(),
                )
                self._point_at_master(scope, video, master_key)
                if stills is not None:
                    self._apply_stills(scope, video, stills, stored_bytes)
            renditions = renditions_of(scope, video.id, live=True)
            if renditions and all(r.status == RenditionStatus.DONE for r in renditions):
                video.status = VideoStatus.READY
                video.ready_at = video.ready_at or utcnow()
                video.failure_reason = None
                video.failed_stage = None
            publish_after_commit(
                scope.db, self.settings, video, "video.processed", job_kind=job.kind.value
            )

    def fail(self, stage: PipelineStage, reason: str) -> bool:
        """Mark the job failed with the reason and the stage. Its video fails too, unless
        it plays what an earlier job made: then it keeps playing that. False if the job
        is gone."""
        with self.unit() as scope:
            locked = lock_job(scope, self.job_id)
            if locked is None:
                return False
            job, video = locked
            leases.fail(job, reason)
            for rendition in renditions_of(scope, video.id):
                if rendition.status == RenditionStatus.ENCODING:
                    rendition.status = RenditionStatus.FAILED
                    rendition.error = reason
            discard_pending(scope, video, job.id, utcnow())
            prefix = job_output_prefix(video.company_id, video.id, job.id)
            if not plays_older_outputs(scope, video, prefix):
                video.status = VideoStatus.FAILED
                video.failure_reason = reason
                video.failed_stage = stage
            publish_after_commit(
                scope.db, self.settings, video, "video.failed", reason=reason, stage=stage.value
            )
        return True

    def exhausted_stage(self) -> tuple[PipelineStage, str] | None:
        """For a job with no attempt left (its workers kept dying): the stage to fail it at
        and its last error; None if it is not such a job."""
        with self.unit() as scope:
            job = self.job(scope)
            if job.status not in ACTIVE_JOB_STATUSES or not leases.out_of_attempts(job):
                return None
            return self.video(scope, job.video_id).stage, leases.gave_up(
                job.attempts, job.last_error
            )

    def release(self, reason: str) -> None:
        """Back to the queue for a retry, with the error."""
        with self.unit() as scope:
            leases.release(scope.db, VideoJob, self.job_id, self._held_by(), reason)

    def hand_back(self, reason: str) -> None:
        """The worker is stopping: nothing fails, and the renditions in progress wait again."""
        with self.unit() as scope:
            if leases.hand_back(scope.db, VideoJob, self.job_id, self._held_by(), reason):
                self._rewind_encoding(scope)

    def cancelled(self) -> None:
        with self.unit() as scope:
            job, video = self._locked(scope)
            self._rewind_encoding(scope)
            settle_cancelled(scope, video, job)
            publish_after_commit(scope.db, self.settings, video, "video.cancelled")

    @property
    def replaces_all(self) -> bool:
        """Whether this job's pending set replaces every live rendition (a whole new
        ladder), rather than only those of the same name (a re-encoded rendition)."""
        return self.kind == JobKind.PROCESS and not self.in_place

    def links_expired_at(self) -> datetime:
        """When every link to outputs replaced now has expired: then they can go."""
        return utcnow() + timedelta(seconds=self.settings.STORAGE_URL_TTL_SECONDS)

    # Internals
    def _held_by(self) -> str:
        """The task holding the lease: only a job a worker runs has one."""
        if self.task_id is None:
            raise RuntimeError(f"video job {self.job_id} is not running here")
        return self.task_id

    def _locked(self, scope: ScopedService) -> tuple[VideoJob, Video]:
        locked = lock_job(scope, self.job_id)
        if locked is None:
            raise LookupError(f"video job {self.job_id} is gone")
        return locked

    def _rendition(self, scope: ScopedService, video_id: uuid.UUID, name: str) -> VideoRendition:
        row: VideoRendition = scope.db.scalars(
            scope.scoped(VideoRendition).where(
                VideoRendition.video_id == video_id,
                VideoRendition.live.is_(self.in_place),
                VideoRendition.name == name,
            )
        ).one()
        return row

    def _rewind_encoding(self, scope: ScopedService) -> None:
        video_id = self.job(scope).video_id
        for rendition in renditions_of(scope, video_id):
            if rendition.status == RenditionStatus.ENCODING:
                rendition.status = RenditionStatus.WAITING
                rendition.percent = 0.0
                rendition.eta_seconds = None

    def _point_at_master(self, scope: ScopedService, video: Video, key: str | None) -> None:
        """The video's master playlist is now `key` (None: no HLS); an older one retires."""
        if video.hls_master_key != key:
            retire(scope.db, video, [video.hls_master_key], self.links_expired_at())
        video.hls_master_key = key

    def _apply_stills(
        self, scope: ScopedService, video: Video, stills: Stills, stored_bytes: StoredBytes
    ) -> None:
        """Point the video at new stills and retire the ones they replace."""
        replaced = set(still_keys(video)) - set(stills.keys())
        retire(scope.db, video, sorted(replaced), self.links_expired_at())
        video.poster_key = stills.poster_key
        video.thumbnail_keys = stills.thumbnail_keys
        video.storyboard_key = stills.storyboard_key
        video.storyboard_vtt_key = stills.storyboard_vtt_key
        video.assets_bytes = stored_bytes(asset_keys(video))


def _finished_by(row: VideoRendition, planned: PlannedRendition, job_prefix: str) -> bool:
    """Whether an earlier attempt of this job already made this very rendition."""
    return (
        row.status == RenditionStatus.DONE
        and (row.mp4_key or "").startswith(job_prefix)
        and (row.kind, row.short_side, row.is_copy)
        == (planned.kind, planned.short_side, planned.is_copy)
    )


def _reset(row: VideoRendition, planned: PlannedRendition) -> None:
    row.kind = planned.kind
    row.short_side = planned.short_side
    row.is_copy = planned.is_copy
    row.status = RenditionStatus.WAITING
    row.percent = 0.0
    row.eta_seconds = None
    row.error = None
    row.mp4_key = None
    row.hls_playlist_key = None
    row.hls_variant = None
    row.size_bytes = None
    row.hls_bytes = 0


def jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {
        name: str(value) if isinstance(value, Fraction) else value for name, value in values.items()
    }


def still_keys(video: Video) -> list[str]:
    keys = [video.poster_key, *video.thumbnail_keys, video.storyboard_key, video.storyboard_vtt_key]
    return [key for key in keys if key]


def asset_keys(video: Video) -> list[str]:
    return [*still_keys(video), *([video.hls_master_key] if video.hls_master_key else [])]
