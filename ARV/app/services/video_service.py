"""Videos as company members see them: create from an uploaded file, follow processing
(status, stage, per-rendition progress, place in the queue), cancel, re-process,
re-encode one rendition, pick the poster frame, key out a green screen, delete."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.background_tasks.names import (
    QUEUE_DEFAULT,
    QUEUE_MEDIA,
    VIDEO_PURGE_OUTPUTS,
    VIDEO_RUN_JOB,
)
from app.core.config import Settings
from app.core.exceptions import (
    NotAVideoError,
    NothingToCancelError,
    PosterTimeError,
    UnknownRenditionError,
    UploadIncompleteError,
    VideoBusyError,
    VideoNotReadyError,
)
from app.core.task_queue import enqueue_after_commit
from app.models.storage import FileStatus, StoredFile
from app.models.video import (
    ACTIVE_JOB_STATUSES,
    PLAYING_STATUSES,
    JobKind,
    JobStatus,
    PipelineStage,
    RenditionKind,
    RenditionStatus,
    Video,
    VideoJob,
    VideoRendition,
    VideoStatus,
)
from app.schemas.chroma_key import ChromaKey
from app.schemas.company_settings import VideoDefaults
from app.services.media_delivery import MediaDelivery
from app.services.pagination import PageParams, ResultPage, paginate
from app.services.publishing_service import refuse_deleting_a_published_video
from app.services.storage_usage import FileUse
from app.services.tenant import ScopedService, StorageTenantService
from app.services.video_outputs import discard_pending, drop_renditions_of_kind
from app.services.video_schedule_service import remove_video_from_schedules
from app.utils.clock import utcnow
from app.utils.ffmpeg import STACKED_ALPHA_NAME


@dataclass(frozen=True, slots=True)
class JobView:
    job: VideoJob
    # 1 = next to start; None once running or finished.
    queue_position: int | None


@dataclass(frozen=True, slots=True)
class VideoDetail:
    video: Video
    renditions: list[VideoRendition]
    # What a re-process is building while `renditions` keep playing.
    pending_renditions: list[VideoRendition]
    job: JobView | None


@dataclass(frozen=True, slots=True)
class MediaLinks:
    expires_at: datetime
    renditions: dict[str, str]
    stacked_alpha: str | None
    hls: str | None
    poster: str | None
    thumbnails: list[str]
    storyboard: str | None
    storyboard_vtt: str | None
    # The company's player defaults (loop, muted autoplay) travel with the links.
    playback: VideoDefaults


def new_job(
    db: Session, video: Video, kind: JobKind, settings: Settings, target: str | None = None
) -> VideoJob:
    """Queue a job; the task is sent once the transaction commits.

    Every transaction that changes a video's jobs locks the video's row first (callers
    here, the pipeline through `lock_job`): job requests for one video take turns, and one
    never waits on another's job row while holding what that one needs (a deadlock)."""
    lock_idle(db, video)
    task_id = str(uuid.uuid4())
    job = VideoJob(
        company_id=video.company_id,
        video_id=video.id,
        kind=kind,
        target=target,
        status=JobStatus.QUEUED,
        max_attempts=settings.VIDEO_JOB_MAX_ATTEMPTS,
        queued_at=utcnow(),
        task_id=task_id,
    )
    try:
        with db.begin_nested():
            db.add(job)
    except IntegrityError as error:  # the unique index, should the lock ever be skipped
        raise VideoBusyError() from error
    enqueue_after_commit(db, VIDEO_RUN_JOB, [str(job.id)], queue=QUEUE_MEDIA, task_id=task_id)
    return job


def lock_idle(db: Session, video: Video) -> None:
    """Lock the video's row; `VideoBusyError` while a job is queued or running for it."""
    db.execute(select(Video.id).where(Video.id == video.id).with_for_update())
    active = db.scalar(
        select(VideoJob.id).where(
            VideoJob.video_id == video.id, VideoJob.status.in_(ACTIVE_JOB_STATUSES)
        )
    )
    if active is not None:
        raise VideoBusyError(details={"job_id": str(active)})


