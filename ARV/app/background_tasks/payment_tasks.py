"""Payments on beat: reading back payments whose notification may have been lost."""

import logging

from app.background_tasks.celery_app import celery_app
from app.background_tasks.names import PAYMENTS_POLL
from app.core.config import get_settings
from app.core.database import get_session_factory
from app.services.payment_service import poll_pending
from app.utils.clock import utcnow

logger = logging.getLogger(__name__)


@celery_app.task(name=PAYMENTS_POLL)
def poll() -> int:
    """Idempotent: what a payment already did is recorded, so polling it again, or a late
    notification, changes nothing more."""
    settings = get_settings()
    if not settings.yookassa_enabled:
        return 0
    acted = poll_pending(get_session_factory(), settings, utcnow())
    if acted:
        logger.warning("payments polled acted", extra={"acted": acted})
    return acted
