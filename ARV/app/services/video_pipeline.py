"""The media pipeline a worker runs for one claimed job.

Order of work, so an admin never waits blind: probe, then one playable rendition as soon
as possible (the source's own streams copied into a faststart MP4 when they are already
H.264/AAC, otherwise a fast 720p encode), then the rest of the ladder, HLS and stills.
Every output has a fixed key per video and rendition, so a re-run overwrites instead of
piling up; the database is updated in short transactions and events are published only
after they commit.
"""

import logging
import posixpath
import shutil
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.database import session_scope
from app.core.events import on_commit
from app.core.pubsub import publish_event
from app.core.storage import ObjectNotFoundError, StorageError, StorageProvider
from app.models.company import Company
from app.models.storage import StoredFile
from app.models.video import (
    ACTIVE_JOB_STATUSES,
    JobKind,
    JobStatus,
    PipelineStage,
    RenditionStatus,
    Video,
    VideoJob,
    VideoRendition,
    VideoStatus,
)
from app.services import leases
from app.services.plans import Feature, limits_for
from app.services.video_jobs import ClaimedJob, claim_job, renew_lease
from app.services.video_outputs import (
    discard_pending,
    job_output_prefix,
    plays_older_outputs,
    rendition_keys,
    renditions_after,
    renditions_of,
    retire,
    swap_in_pending,
)
from app.services.video_service import lock_job, settle_cancelled
from app.utils.clock import utcnow
from app.utils.ffmpeg import (
    FfmpegCancelled,
    FfmpegConfig,
    HlsVariant,
    MediaError,
    MediaInfo,
    Progress,
    Rung,
    extract_frame,
    first_non_black_time,
    hls_command,
    is_standard,
    keyframes_fit_segments,
    ladder_for,
    master_playlist,
    measure_hls_variant,
    output_size,
    probe,
    remux_command,
    run,
    storyboard,
    thumbnails,
    transcode_command,
)
from app.utils.subprocesses import WorkerStopping

logger = logging.getLogger(__name__)

PROGRESS_EVERY_SECONDS = 1.0
PLAYABLE_FIRST_SHORT_SIDE = 720
FAST_PRESET = "veryfast"
TRANSIENT_ERRORS = (StorageError, OSError, OperationalError)
WORKER_STOPPED = "interrupted: the worker was stopped"
MAX_RETRY_DELAY_SECONDS = 600


class PermanentFailureError(Exception):
    """A permanent failure: retrying cannot help; the video shows the reason."""

    def __init__(self, stage: PipelineStage, reason: str) -> None:
        super().__init__(reason)
        self.stage = stage
        self.reason = reason


class JobCancelledError(Exception):
    """Someone cancelled or deleted the video while the job ran."""


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str
    retry_in: float | None = None


@dataclass(frozen=True, slots=True)
class PlannedRendition:
    name: str
    short_side: int
    rung: Rung | None  # None: the source's streams are copied, not encoded

    @property
    def is_copy(self) -> bool:
        return self.rung is None


@dataclass(frozen=True, slots=True)
class SourceFacts:
    key: str
    prefix: str
    poster_at_seconds: float | None
    max_seconds: int
    max_short_side: int
    cap_short_side: int
    hls: bool


@dataclass(frozen=True, slots=True)
class Stills:
    poster_key: str
    thumbnail_keys: list[str]
    storyboard_key: str
    storyboard_vtt_key: str

    def keys(self) -> list[str]:
        return [self.poster_key, *self.thumbnail_keys, self.storyboard_key, self.storyboard_vtt_key]


def plan_renditions(
    info: MediaInfo, cap_short_side: int, *, hls: bool = True
) -> list[PlannedRendition]:
    """The ladder, playable-first rendition first. A standard source is copied as its own
    top rung if its keyframes cut into HLS segments of the advertised length (or no HLS is
    made); otherwise the first is the 720p rung (or the largest below the source)."""
    rungs = [rung for rung in ladder_for(info) if rung.short_side <= cap_short_side]
    if not rungs:
        rungs = ladder_for(info)[:1]
    copyable = is_standard(info) and (keyframes_fit_segments(info) or not hls)
    if copyable and info.short_side <= cap_short_side:
        lower = [rung for rung in rungs if rung.short_side < info.short_side]
        copy = PlannedRendition(f"{info.short_side}p", info.short_side, None)
        return [copy, *(PlannedRendition(r.name, r.short_side, r) for r in lower)]
    first = max(
        (rung for rung in rungs if rung.short_side <= PLAYABLE_FIRST_SHORT_SIDE),
        key=lambda rung: rung.short_side,
        default=rungs[0],
    )
    rest = [rung for rung in rungs if rung is not first]
    return [PlannedRendition(r.name, r.short_side, r) for r in (first, *rest)]