class VideoService(StorageTenantService):
    def create(self, file_id: uuid.UUID, title: str) -> VideoDetail:
        # Locked: a concurrent delete of the file must wait, then see this video.
        source = self.get_owned(StoredFile, file_id, "File", for_update=True)
        if source.status != FileStatus.AVAILABLE:
            raise UploadIncompleteError("The file is still uploading; complete the upload first.")
        if not (source.content_type or "").startswith("video/"):
            raise NotAVideoError(f"A video needs a video file; this one is {source.content_type}.")
        video = Video(
            company_id=self.ctx.company_id,
            file_id=source.id,
            title=title,
            status=VideoStatus.UPLOADED,
            stage=PipelineStage.QUEUED,
            created_by_id=self.ctx.user.id,
        )
        self.db.add(video)
        self.db.flush()
        new_job(self.db, video, JobKind.PROCESS, self.settings)
        self._audit("video.created", video)
        return self.detail(video.id)

    def list_videos(
        self, params: PageParams, status: VideoStatus | None, title: str | None
    ) -> ResultPage[Video]:
        statement = self.scoped(Video)
        if status:
            statement = statement.where(Video.status == status)
        if title:
            statement = statement.where(Video.title.icontains(title, autoescape=True))
        return paginate(self.db, statement.order_by(Video.created_at.desc(), Video.id), params)

    def get(self, video_id: uuid.UUID, *, for_update: bool = False) -> Video:
        return self.get_owned(Video, video_id, "Video", for_update=for_update)

    def detail(self, video_id: uuid.UUID) -> VideoDetail:
        video = self.get(video_id)
        renditions = list(
            self.db.scalars(
                self.scoped(VideoRendition)
                .where(VideoRendition.video_id == video.id)
                .order_by(VideoRendition.short_side, VideoRendition.kind)
            )
        )
        return VideoDetail(
            video,
            [r for r in renditions if r.live],
            [r for r in renditions if not r.live],
            self._latest_job(video),
        )

    def rename(self, video_id: uuid.UUID, title: str) -> VideoDetail:
        self.get(video_id).title = title
        return self.detail(video_id)

    def cancel(self, video_id: uuid.UUID) -> VideoDetail:
        video = self.get(video_id, for_update=True)
        job = self._active_job(video)
        if job is None:
            raise NothingToCancelError("Nothing is being processed for this video.")
        if job.status == JobStatus.QUEUED:
            settle_cancelled(self, video, job)
        else:
            job.cancel_requested = True  # the worker stops ffmpeg within a second or two
        self._audit("video.cancelled", video)
        return self.detail(video_id)

    def reprocess(self, video_id: uuid.UUID) -> VideoDetail:
        """A video that plays keeps playing what it has until the new set is complete."""
        video = self.get(video_id, for_update=True)
        self._process_again(video)
        self._audit("video.reprocessed", video)
        return self.detail(video_id)

    def set_chroma_key(self, video_id: uuid.UUID, chroma_key: ChromaKey) -> VideoDetail:
        """Key the colour out into a stacked-alpha rendition. A video that plays gets that one
        rendition (re)built, and keeps playing meanwhile, its old alpha rendition included;
        any other is processed again, the alpha rendition with the rest."""
        video = self.get(video_id, for_update=True)
        video.chroma_key = chroma_key
        if video.status in PLAYING_STATUSES:
            new_job(self.db, video, JobKind.RENDITION, self.settings, target=STACKED_ALPHA_NAME)
        else:
            self._process_again(video)
        self._audit("video.chroma_key_set", video)
        return self.detail(video_id)

    def remove_chroma_key(self, video_id: uuid.UUID) -> VideoDetail:
        """No more keying: the stacked-alpha rendition goes off the air at once, its files
        once every link to them has expired."""
        video = self.get(video_id, for_update=True)
        lock_idle(self.db, video)
        video.chroma_key = None
        drop_renditions_of_kind(self, video, RenditionKind.STACKED_ALPHA, self._links_expire_at())
        self._audit("video.chroma_key_removed", video)
        return self.detail(video_id)

    def reencode(self, video_id: uuid.UUID, rendition_name: str) -> VideoDetail:
        video = self.get(video_id, for_update=True)
        rendition = self.db.scalar(
            self.scoped(VideoRendition).where(
                VideoRendition.video_id == video.id,
                VideoRendition.live.is_(True),
                VideoRendition.name == rendition_name,
            )
        )
        if rendition is None:
            raise UnknownRenditionError(
                f"This video has no rendition {rendition_name!r}.",
                details={"rendition": rendition_name},
            )
        # The rendition keeps playing; the new encode replaces it when it is done.
        new_job(self.db, video, JobKind.RENDITION, self.settings, target=rendition_name)
        self._audit("video.rendition_reencoded", video)
        return self.detail(video_id)

    def set_poster_time(self, video_id: uuid.UUID, at_seconds: float) -> VideoDetail:
        video = self.get(video_id, for_update=True)
        if video.duration_seconds is None:
            raise VideoNotReadyError(
                "The video has not been probed yet; wait until it is playable."
            )
        if at_seconds >= video.duration_seconds:
            raise PosterTimeError(
                f"The video lasts {video.duration_seconds:.2f} s; pick a time before that.",
                details={"duration_seconds": video.duration_seconds},
            )
        video.poster_at_seconds = at_seconds
        new_job(self.db, video, JobKind.POSTER, self.settings)
        return self.detail(video_id)

    def media_links(self, video_id: uuid.UUID) -> MediaLinks:
        """Links to what plays now, all expiring together. Outputs are written once under
        keys of their own, so they are linked as immutable; playlists and the storyboard
        track go through the API, which signs the references inside them."""
        result = self.detail(video_id)
        video = result.video
        expires_at = self._links_expire_at()
        delivery = MediaDelivery(self.storage, self.settings)

        def link(key: str) -> str:
            return delivery.link(key, int(expires_at.timestamp()))

        done = [r for r in result.renditions if r.status == RenditionStatus.DONE]
        return MediaLinks(
            expires_at=expires_at,
            renditions={
                r.name: link(r.mp4_key)
                for r in done
                if r.kind == RenditionKind.LADDER and r.mp4_key
            },
            stacked_alpha=next(
                (
                    link(r.mp4_key)
                    for r in done
                    if r.kind == RenditionKind.STACKED_ALPHA and r.mp4_key
                ),
                None,
            ),
            hls=link(video.hls_master_key) if video.hls_master_key else None,
            poster=link(video.poster_key) if video.poster_key else None,
            thumbnails=[link(key) for key in video.thumbnail_keys],
            storyboard=link(video.storyboard_key) if video.storyboard_key else None,
            storyboard_vtt=link(video.storyboard_vtt_key) if video.storyboard_vtt_key else None,
            playback=self.ctx.company.settings.video_defaults,
        )

    def delete(self, video_id: uuid.UUID) -> None:
        video = self.get(video_id, for_update=True)
        refuse_deleting_a_published_video(self, video.id)
        job = self._active_job(video)
        if job is not None:
            job.cancel_requested = True
            if job.status == JobStatus.QUEUED:
                settle_cancelled(self, video, job)
        video.soft_delete()
        remove_video_from_schedules(self, video.id)
        self._audit("video.deleted", video)
        enqueue_after_commit(
            self.db, VIDEO_PURGE_OUTPUTS, [str(video.id)], queue=QUEUE_DEFAULT, countdown=60
        )

    def _process_again(self, video: Video) -> None:
        """Queue a whole processing job; a video that plays keeps playing meanwhile."""
        if video.status not in PLAYING_STATUSES:
            video.status = VideoStatus.UPLOADED
        video.stage = PipelineStage.QUEUED
        video.failure_reason = None
        video.failed_stage = None
        new_job(self.db, video, JobKind.PROCESS, self.settings)

    def _links_expire_at(self) -> datetime:
        """When links handed out now expire: files replaced now may go after that."""
        return utcnow() + timedelta(seconds=self.settings.STORAGE_URL_TTL_SECONDS)

    def _active_job(self, video: Video) -> VideoJob | None:
        job: VideoJob | None = self.db.scalar(
            self.scoped(VideoJob).where(
                VideoJob.video_id == video.id, VideoJob.status.in_(ACTIVE_JOB_STATUSES)
            )
        )
        return job

    def _latest_job(self, video: Video) -> JobView | None:
        job = self.db.scalar(
            self.scoped(VideoJob)
            .where(VideoJob.video_id == video.id)
            .order_by(VideoJob.queued_at.desc(), VideoJob.id)
            .limit(1)
        )
        if job is None:
            return None
        return JobView(job, queue_position(self.db, job))

    def _audit(self, action: str, video: Video) -> None:
        self.audit(action, "video", video.id, {"title": video.title})


