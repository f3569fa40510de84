"""Marker work on the `media` queue (Node and OpenCV are heavy, like ffmpeg), and its
watchdog on `default`."""

import logging
import uuid
from typing import Any

from celery import Task

from app.background_tasks.celery_app import celery_app
from app.background_tasks.names import MARKER_PROCESS, MARKER_WATCHDOG, QUEUE_MEDIA
from app.core.config import get_settings
from app.core.database import get_session_factory, session_scope
from app.core.storage import get_storage
from app.core.task_queue import enqueue_after_commit
from app.models.marker import Marker
from app.services.leases import recover_expired
from app.services.marker_processing import MarkerProcessor
from app.utils.clock import utcnow

logger = logging.getLogger(__name__)


def _processor() -> MarkerProcessor:
    return MarkerProcessor(get_session_factory(), get_storage(), get_settings())


@celery_app.task(bind=True, name=MARKER_PROCESS, max_retries=None)
def process(self: Task[Any, Any], marker_id: str) -> str:
    """Idempotent and safe to redeliver: the marker row decides whether this delivery runs,
    and its attempt counter, not Celery's, bounds the retries."""
    outcome = _processor().run(uuid.UUID(marker_id), str(self.request.id))
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in, queue=QUEUE_MEDIA)
    return outcome.status


@celery_app.task(name=MARKER_WATCHDOG)
def watchdog() -> dict[str, int]:
    """Re-queue markers whose worker died (lease expired); fail those out of attempts."""
    with session_scope() as db:
        recovery = recover_expired(db, Marker, utcnow())
        for marker_id, task_id in recovery.requeued:
            enqueue_after_commit(
                db, MARKER_PROCESS, [str(marker_id)], queue=QUEUE_MEDIA, task_id=task_id
            )
    processor = _processor()
    failed = sum(processor.give_up(marker_id) for marker_id in recovery.exhausted)
    counts = {"requeued": len(recovery.requeued), "failed": failed}
    if any(counts.values()):
        logger.warning("marker watchdog acted", extra=counts)
    return counts
