"""The transactional outbox: messages written with the change that causes them, delivered
after commit by a task on the `notifications` queue, claimed once under the job lease.

1. `enqueue` adds the row to the caller's transaction and asks for a delivery task once
   that transaction commits (nothing is sent for a rolled-back change).
2. `OutboxDelivery.deliver` claims the row (a conditional UPDATE: a duplicate or
   redelivered task finds it taken, or sent, and does nothing) and hands it to its channel.
3. A transient failure puts the row back with exponential backoff and jitter; a permanent
   one, or the last attempt, dead-letters it with the reason, for an admin to retry.
4. `sweep` (beat) re-sends rows whose task was lost: waiting long past their time, or
   held under a lease that ran out because their worker died.

A channel is one class: `Channel.send` delivers one message or raises `DeliveryError`.
"""

import logging
import math
import random
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.background_tasks.names import OUTBOX_DELIVER, QUEUE_NOTIFICATIONS
from app.core.config import Settings
from app.core.database import session_scope
from app.core.delivery import DeliveryError
from app.core.exceptions import NotFoundError, OutboxMessageNotDeadError
from app.core.task_queue import enqueue_after_commit
from app.models.outbox import OutboxMessage, OutboxStatus
from app.services import leases
from app.services.pagination import PageParams, ResultPage, paginate
from app.utils.clock import utcnow

logger = logging.getLogger(__name__)


class Channel(ABC):
    """One way of reaching people (email now; push and webhooks later)."""

    name: ClassVar[str]

    @abstractmethod
    def send(self, message: OutboxMessage) -> None:
        """Deliver `message`, or raise `DeliveryError` saying whether to try again."""


def enqueue(
    db: Session,
    settings: Settings,
    *,
    channel: str,
    kind: str,
    recipient: str,
    payload: dict[str, Any],
) -> OutboxMessage:
    task_id = str(uuid.uuid4())
    message = OutboxMessage(
        channel=channel,
        kind=kind,
        recipient=recipient,
        payload=payload,
        status=OutboxStatus.PENDING,
        available_at=utcnow(),
        max_attempts=settings.OUTBOX_MAX_ATTEMPTS,
        task_id=task_id,
    )
    db.add(message)
    db.flush()
    _send_task(db, message.id, task_id)
    return message


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str  # sent, retry, dead, skipped
    retry_in: float | None = None


class OutboxDelivery:
    def __init__(
        self, sessions: sessionmaker[Session], channels: list[Channel], settings: Settings
    ) -> None:
        self.sessions = sessions
        self.channels = {channel.name: channel for channel in channels}
        self.settings = settings

    def deliver(self, message_id: uuid.UUID, task_id: str) -> Outcome:
        with session_scope(self.sessions) as db:
            message = leases.claim(
                db, OutboxMessage, message_id, task_id, self.settings.OUTBOX_LEASE_SECONDS
            )
        if message is None:
            return Outcome("skipped")  # sent, dead, held by another task, or not yet due
        try:
            self._channel(message).send(message)
        except DeliveryError as error:
            return self._failed(message, task_id, error)
        with session_scope(self.sessions) as db:
            leases.finish(db, OutboxMessage, message.id, task_id, OutboxStatus.SENT, payload={})
        return Outcome("sent")

    def _channel(self, message: OutboxMessage) -> Channel:
        channel = self.channels.get(message.channel)
        if channel is None:
            raise DeliveryError(f"no channel {message.channel!r}", permanent=True)
        return channel

    def _failed(self, message: OutboxMessage, task_id: str, error: DeliveryError) -> Outcome:
        if error.permanent or leases.out_of_attempts(message):
            reason = error.reason if error.permanent else _gave_up(message, error.reason)
            with session_scope(self.sessions) as db:
                leases.finish(
                    db, OutboxMessage, message.id, task_id, OutboxStatus.DEAD, last_error=reason
                )
            _log_dead(message, reason)
            return Outcome("dead")
        delay = backoff_seconds(self.settings, message.attempts)
        with session_scope(self.sessions) as db:
            leases.release(
                db,
                OutboxMessage,
                message.id,
                task_id,
                error.reason,
                available_at=utcnow() + timedelta(seconds=delay),
            )
        logger.info(
            "outbox message will retry",
            extra={"message_id": str(message.id), "reason": error.reason, "in_seconds": delay},
        )
        # Whole seconds past the due time, so the retried task never arrives too early.
        return Outcome("retry", retry_in=math.ceil(delay) + 1)


