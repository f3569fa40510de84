"""The media pipeline a worker runs for one claimed job: the order of the work, with
ffmpeg and storage. Its parts live beside it: which renditions to make (`video_plan`, pure),
the job's state in the database as the system actor (`video_job_state`), ffmpeg's progress
and cancellation (`video_progress`), events after commit (`video_events`), output keys
(`object_keys`) and output sets (`video_outputs`).

Order of work, so an admin never waits blind: probe, then one playable rendition as soon
as possible (the source's own streams copied into a faststart MP4 when they are already
H.264/AAC, otherwise a fast 720p encode), then the rest of the ladder, HLS and stills.
Every job writes under a folder of its own; a video that already plays keeps playing its
old set until the new one is complete.
"""

import logging
import posixpath
import shutil
import uuid
from dataclasses import asdict
from pathlib import Path

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.database import session_scope
from app.core.storage import ObjectNotFoundError, StorageError, StorageProvider
from app.models.video import JobKind, PipelineStage, RenditionStatus
from app.services.leases import WORKER_STOPPED, Outcome, gave_up, retry_delay
from app.services.video_job_state import (
    JobCancelledError,
    JobState,
    SourceFacts,
    Stills,
    jsonable,
)
from app.services.video_jobs import ClaimedJob, claim_job
from app.services.video_plan import PlannedRendition, plan_renditions
from app.services.video_progress import WatchedFfmpeg
from app.utils.clock import utcnow
from app.utils.ffmpeg import (
    FfmpegConfig,
    HlsVariant,
    MediaError,
    MediaInfo,
    extract_frame,
    first_non_black_time,
    hls_command,
    master_playlist,
    measure_hls_variant,
    output_size,
    probe,
    remux_command,
    stacked_alpha_command,
    stacked_alpha_size,
    storyboard,
    thumbnails,
    transcode_command,
)
from app.utils.subprocesses import WorkerStopping

logger = logging.getLogger(__name__)

FAST_PRESET = "veryfast"
TRANSIENT_ERRORS = (StorageError, OSError, OperationalError)
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"


class PermanentFailureError(Exception):
    """A permanent failure: retrying cannot help; the video shows the reason."""

    def __init__(self, stage: PipelineStage, reason: str) -> None:
        super().__init__(reason)
        self.stage = stage
        self.reason = reason


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
        state = JobState(
            self.sessions, self.settings, job.id, job.company_id, kind=job.kind, task_id=task_id
        )
        # One folder per attempt: a killed attempt's leftovers never mix with the next.
        work = self.settings.media_work_dir / f"{job.id}-{job.attempts}"
        run = _JobRun(self, job, state, work)
        try:
            work.mkdir(parents=True, exist_ok=True)
            run.execute()
        except JobCancelledError:
            state.cancelled()
            return Outcome("cancelled")
        except PermanentFailureError as failure:
            self._fail(state, failure.stage, failure.reason)
            return Outcome("failed")
        except MediaError as error:
            if error.permanent:
                self._fail(state, run.stage, error.reason)
                return Outcome("failed")
            return self._retry_or_give_up(job, state, run.stage, error.reason)
        except TRANSIENT_ERRORS as error:
            reason = f"{type(error).__name__}: {error}"
            return self._retry_or_give_up(job, state, run.stage, reason)
        except WorkerStopping:
            self._hand_back(state)
            raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return Outcome("succeeded")

    def fail(self, job_id: uuid.UUID, stage: PipelineStage, reason: str) -> None:
        """Mark the job failed, with the reason and the stage, at once (and its video,
        unless it plays what an earlier job made)."""
        state = JobState.of_job(self.sessions, self.settings, job_id)
        if state is not None:
            self._fail(state, stage, reason)

    def give_up(self, job_id: uuid.UUID) -> bool:
        """Fail a job that has no attempt left (its workers kept dying)."""
        state = JobState.of_job(self.sessions, self.settings, job_id)
        exhausted = state.exhausted_stage() if state is not None else None
        if state is None or exhausted is None:
            return False
        self._fail(state, *exhausted)
        return True

    def _fail(self, state: JobState, stage: PipelineStage, reason: str) -> None:
        if state.fail(stage, reason):
            logger.warning(
                "video job failed",
                extra={"job_id": str(state.job_id), "stage": stage, "reason": reason},
            )

    def _unclaimed(self, job_id: uuid.UUID) -> Outcome:
        return Outcome("failed") if self.give_up(job_id) else Outcome("skipped")

    def _retry_or_give_up(
        self, job: ClaimedJob, state: JobState, stage: PipelineStage, reason: str
    ) -> Outcome:
        if job.attempts >= job.max_attempts:
            self._fail(state, stage, gave_up(job.attempts, reason))
            return Outcome("failed")
        state.release(reason)
        delay = retry_delay(job.attempts)
        logger.info("video job will retry", extra={"job_id": str(job.id), "reason": reason})
        return Outcome("retry", retry_in=delay)

    def _hand_back(self, state: JobState) -> None:
        """The worker is stopping: the job waits for the next worker, nothing fails.
        Should the database be out of reach, the job is still claimed by this task, and
        the redelivered message takes it all the same."""
        try:
            state.hand_back(WORKER_STOPPED)
        except TRANSIENT_ERRORS:
            logger.exception("cannot hand the video job back", extra={"job_id": str(state.job_id)})
            return
        logger.info("video job handed back to the queue", extra={"job_id": str(state.job_id)})


