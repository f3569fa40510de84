"""Background upkeep of videos: the watchdog's recovery of jobs whose worker died, and
the purge of a deleted video's outputs."""

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from app.background_tasks.names import QUEUE_MEDIA, VIDEO_RUN_JOB
from app.core.storage import StorageProvider
from app.core.task_queue import enqueue_after_commit
from app.models.video import Video, VideoJob
from app.services.leases import Recovery, recover_expired
from app.services.video_outputs import video_prefix
from app.services.video_service import settle_cancelled


def recover(db: Session, now: datetime) -> Recovery:
    """Re-send jobs whose lease expired; settle those cancelled meanwhile. Jobs out of
    attempts are returned for the pipeline to fail with their reason."""
    recovery = recover_expired(db, VideoJob, now)
    for job_id, task_id in recovery.requeued:
        enqueue_after_commit(db, VIDEO_RUN_JOB, [str(job_id)], queue=QUEUE_MEDIA, task_id=task_id)
    exhausted = []
    for job_id in recovery.exhausted:
        job = db.get_one(VideoJob, job_id)
        if job.cancel_requested:
            settle_cancelled(db, db.get_one(Video, job.video_id), job)
        else:
            exhausted.append(job_id)
    return Recovery(recovery.requeued, exhausted)


def purge_outputs(db: Session, storage: StorageProvider, video_id: uuid.UUID) -> int:
    video = db.get(Video, video_id)
    if video is None or video.deleted_at is None:
        return 0
    return storage.delete_prefix(video_prefix(video.company_id, video.id))