class VideoPipeline:
    def __init__(
        self, sessions: sessionmaker[Session], storage: StorageProvider, settings: Settings
    ) -> None:
        self.sessions = sessions
        self.storage = storage
        self.settings = settings
        self.ffmpeg = FfmpegConfig(
            ffmpeg=settings.FFMPEG_BINARY,
            ffprobe=settings.FFPROBE_BINARY,
            timeout=settings.FFMPEG_TIMEOUT_SECONDS,
        )

    def run(self, job_id: uuid.UUID, task_id: str) -> Outcome:
        with session_scope(self.sessions) as db:
            job = claim_job(db, job_id, task_id, self.settings.VIDEO_JOB_LEASE_SECONDS)
        if job is None:
            return self._unclaimed(job_id)
        # One folder per attempt: a killed attempt's leftovers never mix with the next.
        work = self.settings.media_work_dir / f"{job.id}-{job.attempts}"
        run = _JobRun(self, job, task_id, work)
        try:
            work.mkdir(parents=True, exist_ok=True)
            run.execute()
        except JobCancelledError:
            self._finish_cancelled(job)
            return Outcome("cancelled")
        except PermanentFailureError as failure:
            self.fail(job.id, failure.stage, failure.reason)
            return Outcome("failed")
        except MediaError as error:
            if error.permanent:
                self.fail(job.id, run.stage, error.reason)
                return Outcome("failed")
            return self._retry_or_give_up(job, task_id, run.stage, error.reason)
        except TRANSIENT_ERRORS as error:
            return self._retry_or_give_up(
                job, task_id, run.stage, f"{type(error).__name__}: {error}"
            )
        except WorkerStopping:
            self._hand_back(job, task_id)
            raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return Outcome("succeeded")

    def fail(self, job_id: uuid.UUID, stage: PipelineStage, reason: str) -> None:
        """Mark the job and its video failed, with the reason and the stage, at once."""
        with session_scope(self.sessions) as db:
            locked = lock_job(db, job_id)
            if locked is None:
                return
            job, video = locked
            leases.fail(job, reason)
            for rendition in _renditions(db, video.id, RenditionStatus.ENCODING):
                rendition.status = RenditionStatus.FAILED
                rendition.error = reason
            discard_pending(db, video, job.id, utcnow())
            job_prefix = job_output_prefix(video.company_id, video.id, job.id)
            if not plays_older_outputs(db, video, job_prefix):
                video.status = VideoStatus.FAILED
                video.failure_reason = reason
                video.failed_stage = stage
            _publish_after_commit(db, video, "video.failed", reason=reason, stage=stage.value)
        logger.warning(
            "video job failed", extra={"job_id": str(job_id), "stage": stage, "reason": reason}
        )

    def give_up(self, job_id: uuid.UUID) -> bool:
        """Fail a job that has no attempt left (its workers kept dying)."""
        with session_scope(self.sessions) as db:
            job = db.get(VideoJob, job_id)
            if job is None or job.status not in ACTIVE_JOB_STATUSES:
                return False
            if not leases.out_of_attempts(job):
                return False
            stage = db.get_one(Video, job.video_id).stage
            reason = _gave_up(job.attempts, job.last_error)
        self.fail(job_id, stage, reason)
        return True

    def _unclaimed(self, job_id: uuid.UUID) -> Outcome:
        return Outcome("failed") if self.give_up(job_id) else Outcome("skipped")

    def _retry_or_give_up(
        self, job: ClaimedJob, task_id: str, stage: PipelineStage, reason: str
    ) -> Outcome:
        if job.attempts >= job.max_attempts:
            self.fail(job.id, stage, _gave_up(job.attempts, reason))
            return Outcome("failed")
        with session_scope(self.sessions) as db:
            leases.release(db, VideoJob, job.id, task_id, reason)
        delay = min(MAX_RETRY_DELAY_SECONDS, 10 * 2 ** (job.attempts - 1))
        logger.info("video job will retry", extra={"job_id": str(job.id), "reason": reason})
        return Outcome("retry", retry_in=delay)

    def _hand_back(self, job: ClaimedJob, task_id: str) -> None:
        """The worker is stopping (see `hand_back`): nothing fails, and the renditions in
        progress wait again. Should the database be out of reach, the job is still claimed
        by `task_id`, and the redelivered message takes it all the same."""
        try:
            with session_scope(self.sessions) as db:
                if leases.hand_back(db, VideoJob, job.id, task_id, WORKER_STOPPED):
                    for rendition in _renditions(db, job.video_id, RenditionStatus.ENCODING):
                        rendition.status = RenditionStatus.WAITING
                        rendition.percent = 0.0
                        rendition.eta_seconds = None
        except TRANSIENT_ERRORS:
            logger.exception("cannot hand the video job back", extra={"job_id": str(job.id)})
            return
        logger.info("video job handed back to the queue", extra={"job_id": str(job.id)})

    def _finish_cancelled(self, job: ClaimedJob) -> None:
        with session_scope(self.sessions) as db:
            row, video = _locked(db, job.id)
            for rendition in _renditions(db, video.id, RenditionStatus.ENCODING):
                rendition.status = RenditionStatus.WAITING
                rendition.percent = 0.0
                rendition.eta_seconds = None
            settle_cancelled(db, video, row)
            _publish_after_commit(db, video, "video.cancelled")


