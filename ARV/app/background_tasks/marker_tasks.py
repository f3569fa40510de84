"""Marker work on the `media` queue (Node and OpenCV are heavy, like ffmpeg), and its
watchdog on `default`."""

import logging
import uuid
from typing import Any

from celery import Task
from celery.exceptions import Reject

from app.background_tasks.celery_app import celery_app
from app.background_tasks.names import MARKER_PROCESS, MARKER_WATCHDOG, QUEUE_MEDIA
from app.background_tasks.shutdown import WorkerStopping, interruptible
from app.core.config import get_settings
from app.core.database import get_session_factory
from app.core.storage import get_storage
from app.services.marker_processing import MarkerProcessor
from app.utils.clock import utcnow

logger = logging.getLogger(__name__)


def _processor() -> MarkerProcessor:
    return MarkerProcessor(get_session_factory(), get_storage(), get_settings())


@celery_app.task(bind=True, name=MARKER_PROCESS, max_retries=None)
def process(self: Task[Any, Any], marker_id: str) -> str:
    """Idempotent and safe to redeliver: the marker row decides whether this delivery runs,
    and its attempt counter, not Celery's, bounds the retries. A worker told to stop kills
    the compile, hands the marker back and puts this message back on the queue."""
    try:
        with interruptible():
            outcome = _processor().run(uuid.UUID(marker_id), str(self.request.id))
    except WorkerStopping as stopping:
        raise Reject(f"worker stopping ({stopping})", requeue=True) from stopping
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in, queue=QUEUE_MEDIA)
    return outcome.status


@celery_app.task(name=MARKER_WATCHDOG)
def watchdog() -> dict[str, int]:
    """Re-queue markers whose worker died (lease expired); fail those out of attempts."""
    counts = _processor().recover_lost(utcnow())
    if any(counts.values()):
        logger.warning("marker watchdog acted", extra=counts)
    return counts
