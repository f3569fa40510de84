"""Periodic upkeep of sign-in records."""

import logging

from app.background_tasks.celery_app import celery_app
from app.background_tasks.names import AUTH_PURGE_EXPIRED
from app.core.database import session_scope
from app.services.auth_cleanup_service import purge_expired_auth_records
from app.utils.clock import utcnow

logger = logging.getLogger(__name__)


@celery_app.task(name=AUTH_PURGE_EXPIRED)
def purge_expired() -> dict[str, int]:
    """Idempotent: deleting what is already gone deletes nothing."""
    with session_scope() as db:
        deleted = purge_expired_auth_records(db, utcnow())
    logger.info("expired sign-in records purged", extra={"deleted": deleted})
    return deleted