class _JobRun:
    """One attempt at one job, with its scratch folder."""

    def __init__(self, pipeline: VideoPipeline, job: ClaimedJob, task_id: str, work: Path):
        self.pipeline = pipeline
        self.sessions = pipeline.sessions
        self.storage = pipeline.storage
        self.settings = pipeline.settings
        self.ffmpeg = pipeline.ffmpeg
        self.job = job
        self.task_id = task_id
        self.work = work
        self.stage = PipelineStage.DOWNLOAD
        # Whether the renditions this job makes go live one by one (a video not playing
        # yet), or wait as pending until the whole set can replace what plays.
        self.in_place = True
        self.resumed: set[str] = set()
        self.stills: Stills | None = None
        self._cancel_requested = False
        self._last_report = 0.0

    def execute(self) -> None:
        facts = self._enter(PipelineStage.DOWNLOAD)
        source = self.work / "source"
        try:
            self.storage.download_file(facts.key, source)
        except ObjectNotFoundError as error:
            raise PermanentFailureError(
                PipelineStage.DOWNLOAD, "the original file is missing from storage"
            ) from error
        self._enter(PipelineStage.PROBE)
        info = self._probe(source, facts)
        if self.job.kind == JobKind.POSTER:
            self._poster(source, info, facts)
        elif self.job.kind == JobKind.RENDITION:
            self._rendition_again(source, info, facts)
        else:
            self._process(source, info, facts)
        self._finish(facts)

    # The whole pipeline
    def _process(self, source: Path, info: MediaInfo, facts: SourceFacts) -> None:
        planned = plan_renditions(info, facts.cap_short_side, hls=facts.hls)
        with session_scope(self.sessions) as db:
            video = db.get_one(Video, self.job.video_id)
            self.in_place = not plays_older_outputs(db, video, facts.prefix)
        self._prepare_renditions(planned, facts)
        self._enter(PipelineStage.PLAYABLE)
        self._make_rendition(source, info, facts, planned[0], preset=FAST_PRESET)
        if self.in_place:
            self._mark_playable()
        self._enter(PipelineStage.LADDER)
        for rendition in planned[1:]:
            self._make_rendition(source, info, facts, rendition, preset=FAST_PRESET)
        self._enter(PipelineStage.STILLS)
        self.stills = self._stills(source, info, facts)
        if self.in_place:
            self._apply_stills(self.stills)

    def _rendition_again(self, source: Path, info: MediaInfo, facts: SourceFacts) -> None:
        planned = {p.name: p for p in plan_renditions(info, facts.cap_short_side, hls=facts.hls)}
        target = planned.get(self.job.target or "")
        if target is None:
            raise PermanentFailureError(
                PipelineStage.LADDER, f"rendition {self.job.target!r} is not in this video's ladder"
            )
        self.in_place = False
        self._prepare_renditions([target], facts)
        self._enter(PipelineStage.LADDER)
        self._make_rendition(source, info, facts, target, preset=FAST_PRESET)

    def _poster(self, source: Path, info: MediaInfo, facts: SourceFacts) -> None:
        self._enter(PipelineStage.STILLS)
        poster = self.work / "poster.jpg"
        extract_frame(source, facts.poster_at_seconds or 0.0, poster, self.ffmpeg)
        key = f"{facts.prefix}poster.jpg"
        self.storage.put_file(key, poster, "image/jpeg")
        with session_scope(self.sessions) as db:
            video = db.get_one(Video, self.job.video_id)
            retire(db, video, [video.poster_key], self._links_expired_at())
            video.poster_key = key
            video.assets_bytes = self._stored_bytes(_asset_keys(video))

    def _stored_bytes(self, keys: list[str]) -> int:
        return sum(self.storage.stat(key).size for key in keys)

    # Steps
    def _enter(self, stage: PipelineStage) -> SourceFacts:
        self.stage = stage
        with session_scope(self.sessions) as db:
            video = db.get_one(Video, self.job.video_id)
            if video.deleted_at is not None or self._cancel_check(db):
                raise JobCancelledError
            video.stage = stage
            if video.status in (VideoStatus.UPLOADED, VideoStatus.FAILED, VideoStatus.CANCELLED):
                video.status = VideoStatus.PROCESSING
            return self._facts(db, video)

    def _facts(self, db: Session, video: Video) -> SourceFacts:
        source = db.get_one(StoredFile, video.file_id)
        company = db.get_one(Company, video.company_id)
        limits = limits_for(company)
        defaults = company.settings.video_defaults
        return SourceFacts(
            key=source.storage_key,
            prefix=job_output_prefix(video.company_id, video.id, self.job.id),
            poster_at_seconds=video.poster_at_seconds,
            max_seconds=limits.max_video_seconds,
            max_short_side=limits.max_video_short_side,
            cap_short_side=defaults.max_resolution,
            hls=Feature.HLS in limits.features and defaults.hls_enabled,
        )

    def _probe(self, source: Path, facts: SourceFacts) -> MediaInfo:
        try:
            info = probe(source, self.ffmpeg)
        except MediaError as error:
            if not error.permanent:
                raise
            raise PermanentFailureError(PipelineStage.PROBE, error.reason) from error
        if info.duration > facts.max_seconds:
            raise PermanentFailureError(
                PipelineStage.PROBE,
                f"the video lasts {info.duration:.0f} s; the plan allows {facts.max_seconds} s",
            )
        if info.short_side > facts.max_short_side:
            raise PermanentFailureError(
                PipelineStage.PROBE,
                f"the video is {info.display_width}x{info.display_height}; the plan allows "
                f"up to {facts.max_short_side}p",
            )
        with session_scope(self.sessions) as db:
            video = db.get_one(Video, self.job.video_id)
            video.duration_seconds = info.duration
            video.width = info.display_width
            video.height = info.display_height
            video.rotation = info.rotation
            video.has_audio = info.has_audio
            video.source_codec = info.video_codec
            video.source_is_standard = is_standard(info)
            video.probe = _jsonable(asdict(info))
        return info

    def _prepare_renditions(self, planned: list[PlannedRendition], facts: SourceFacts) -> None:
        """Rows for the renditions this job makes, live or pending. A rendition an earlier
        attempt of this job finished is kept as it is (its outputs may already be linked);
        any other row in the way is reset, and the files it named retired."""
        names = {rendition.name for rendition in planned}
        retire_at = self._links_expired_at() if self.in_place else utcnow()
        with session_scope(self.sessions) as db:
            video = db.get_one(Video, self.job.video_id)
            existing = {r.name: r for r in renditions_of(db, video.id, live=self.in_place)}
            for name, stale in existing.items():
                if name not in names:
                    retire(db, video, rendition_keys(stale), retire_at)
                    db.delete(stale)
            for rendition in planned:
                row = existing.get(rendition.name)
                if row is not None and _finished_by(row, rendition, facts.prefix):
                    self.resumed.add(rendition.name)
                    continue
                if row is None:
                    row = VideoRendition(
                        company_id=video.company_id,
                        video_id=video.id,
                        name=rendition.name,
                        live=self.in_place,
                    )
                    db.add(row)
                retire(db, video, rendition_keys(row), retire_at)
                _reset(row, rendition)

    def _make_rendition(
        self,
        source: Path,
        info: MediaInfo,
        facts: SourceFacts,
        planned: PlannedRendition,
        *,
        preset: str,
    ) -> None:
        if planned.name in self.resumed:
            return
        self._update_rendition(planned.name, status=RenditionStatus.ENCODING, started_at=utcnow())
        mp4 = self.work / f"{planned.name}.mp4"
        if planned.rung is None:
            argv = remux_command(source, mp4, info, self.ffmpeg)
            width, height = info.display_width, info.display_height
        else:
            argv = transcode_command(source, mp4, info, planned.rung, self.ffmpeg, preset=preset)
            width, height = output_size(info, planned.rung)
        self._run_ffmpeg(argv, info.duration, planned.name)
        mp4_key = f"{facts.prefix}renditions/{planned.name}.mp4"
        self.storage.put_file(mp4_key, mp4, "video/mp4")
        variant, hls_bytes = self._hls(mp4, planned.name, facts) if facts.hls else (None, 0)
        size = mp4.stat().st_size
        self._update_rendition(
            planned.name,
            status=RenditionStatus.DONE,
            percent=100.0,
            eta_seconds=0.0,
            width=width,
            height=height,
            size_bytes=size,
            hls_bytes=hls_bytes,
            bitrate_kbps=round(size * 8 / 1000 / max(info.duration, 0.001)),
            mp4_key=mp4_key,
            hls_playlist_key=f"{facts.prefix}hls/{planned.name}/index.m3u8" if variant else None,
            hls_variant=_jsonable(asdict(variant)) if variant else None,
            finished_at=utcnow(),
        )
        if facts.hls and self.in_place:
            self._publish_master_playlist(facts)
        mp4.unlink(missing_ok=True)

    def _hls(self, mp4: Path, name: str, facts: SourceFacts) -> tuple[HlsVariant, int]:
        """The variant's master-playlist entry, and the bytes its files take in storage."""
        out_dir = self.work / f"hls-{name}"
        out_dir.mkdir(exist_ok=True)
        self._run_ffmpeg(hls_command(mp4, out_dir, self.ffmpeg), None, None)
        variant = measure_hls_variant(
            f"{name}/index.m3u8", out_dir / "index.m3u8", probe(mp4, self.ffmpeg, keyframes=False)
        )
        prefix = f"{facts.prefix}hls/{name}/"
        files = sorted(out_dir.iterdir())
        for path in files:
            content_type = (
                "application/vnd.apple.mpegurl" if path.suffix == ".m3u8" else "video/mp2t"
            )
            self.storage.put_file(prefix + path.name, path, content_type)
        stored_bytes = sum(path.stat().st_size for path in files)
        shutil.rmtree(out_dir, ignore_errors=True)
        return variant, stored_bytes

    def _write_master_playlist(self, facts: SourceFacts) -> str:
        """The master playlist of the renditions that play once this job's set is live,
        in this job's folder; variant URIs are relative to it, wherever each variant is."""
        key = f"{facts.prefix}hls/master.m3u8"
        with session_scope(self.sessions) as db:
            renditions = renditions_after(db, self.job.video_id, replaces_all=self._replaces_all())
            variants = [
                HlsVariant(
                    **{
                        **r.hls_variant,
                        "uri": posixpath.relpath(r.hls_playlist_key, posixpath.dirname(key)),
                    }
                )
                for r in renditions
                if r.status == RenditionStatus.DONE and r.hls_variant and r.hls_playlist_key
            ]
        master = self.work / "master.m3u8"
        master.write_text(master_playlist(variants), encoding="utf-8")
        self.storage.put_file(key, master, "application/vnd.apple.mpegurl")
        return key

    def _publish_master_playlist(self, facts: SourceFacts) -> None:
        key = self._write_master_playlist(facts)
        with session_scope(self.sessions) as db:
            self._point_at_master(db, db.get_one(Video, self.job.video_id), key)

    def _point_at_master(self, db: Session, video: Video, key: str | None) -> None:
        """The video's master playlist is now `key` (None: no HLS); an older one retires."""
        if video.hls_master_key != key:
            retire(db, video, [video.hls_master_key], self._links_expired_at())
        video.hls_master_key = key

    def _stills(self, source: Path, info: MediaInfo, facts: SourceFacts) -> "Stills":
        at = facts.poster_at_seconds
        if at is None:
            at = first_non_black_time(source, info, self.ffmpeg)
        poster = self.work / "poster.jpg"
        extract_frame(source, at, poster, self.ffmpeg)
        self.storage.put_file(f"{facts.prefix}poster.jpg", poster, "image/jpeg")
        thumbs_dir = self.work / "thumbnails"
        thumbs_dir.mkdir(exist_ok=True)
        thumbnail_keys = []
        for path in thumbnails(source, info, thumbs_dir, self.ffmpeg):
            key = f"{facts.prefix}thumbnails/{path.name}"
            self.storage.put_file(key, path, "image/jpeg")
            thumbnail_keys.append(key)
        sprite = self.work / "storyboard.jpg"
        vtt = storyboard(source, info, sprite, self.ffmpeg)
        vtt_path = self.work / "storyboard.vtt"
        vtt_path.write_text(vtt, encoding="utf-8")
        self.storage.put_file(f"{facts.prefix}storyboard.jpg", sprite, "image/jpeg")
        self.storage.put_file(f"{facts.prefix}storyboard.vtt", vtt_path, "text/vtt")
        return Stills(
            poster_key=f"{facts.prefix}poster.jpg",
            thumbnail_keys=thumbnail_keys,
            storyboard_key=f"{facts.prefix}storyboard.jpg",
            storyboard_vtt_key=f"{facts.prefix}storyboard.vtt",
        )

    def _apply_stills(self, stills: "Stills", db: Session | None = None) -> None:
        """Point the video at new stills (in `db`'s transaction, or one of its own) and
        retire the ones they replace."""
        if db is None:
            with session_scope(self.sessions) as own:
                self._apply_stills(stills, own)
            return
        video = db.get_one(Video, self.job.video_id)
        replaced = set(_still_keys(video)) - set(stills.keys())
        retire(db, video, sorted(replaced), self._links_expired_at())
        video.poster_key = stills.poster_key
        video.thumbnail_keys = stills.thumbnail_keys
        video.storyboard_key = stills.storyboard_key
        video.storyboard_vtt_key = stills.storyboard_vtt_key
        video.assets_bytes = self._stored_bytes(_asset_keys(video))

    def _mark_playable(self) -> None:
        with session_scope(self.sessions) as db:
            video = db.get_one(Video, self.job.video_id)
            video.status = VideoStatus.PLAYABLE
            video.playable_at = video.playable_at or utcnow()
            _publish_after_commit(db, video, "video.playable")

    def _finish(self, facts: SourceFacts) -> None:
        """The final state, in one transaction; the event goes out after it commits. A set
        built as pending replaces what played here, all at once."""
        self.stage = PipelineStage.FINALIZE
        master_key = None
        if not self.in_place and facts.hls:
            master_key = self._write_master_playlist(facts)
        with session_scope(self.sessions) as db:
            job, video = _locked(db, self.job.id)
            job.status = JobStatus.SUCCEEDED
            job.finished_at = utcnow()
            job.lease_expires_at = None
            job.last_error = None
            video.stage = PipelineStage.FINALIZE
            if not self.in_place:
                self._swap_in(db, video, master_key)
            renditions = renditions_of(db, video.id, live=True)
            if renditions and all(r.status == RenditionStatus.DONE for r in renditions):
                video.status = VideoStatus.READY
                video.ready_at = video.ready_at or utcnow()
                video.failure_reason = None
                video.failed_stage = None
            _publish_after_commit(db, video, "video.processed", job_kind=job.kind.value)

    def _swap_in(self, db: Session, video: Video, master_key: str | None) -> None:
        replaces_all = self._replaces_all()
        swap_in_pending(db, video, replaces_all=replaces_all, purge_after=self._links_expired_at())
        self._point_at_master(db, video, master_key)
        if self.stills is not None:
            self._apply_stills(self.stills, db)

    def _replaces_all(self) -> bool:
        """Whether this job's pending set replaces every live rendition (a whole new
        ladder), rather than only those of the same name (a re-encoded rendition)."""
        return self.job.kind == JobKind.PROCESS and not self.in_place

    def _links_expired_at(self) -> datetime:
        """When every link to outputs replaced now has expired: then they can go."""
        return utcnow() + timedelta(seconds=self.settings.STORAGE_URL_TTL_SECONDS)

    # Progress and cancellation
    def _run_ffmpeg(self, argv: list[str], duration: float | None, rendition: str | None) -> None:
        def report(progress: Progress) -> None:
            now = time.monotonic()
            if now - self._last_report < PROGRESS_EVERY_SECONDS:
                return
            self._last_report = now
            self._report(rendition, progress)

        try:
            run(
                argv,
                self.ffmpeg,
                duration=duration,
                on_progress=report,
                should_cancel=lambda: self._cancel_requested,
            )
        except FfmpegCancelled as error:
            raise JobCancelledError from error

    def _report(self, rendition: str | None, progress: Progress) -> None:
        with session_scope(self.sessions) as db:
            self._cancel_requested = self._cancel_check(db)
            if rendition is None:
                return
            row = _rendition(db, self.job.video_id, rendition, live=self.in_place)
            row.percent = round(progress.percent, 1)
            row.eta_seconds = progress.eta_seconds
            video = db.get_one(Video, self.job.video_id)
            _publish_after_commit(
                db,
                video,
                "video.progress",
                rendition=rendition,
                percent=row.percent,
                eta_seconds=row.eta_seconds,
            )

    def _cancel_check(self, db: Session) -> bool:
        return renew_lease(db, self.job.id, self.task_id, self.settings.VIDEO_JOB_LEASE_SECONDS)

    def _update_rendition(self, name: str, **values: Any) -> None:
        with session_scope(self.sessions) as db:
            row = _rendition(db, self.job.video_id, name, live=self.in_place)
            for field, value in values.items():
                setattr(row, field, value)