def file_uses(scope: ScopedService, file_id: uuid.UUID) -> list[FileUse]:
    """The live videos made from a file."""
    videos = scope.db.scalars(scope.scoped(Video).where(Video.file_id == file_id))
    return [FileUse("video", video.id, video.title) for video in videos]


def queue_position(db: Session, job: VideoJob) -> int | None:
    """Jobs of every company wait in one media queue, in order; this job's place in it."""
    if job.status != JobStatus.QUEUED:
        return None
    ahead = db.scalar(
        select(func.count())
        .select_from(VideoJob)
        .where(VideoJob.status == JobStatus.QUEUED, VideoJob.queued_at < job.queued_at)
    )
    return (ahead or 0) + 1


def lock_job(scope: ScopedService, job_id: uuid.UUID) -> tuple[VideoJob, Video] | None:
    """A job and its video, both locked for change, the video first: the order requests
    take to create or cancel a job, so a worker finishing a job and a request acting on
    its video wait for each other in turn instead of deadlocking."""
    video_id = scope.db.scalar(
        scope.scoped(VideoJob).with_only_columns(VideoJob.video_id).where(VideoJob.id == job_id)
    )
    if video_id is None:
        return None
    video = scope.get_owned(Video, video_id, "Video", for_update=True, include_deleted=True)
    job = scope.db.scalars(
        scope.scoped(VideoJob)
        .where(VideoJob.id == job_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    return job, video


def settle_cancelled(scope: ScopedService, video: Video, job: VideoJob) -> None:
    """The job stopped on request. A video that already plays keeps playing."""
    job.status = JobStatus.CANCELLED
    job.finished_at = utcnow()
    job.lease_expires_at = None
    discard_pending(scope, video, job.id, job.finished_at)
    if video.status in (VideoStatus.UPLOADED, VideoStatus.PROCESSING):
        video.status = VideoStatus.CANCELLED
    scope.db.flush()