def backoff_seconds(settings: Settings, attempts: int) -> float:
    """Exponential in the attempts made, capped, with jitter: half fixed, half random, so
    messages that failed together do not all come back together."""
    ceiling: float = min(
        settings.OUTBOX_RETRY_MAX_SECONDS,
        settings.OUTBOX_RETRY_BASE_SECONDS * 2.0 ** max(0, attempts - 1),
    )
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - not for security


@dataclass(frozen=True, slots=True)
class Sweep:
    resent: int
    dead: int


def sweep(db: Session, settings: Settings, now: datetime) -> Sweep:
    """Re-send what lost its task: messages long overdue, and messages whose delivery
    lease ran out (the worker died mid-attempt); dead-letter those out of attempts."""
    recovery = leases.recover_expired(db, OutboxMessage, now)
    for message_id, task_id in recovery.requeued:
        _send_task(db, message_id, task_id)
    for message_id in recovery.exhausted:
        message = db.get_one(OutboxMessage, message_id)
        leases.fail(message, _gave_up(message, message.last_error or "its worker was lost"))
        _log_dead(message, message.last_error or "")
    lost_before = now - timedelta(seconds=settings.OUTBOX_SWEEP_AFTER_SECONDS)
    overdue = db.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.available_at < lost_before,
        )
        .order_by(OutboxMessage.available_at)
        .limit(1000)
        .with_for_update(skip_locked=True)
    ).all()
    for message in overdue:
        # Whoever claims first delivers; the other task finds the message taken.
        message.available_at = now
        _send_task(db, message.id, message.task_id or str(uuid.uuid4()))
    return Sweep(resent=len(recovery.requeued) + len(overdue), dead=len(recovery.exhausted))


def list_messages(
    db: Session, status: OutboxStatus | None, page: PageParams
) -> ResultPage[OutboxMessage]:
    statement = select(OutboxMessage).order_by(OutboxMessage.updated_at.desc(), OutboxMessage.id)
    if status is not None:
        statement = statement.where(OutboxMessage.status == status)
    return paginate(db, statement, page)


def retry_dead(db: Session, message_id: uuid.UUID) -> OutboxMessage:
    """Give a dead letter a fresh set of attempts, sent at once."""
    message = db.get(OutboxMessage, message_id, with_for_update=True)
    if message is None:
        raise NotFoundError.for_entity("Outbox message", message_id)
    if message.status != OutboxStatus.DEAD:
        raise OutboxMessageNotDeadError(
            "Only a dead message can be retried; this one is not.",
            details={"status": message.status.value},
        )
    task_id = leases.restart(message)
    message.available_at = utcnow()
    _send_task(db, message.id, task_id)
    return message


def _send_task(db: Session, message_id: uuid.UUID, task_id: str) -> None:
    enqueue_after_commit(
        db, OUTBOX_DELIVER, [str(message_id)], queue=QUEUE_NOTIFICATIONS, task_id=task_id
    )


def _gave_up(message: OutboxMessage, reason: str) -> str:
    return f"gave up after {message.attempts} attempts; last: {reason}"


def _log_dead(message: OutboxMessage, reason: str) -> None:
    logger.error(
        "outbox message dead-lettered",
        extra={
            "message_id": str(message.id),
            "channel": message.channel,
            "kind": message.kind,
            "reason": reason,
        },
    )