def _locked(db: Session, job_id: uuid.UUID) -> tuple[VideoJob, Video]:
    locked = lock_job(db, job_id)
    if locked is None:
        raise LookupError(f"video job {job_id} is gone")
    return locked


def _renditions(
    db: Session, video_id: uuid.UUID, status: RenditionStatus | None = None
) -> list[VideoRendition]:
    statement = select(VideoRendition).where(VideoRendition.video_id == video_id)
    if status is not None:
        statement = statement.where(VideoRendition.status == status)
    return list(db.scalars(statement.order_by(VideoRendition.short_side)))


def _rendition(db: Session, video_id: uuid.UUID, name: str, *, live: bool) -> VideoRendition:
    return db.scalars(
        select(VideoRendition).where(
            VideoRendition.video_id == video_id,
            VideoRendition.live.is_(live),
            VideoRendition.name == name,
        )
    ).one()


def _finished_by(row: VideoRendition, planned: PlannedRendition, job_prefix: str) -> bool:
    """Whether an earlier attempt of this job already made this very rendition."""
    return (
        row.status == RenditionStatus.DONE
        and (row.mp4_key or "").startswith(job_prefix)
        and (row.short_side, row.is_copy) == (planned.short_side, planned.is_copy)
    )


def _reset(row: VideoRendition, planned: PlannedRendition) -> None:
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


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {
        name: str(value) if isinstance(value, Fraction) else value for name, value in values.items()
    }


def _gave_up(attempts: int, reason: str | None) -> str:
    return f"gave up after {attempts} attempts; last error: {reason or 'worker lost'}"


def _publish_after_commit(db: Session, video: Video, event_type: str, **data: Any) -> None:
    payload = {"video_id": str(video.id), "status": video.status.value, **data}
    company_id = video.company_id
    on_commit(db, lambda: publish_event(company_id, event_type, payload))


def _still_keys(video: Video) -> list[str]:
    keys = [video.poster_key, *video.thumbnail_keys, video.storyboard_key, video.storyboard_vtt_key]
    return [key for key in keys if key]


def _asset_keys(video: Video) -> list[str]:
    return [*_still_keys(video), *([video.hls_master_key] if video.hls_master_key else [])]
