"""Storage upkeep on the default queue."""

import uuid

from app.background_tasks.celery_app import celery_app
from app.background_tasks.names import (
    STORAGE_CHECKSUM,
    STORAGE_PURGE_ABANDONED_UPLOADS,
    STORAGE_PURGE_FILE,
)
from app.core.database import get_session_factory, session_scope
from app.core.storage import StorageError, get_storage
from app.services import storage_upkeep
from app.utils.clock import utcnow

TRANSIENT_ERRORS = (OSError, StorageError)


@celery_app.task(
    name=STORAGE_CHECKSUM, autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=5
)
def checksum(file_id: str) -> str | None:
    with session_scope() as db:
        return storage_upkeep.compute_checksum(db, get_storage(), uuid.UUID(file_id))


@celery_app.task(
    name=STORAGE_PURGE_FILE, autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=5
)
def purge_file(file_id: str) -> bool:
    with session_scope() as db:
        return storage_upkeep.purge_file(db, get_storage(), uuid.UUID(file_id))


@celery_app.task(name=STORAGE_PURGE_ABANDONED_UPLOADS)
def purge_abandoned_uploads() -> int:
    return storage_upkeep.purge_abandoned_uploads(get_session_factory(), get_storage(), utcnow())
