"""Video work on the `media` queue, and its watchdog and clean-up on `default`."""

import logging
import uuid
from typing import Any

from celery import Task
from celery.exceptions import Reject

from app.background_tasks.celery_app import celery_app
from app.background_tasks.names import (
    QUEUE_MEDIA,
    VIDEO_PURGE_OUTPUTS,
    VIDEO_PURGE_SUPERSEDED,
    VIDEO_RUN_JOB,
    VIDEO_WATCHDOG,
)
from app.background_tasks.shutdown import WorkerStopping, interruptible
from app.core.config import get_settings
from app.core.database import get_session_factory, session_scope
from app.core.storage import StorageError, get_storage
from app.services import video_outputs, video_upkeep
from app.services.video_pipeline import VideoPipeline
from app.utils.clock import utcnow

logger = logging.getLogger(__name__)


@celery_app.task(bind=True, name=VIDEO_RUN_JOB, max_retries=None)
def run_job(self: Task[Any, Any], job_id: str) -> str:
    """Idempotent and safe to redeliver: the job row decides whether this delivery runs.
    Transient failures come back here as a retry with backoff; the job's own attempt
    counter, not Celery's, bounds them. A worker told to stop hands the job back and puts
    this message back on the queue, for the next worker to take at once."""
    pipeline = VideoPipeline(get_session_factory(), get_storage(), get_settings())
    try:
        with interruptible():
            outcome = pipeline.run(uuid.UUID(job_id), str(self.request.id))
    except WorkerStopping as stopping:
        raise Reject(f"worker stopping ({stopping})", requeue=True) from stopping
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in, queue=QUEUE_MEDIA)
    return outcome.status


@celery_app.task(name=VIDEO_WATCHDOG)
def watchdog() -> dict[str, int]:
    """Re-queue jobs whose worker died (lease expired) and fail those out of attempts."""
    settings = get_settings()
    pipeline = VideoPipeline(get_session_factory(), get_storage(), settings)
    with session_scope() as db:
        recovery = video_upkeep.recover(db, utcnow())
    for job_id in recovery.exhausted:
        pipeline.give_up(job_id)
    counts = {"requeued": len(recovery.requeued), "failed": len(recovery.exhausted)}
    if any(counts.values()):
        logger.warning("video watchdog acted", extra=counts)
    return counts


@celery_app.task(
    name=VIDEO_PURGE_OUTPUTS, autoretry_for=(OSError, StorageError), retry_backoff=True
)
def purge_outputs(video_id: str) -> int:
    with session_scope() as db:
        return video_upkeep.purge_outputs(db, get_storage(), uuid.UUID(video_id))


@celery_app.task(name=VIDEO_PURGE_SUPERSEDED)
def purge_superseded() -> int:
    """Delete outputs a newer set replaced, once every link to them has expired."""
    return video_outputs.purge_due(get_session_factory(), get_storage(), utcnow())
