"""Video jobs on the one job lease (`app.services.leases`): what the pipeline and the
watchdog need of it, in the pipeline's terms."""

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.models.video import JobKind, VideoJob
from app.services import leases


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
    job = leases.claim(db, VideoJob, job_id, task_id, lease_seconds)
    if job is None:
        return None
    return ClaimedJob(
        job.id, job.company_id, job.video_id, job.kind, job.target, job.attempts, job.max_attempts
    )


def renew_lease(db: Session, job_id: uuid.UUID, task_id: str, lease_seconds: int) -> bool:
    """Extend the lease; returns whether the job asks to be cancelled (or was taken away)."""
    job = leases.renew(db, VideoJob, job_id, task_id, lease_seconds)
    return job is None or job.cancel_requested
