"""Background upkeep of videos: the watchdog's recovery of jobs whose worker died, and
the purge of a deleted video's outputs."""

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.background_tasks.names import QUEUE_MEDIA, VIDEO_RUN_JOB, VIDEO_WATCHDOG
from app.core.storage import StorageProvider
from app.core.task_queue import enqueue_after_commit
from app.models.video import Video, VideoJob
from app.services.context import SystemActor
from app.services.leases import Recovery, recover_expired
from app.services.object_keys import video_prefix
from app.services.tenant import ScopedService
from app.services.video_service import lock_job, settle_cancelled


def recover(db: Session, now: datetime) -> Recovery:
    """Re-send jobs whose lease expired; settle those cancelled meanwhile. Jobs out of
    attempts are returned for the pipeline to fail with their reason."""
    recovery = recover_expired(db, VideoJob, now)
    for job_id, task_id in recovery.requeued:
        enqueue_after_commit(db, VIDEO_RUN_JOB, [str(job_id)], queue=QUEUE_MEDIA, task_id=task_id)
    exhausted = []
    for job_id in recovery.exhausted:
        if not _settle_if_cancelled(db, job_id):
            exhausted.append(job_id)
    return Recovery(recovery.requeued, exhausted)


def _settle_if_cancelled(db: Session, job_id: uuid.UUID) -> bool:
    """Settle a job cancelled while its worker was lost, as the system in its company."""
    company_id = db.scalar(select(VideoJob.company_id).where(VideoJob.id == job_id))
    if company_id is None:
        return False
    scope = ScopedService(db, SystemActor(company_id, task=VIDEO_WATCHDOG))
    locked = lock_job(scope, job_id)
    if locked is None or not locked[0].cancel_requested:
        return False
    job, video = locked
    settle_cancelled(scope, video, job)
    return True


def purge_outputs(db: Session, storage: StorageProvider, video_id: uuid.UUID) -> int:
    video = db.get(Video, video_id)
    if video is None or video.deleted_at is None:
        return 0
    return storage.delete_prefix(video_prefix(video.company_id, video.id))
