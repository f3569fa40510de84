"""Outbox delivery on the `notifications` queue, and its sweep (beat, on `default`)."""

import logging
import uuid
from typing import Any

from celery import Task
from sqlalchemy.orm import Session, sessionmaker

from app.background_tasks.celery_app import celery_app
from app.background_tasks.names import (
    NOTIFICATIONS_PURGE_READ,
    OUTBOX_DELIVER,
    OUTBOX_SWEEP,
    QUEUE_NOTIFICATIONS,
)
from app.core.config import Settings, get_settings
from app.core.database import get_session_factory, session_scope
from app.core.mail import build_transport
from app.services import outbox, push
from app.services.emails import EmailChannel
from app.services.notification_service import purge_read as purge_read_notifications
from app.services.notifications import EventChannel
from app.services.outbox import Channel, OutboxDelivery
from app.services.push_channel import PushChannel
from app.utils.clock import utcnow

logger = logging.getLogger(__name__)


def delivery_channels(sessions: sessionmaker[Session], settings: Settings) -> list[Channel]:
    return [
        EmailChannel(build_transport(settings), settings.MAIL_FROM),
        EventChannel(sessions, settings),
        PushChannel(sessions, push.providers(settings)),
    ]


@celery_app.task(bind=True, name=OUTBOX_DELIVER, max_retries=None)
def deliver(self: Task[Any, Any], message_id: str) -> str:
    """Idempotent and safe to redeliver: the message is claimed once, so a duplicate or
    redelivered task finds it taken or sent. The row's attempt counter, not Celery's,
    bounds the retries."""
    settings = get_settings()
    sessions = get_session_factory()
    delivery = OutboxDelivery(sessions, delivery_channels(sessions, settings), settings)
    outcome = delivery.deliver(uuid.UUID(message_id), str(self.request.id))
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in, queue=QUEUE_NOTIFICATIONS)
    return outcome.status


@celery_app.task(name=OUTBOX_SWEEP)
def sweep() -> dict[str, int]:
    """Re-send messages whose delivery task was lost; dead-letter those out of attempts."""
    with session_scope() as db:
        result = outbox.sweep(db, get_settings(), utcnow())
    counts = {"resent": result.resent, "dead": result.dead}
    if any(counts.values()):
        logger.warning("outbox sweep acted", extra=counts)
    return counts


@celery_app.task(name=NOTIFICATIONS_PURGE_READ)
def purge_read() -> int:
    """Delete notifications read longer ago than NOTIFICATION_READ_RETENTION_DAYS."""
    with session_scope() as db:
        return purge_read_notifications(db, get_settings(), utcnow())