class _JobRun:
    """One attempt at one job, with its scratch folder."""

    def __init__(self, pipeline: VideoPipeline, job: ClaimedJob, state: JobState, work: Path):
        self.storage = pipeline.storage
        self.ffmpeg = pipeline.ffmpeg
        self.job = job
        self.state = state
        self.work = work
        self.stage = PipelineStage.DOWNLOAD
        self.resumed: set[str] = set()
        self.stills: Stills | None = None
        self.watched = WatchedFfmpeg(state, job.video_id, pipeline.ffmpeg)

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
            self._poster(source, facts)
        elif self.job.kind == JobKind.RENDITION:
            self._rendition_again(source, info, facts)
        else:
            self._process(source, info, facts)
        self._finish(facts)

    # The kinds of job
    def _process(self, source: Path, info: MediaInfo, facts: SourceFacts) -> None:
        planned = self._plan(info, facts)
        self.state.decide_in_place(self.job.video_id, facts.outputs)
        self.resumed = self.state.prepare_renditions(self.job.video_id, planned, facts.outputs)
        self._enter(PipelineStage.PLAYABLE)
        self._make_rendition(source, info, facts, planned[0])
        if self.state.in_place:
            self.state.mark_playable(self.job.video_id)
        self._enter(PipelineStage.LADDER)
        for rendition in planned[1:]:
            self._make_rendition(source, info, facts, rendition)
        self._enter(PipelineStage.STILLS)
        self.stills = self._stills(source, info, facts)
        if self.state.in_place:
            self.state.apply_stills(self.job.video_id, self.stills, self._stored_bytes)

    def _rendition_again(self, source: Path, info: MediaInfo, facts: SourceFacts) -> None:
        planned = {p.name: p for p in self._plan(info, facts)}
        target = planned.get(self.job.target or "")
        if target is None:
            raise PermanentFailureError(
                PipelineStage.LADDER, f"rendition {self.job.target!r} is not in this video's ladder"
            )
        self.state.in_place = False
        self.resumed = self.state.prepare_renditions(self.job.video_id, [target], facts.outputs)
        self._enter(PipelineStage.LADDER)
        self._make_rendition(source, info, facts, target)

    def _poster(self, source: Path, facts: SourceFacts) -> None:
        self._enter(PipelineStage.STILLS)
        poster = self.work / "poster.jpg"
        extract_frame(source, facts.poster_at_seconds or 0.0, poster, self.ffmpeg)
        self.storage.put_file(facts.outputs.poster, poster, "image/jpeg")
        self.state.set_poster(self.job.video_id, facts.outputs.poster, self._stored_bytes)

    # Steps
    def _plan(self, info: MediaInfo, facts: SourceFacts) -> list[PlannedRendition]:
        return plan_renditions(
            info, facts.cap_short_side, hls=facts.hls, chroma_key=facts.chroma_key
        )

    def _enter(self, stage: PipelineStage) -> SourceFacts:
        self.stage = stage
        return self.state.enter(self.job.video_id, stage)

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
        self.state.record_probe(self.job.video_id, info)
        return info

    def _make_rendition(
        self, source: Path, info: MediaInfo, facts: SourceFacts, planned: PlannedRendition
    ) -> None:
        if planned.name in self.resumed:
            return
        video_id = self.job.video_id
        self.state.update_rendition(
            video_id, planned.name, status=RenditionStatus.ENCODING, started_at=utcnow()
        )
        mp4 = self.work / f"{planned.name}.mp4"
        argv, (width, height) = self._encoding(source, mp4, info, planned)
        self.watched.run(argv, info.duration, planned.name)
        mp4_key = facts.outputs.rendition_mp4(planned.name)
        self.storage.put_file(mp4_key, mp4, "video/mp4")
        in_hls = facts.hls and planned.in_hls
        variant, hls_bytes = self._hls(mp4, planned.name, facts) if in_hls else (None, 0)
        size = mp4.stat().st_size
        self.state.update_rendition(
            video_id,
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
            hls_playlist_key=facts.outputs.hls_playlist(planned.name) if variant else None,
            hls_variant=jsonable(asdict(variant)) if variant else None,
            finished_at=utcnow(),
        )
        if in_hls and self.state.in_place:
            self.state.point_at_master(video_id, self._write_master_playlist(facts))
        mp4.unlink(missing_ok=True)

    def _encoding(
        self, source: Path, mp4: Path, info: MediaInfo, planned: PlannedRendition
    ) -> tuple[list[str], tuple[int, int]]:
        """The ffmpeg command that makes the rendition, and the picture size it makes."""
        if planned.rung is None:
            argv = remux_command(source, mp4, info, self.ffmpeg)
            return argv, (info.display_width, info.display_height)
        if planned.chroma_key is not None:
            argv = stacked_alpha_command(
                source, mp4, info, planned.rung, planned.chroma_key, self.ffmpeg, FAST_PRESET
            )
            return argv, stacked_alpha_size(info, planned.rung)
        argv = transcode_command(source, mp4, info, planned.rung, self.ffmpeg, FAST_PRESET)
        return argv, output_size(info, planned.rung)

    def _hls(self, mp4: Path, name: str, facts: SourceFacts) -> tuple[HlsVariant, int]:
        """The variant's master-playlist entry, and the bytes its files take in storage."""
        out_dir = self.work / f"hls-{name}"
        out_dir.mkdir(exist_ok=True)
        self.watched.run(hls_command(mp4, out_dir, self.ffmpeg), None, None)
        variant = measure_hls_variant(
            f"{name}/index.m3u8", out_dir / "index.m3u8", probe(mp4, self.ffmpeg, keyframes=False)
        )
        files = sorted(out_dir.iterdir())
        for path in files:
            content_type = PLAYLIST_TYPE if path.suffix == ".m3u8" else "video/mp2t"
            self.storage.put_file(facts.outputs.hls_folder(name) + path.name, path, content_type)
        stored_bytes = sum(path.stat().st_size for path in files)
        shutil.rmtree(out_dir, ignore_errors=True)
        return variant, stored_bytes

    def _write_master_playlist(self, facts: SourceFacts) -> str:
        """The master playlist of the renditions that play once this job's set is live,
        in this job's folder; variant URIs are relative to it, wherever each variant is."""
        key = facts.outputs.hls_master
        variants = [
            HlsVariant(
                **{
                    **entry.variant,
                    "uri": posixpath.relpath(entry.playlist_key, posixpath.dirname(key)),
                }
            )
            for entry in self.state.variants_after(self.job.video_id)
        ]
        master = self.work / "master.m3u8"
        master.write_text(master_playlist(variants), encoding="utf-8")
        self.storage.put_file(key, master, PLAYLIST_TYPE)
        return key

    def _stills(self, source: Path, info: MediaInfo, facts: SourceFacts) -> Stills:
        at = facts.poster_at_seconds
        if at is None:
            at = first_non_black_time(source, info, self.ffmpeg)
        outputs = facts.outputs
        poster = self.work / "poster.jpg"
        extract_frame(source, at, poster, self.ffmpeg)
        self.storage.put_file(outputs.poster, poster, "image/jpeg")
        thumbs_dir = self.work / "thumbnails"
        thumbs_dir.mkdir(exist_ok=True)
        thumbnail_keys = []
        for path in thumbnails(source, info, thumbs_dir, self.ffmpeg):
            self.storage.put_file(outputs.thumbnail(path.name), path, "image/jpeg")
            thumbnail_keys.append(outputs.thumbnail(path.name))
        sprite = self.work / "storyboard.jpg"
        vtt = storyboard(source, info, sprite, self.ffmpeg)
        vtt_path = self.work / "storyboard.vtt"
        vtt_path.write_text(vtt, encoding="utf-8")
        self.storage.put_file(outputs.storyboard, sprite, "image/jpeg")
        self.storage.put_file(outputs.storyboard_vtt, vtt_path, "text/vtt")
        return Stills(outputs.poster, thumbnail_keys, outputs.storyboard, outputs.storyboard_vtt)

    def _finish(self, facts: SourceFacts) -> None:
        """A set built as pending replaces what played, all at once, with its master
        playlist written first."""
        self.stage = PipelineStage.FINALIZE
        master_key = None
        if not self.state.in_place and facts.hls:
            master_key = self._write_master_playlist(facts)
        self.state.succeed(master_key, self.stills, self._stored_bytes)

    def _stored_bytes(self, keys: list[str]) -> int:
        return sum(self.storage.stat(key).size for key in keys)
