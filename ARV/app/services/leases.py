"""The one job lease, for every model with the `Leased` columns (video jobs, outbox
messages): claim, renew, hand back, requeue, fail, and the watchdog's recovery of work
whose worker died.

A row is claimed by one conditional UPDATE, so two deliveries of the same task cannot both
run it. The claim succeeds when the row waits, when its lease ran out (its worker died),
or when the claimant carries the row's own task id (Celery redelivered the message of a
worker that was killed: nobody else holds it). Each claim spends an attempt; a row out of
attempts is never claimed again, and the watchdog hands it to its owner to fail visibly.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.core.database import session_scope
from app.core.task_queue import enqueue_after_commit
from app.models.lease import Leased
from app.utils.clock import utcnow

L = TypeVar("L", bound=Leased)

# Why a row a stopping worker handed back last stopped (`hand_back`).
WORKER_STOPPED = "interrupted: the worker was stopped"
MAX_RETRY_DELAY_SECONDS = 600


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one delivery of a leased job's task did; `retry_in`: send it again after so
    many seconds."""

    status: str
    retry_in: float | None = None


def retry_delay(attempts: int) -> float:
    """Seconds before the next attempt of a job that has made `attempts`: 10, 20, 40...,
    at most `MAX_RETRY_DELAY_SECONDS`."""
    return float(min(MAX_RETRY_DELAY_SECONDS, 10 * 2 ** (attempts - 1)))


def gave_up(attempts: int, reason: str | None) -> str:
    """The failure reason of a job out of attempts."""
    return f"gave up after {attempts} attempts; last error: {reason or 'worker lost'}"


def claim(
    db: Session, model: type[L], row_id: uuid.UUID, task_id: str, lease_seconds: int
) -> L | None:
    """Take the row for `task_id` for `lease_seconds`; None if it is not to be taken."""
    now = utcnow()
    states = model.lease_states
    row: L | None = db.scalar(
        update(model)
        .where(
            model.id == row_id,
            model.attempts < model.max_attempts,
            model.claimable(now),
            or_(
                model.status == states.waiting,
                (model.status == states.held)
                & or_(model.lease_expires_at < now, model.task_id == task_id),
            ),
        )
        .values(
            status=states.held,
            attempts=model.attempts + 1,
            task_id=task_id,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            started_at=now,
        )
        .returning(model)
    )
    return row


def renew(
    db: Session, model: type[L], row_id: uuid.UUID, task_id: str, lease_seconds: int
) -> L | None:
    """Extend the lease `task_id` holds; None if it holds it no more."""
    now = utcnow()
    return _update_held(
        db, model, row_id, task_id, lease_expires_at=now + timedelta(seconds=lease_seconds)
    )


def hand_back(db: Session, model: type[L], row_id: uuid.UUID, task_id: str, reason: str) -> bool:
    """The worker holding the row is stopping: end the lease now and refund the attempt (a
    deliberate stop is not the work's fault). The row stays claimed by `task_id`, so that
    task's message, put back on the queue, claims it again at once; were the message lost,
    the expired lease lets the watchdog re-send it. False if the row was not held."""
    row = _update_held(
        db,
        model,
        row_id,
        task_id,
        attempts=model.attempts - 1,
        lease_expires_at=utcnow(),
        last_error=reason,
    )
    return row is not None


def release(
    db: Session, model: type[L], row_id: uuid.UUID, task_id: str, reason: str, **values: Any
) -> bool:
    """The attempt `task_id` made failed and another may follow: the row waits again, with
    the reason (and any of the model's own `values`, such as when to try next)."""
    row = _update_held(
        db,
        model,
        row_id,
        task_id,
        status=model.lease_states.waiting,
        lease_expires_at=None,
        last_error=reason,
        **values,
    )
    return row is not None


def finish(
    db: Session,
    model: type[L],
    row_id: uuid.UUID,
    task_id: str,
    status: StrEnum,
    **values: Any,
) -> bool:
    """The work `task_id` held ended in `status` (done, or failed with a `last_error`)."""
    row = _update_held(
        db,
        model,
        row_id,
        task_id,
        status=status,
        lease_expires_at=None,
        finished_at=utcnow(),
        **values,
    )
    return row is not None


def succeed(row: Leased) -> None:
    """The work on `row`, whose lease the caller holds, is done."""
    row.status = row.lease_states.done
    row.last_error = None
    row.finished_at = utcnow()
    row.lease_expires_at = None


def fail(row: Leased, reason: str) -> None:
    """Give up on `row` for good, saying why: the failure is visible, never retried."""
    row.status = row.lease_states.failed
    row.last_error = reason
    row.finished_at = utcnow()
    row.lease_expires_at = None


def restart(row: Leased) -> str:
    """Put a failed row back in line with its attempts renewed; the task id to send."""
    row.status = row.lease_states.waiting
    row.attempts = 0
    row.task_id = str(uuid.uuid4())
    row.lease_expires_at = None
    row.finished_at = None
    return row.task_id


def out_of_attempts(row: Leased) -> bool:
    return row.attempts >= row.max_attempts


@dataclass(frozen=True, slots=True)
class Recovery:
    requeued: list[tuple[uuid.UUID, str]]
    exhausted: list[uuid.UUID]


def recover_expired(db: Session, model: type[L], now: datetime) -> Recovery:
    """Held rows whose lease ran out lost their worker: give them a new task id to be
    re-sent, or list them as exhausted for their owner to fail with the reason."""
    states = model.lease_states
    expired = db.scalars(
        select(model)
        .where(model.status == states.held, model.lease_expires_at < now)
        .with_for_update(skip_locked=True)
    ).all()
    requeued: list[tuple[uuid.UUID, str]] = []
    exhausted: list[uuid.UUID] = []
    for row in expired:
        if not row.may_run_again:
            exhausted.append(row.id)
            continue
        row.status = states.waiting
        row.task_id = str(uuid.uuid4())
        row.lease_expires_at = None
        requeued.append((row.id, row.task_id))
    return Recovery(requeued, exhausted)


def requeue_expired(
    sessions: sessionmaker[Session], model: type[L], task: str, queue: str, now: datetime
) -> Recovery:
    """The watchdog's pass over `model`: re-send `task` for rows whose worker died, and
    return those out of attempts for their owner to fail."""
    with session_scope(sessions) as db:
        recovery = recover_expired(db, model, now)
        for row_id, task_id in recovery.requeued:
            enqueue_after_commit(db, task, [str(row_id)], queue=queue, task_id=task_id)
    return recovery


def _update_held(
    db: Session, model: type[L], row_id: uuid.UUID, task_id: str, **values: Any
) -> L | None:
    row: L | None = db.scalar(
        update(model)
        .where(
            model.id == row_id,
            model.status == model.lease_states.held,
            model.task_id == task_id,
        )
        .values(**values)
        .returning(model)
    )
    return row
