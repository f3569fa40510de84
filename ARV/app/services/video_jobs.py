"""The processing-job lifecycle shared by workers and the watchdog: claim with a lease,
renew it while working, and recover jobs whose worker died.

A job is claimed by one conditional UPDATE, so two deliveries of the same task cannot
both run it. The claim succeeds when the job is queued, when its lease ran out (its
worker died), or when the claimant carries the job's own task id (Celery redelivered the
message of a worker that was killed: nobody else holds it).
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from app.models.video import JobKind, JobStatus, VideoJob
from app.utils.clock import utcnow


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    id: uuid.UUID
    company_id: uuid.UUID
    video_id: uuid.UUID
    kind: JobKind
    target: str | None
    attempts: int
    max_attempts: int


def claim_job(
    db: Session, job_id: uuid.UUID, task_id: str, lease_seconds: int
) -> ClaimedJob | None:
    now = utcnow()
    row = db.execute(
        update(VideoJob)
        .where(
            VideoJob.id == job_id,
            VideoJob.attempts < VideoJob.max_attempts,
            VideoJob.cancel_requested.is_(False),
            or_(
                VideoJob.status == JobStatus.QUEUED,
                (VideoJob.status == JobStatus.RUNNING)
                & or_(VideoJob.lease_expires_at < now, VideoJob.task_id == task_id),
            ),
        )
        .values(
            status=JobStatus.RUNNING,
            attempts=VideoJob.attempts + 1,
            task_id=task_id,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            started_at=now,
            updated_at=now,
        )
        .returning(
            VideoJob.id,
            VideoJob.company_id,
            VideoJob.video_id,
            VideoJob.kind,
            VideoJob.target,
            VideoJob.attempts,
            VideoJob.max_attempts,
        )
    ).one_or_none()
    return ClaimedJob(*row) if row is not None else None


def renew_lease(db: Session, job_id: uuid.UUID, task_id: str, lease_seconds: int) -> bool:
    """Extend the lease; returns whether the job asks to be cancelled (or was taken away)."""
    now = utcnow()
    cancel_requested = db.scalar(
        update(VideoJob)
        .where(
            VideoJob.id == job_id,
            VideoJob.status == JobStatus.RUNNING,
            VideoJob.task_id == task_id,
        )
        .values(lease_expires_at=now + timedelta(seconds=lease_seconds), updated_at=now)
        .returning(VideoJob.cancel_requested)
    )
    return cancel_requested is None or cancel_requested


def hand_back(db: Session, job_id: uuid.UUID, task_id: str, reason: str) -> bool:
    """The worker holding the job is stopping: end the lease now and refund the attempt (a
    deliberate stop is not the job's fault). The job stays claimed by `task_id`, so that
    task's message, put back on the queue, claims it again at once; were the message lost,
    the expired lease lets the watchdog re-send the job. False if the job was not held."""
    now = utcnow()
    handed_back = db.scalar(
        update(VideoJob)
        .where(
            VideoJob.id == job_id,
            VideoJob.status == JobStatus.RUNNING,
            VideoJob.task_id == task_id,
        )
        .values(
            attempts=VideoJob.attempts - 1,
            lease_expires_at=now,
            last_error=reason,
            updated_at=now,
        )
        .returning(VideoJob.id)
    )
    return handed_back is not None


@dataclass(frozen=True, slots=True)
class Recovery:
    requeued: list[tuple[uuid.UUID, str]]
    exhausted: list[uuid.UUID]


def recover_expired_jobs(db: Session, now: datetime) -> Recovery:
    """Running jobs whose lease ran out lost their worker: hand them a new task id to be
    re-sent, or list them as exhausted when no attempt is left."""
    expired = db.scalars(
        select(VideoJob)
        .where(VideoJob.status == JobStatus.RUNNING, VideoJob.lease_expires_at < now)
        .with_for_update(skip_locked=True)
    ).all()
    requeued: list[tuple[uuid.UUID, str]] = []
    exhausted: list[uuid.UUID] = []
    for job in expired:
        if job.attempts >= job.max_attempts or job.cancel_requested:
            exhausted.append(job.id)
            continue
        job.status = JobStatus.QUEUED
        job.task_id = str(uuid.uuid4())
        job.lease_expires_at = None
        requeued.append((job.id, job.task_id))
    return Recovery(requeued, exhausted)
