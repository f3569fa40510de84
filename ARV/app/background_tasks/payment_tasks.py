"""Billing work: reading back payments whose notification may have been lost, renewing and
ending paid plan periods (beat), and rendering invoices (with their watchdog)."""

import logging
import uuid
from typing import Any

from celery import Task

from app.background_tasks.celery_app import celery_app
from app.background_tasks.names import (
    BILLING_PERIODS,
    INVOICE_RENDER,
    INVOICE_WATCHDOG,
    PAYMENTS_POLL,
    QUEUE_DEFAULT,
)
from app.core.config import get_settings
from app.core.database import get_session_factory
from app.core.storage import get_storage
from app.services import renewals
from app.services.invoice_service import InvoiceRenderer
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


@celery_app.task(name=BILLING_PERIODS)
def periods() -> dict[str, int]:
    """Idempotent: a period has one renewal order (its key names the period), and a company
    already on the free plan is left alone."""
    now, sessions = utcnow(), get_session_factory()
    return {
        "renewals": renewals.renew_ahead(sessions, get_settings(), now),
        "expired": renewals.expire_lapsed(sessions, now),
    }


def _renderer() -> InvoiceRenderer:
    return InvoiceRenderer(get_session_factory(), get_storage(), get_settings())


@celery_app.task(bind=True, name=INVOICE_RENDER, max_retries=None)
def render_invoice(self: Task[Any, Any], invoice_id: str) -> str:
    """Idempotent and safe to redeliver: the invoice row's lease decides whether this
    delivery runs, and its attempt counter bounds the retries."""
    outcome = _renderer().run(uuid.UUID(invoice_id), str(self.request.id))
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in, queue=QUEUE_DEFAULT)
    return outcome.status


@celery_app.task(name=INVOICE_WATCHDOG)
def invoice_watchdog() -> dict[str, int]:
    """Re-send invoices whose worker died; fail those out of attempts."""
    counts = _renderer().recover_lost(utcnow())
    if any(counts.values()):
        logger.warning("invoice watchdog acted", extra=counts)
    return counts
