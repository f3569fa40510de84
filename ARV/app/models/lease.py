"""The columns of work that Celery workers take under a lease (video jobs, outbox
messages). The lifecycle itself lives in one place, `app.services.leases`."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import ColumnElement, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column


@dataclass(frozen=True, slots=True)
class LeaseStates:
    """What a model calls the lease's states in its own `status` column."""

    waiting: StrEnum  # may be claimed
    held: StrEnum  # a worker holds the lease
    done: StrEnum  # finished
    failed: StrEnum  # given up, with `last_error` saying why


class Leased:
    """A unit of work a worker claims by a conditional UPDATE, keeps by renewing its lease,
    and loses when the lease runs out (its worker died) until `max_attempts` are spent."""

    lease_states: ClassVar[LeaseStates]

    if TYPE_CHECKING:  # declared by each model, with its own states
        id: Mapped[uuid.UUID]
        status: Mapped[Any]

    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int]
    # The Celery task that holds (or last held) the lease.
    task_id: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    @classmethod
    def claimable(cls, now: datetime) -> ColumnElement[bool]:
        """What else a row needs, beyond its state, to be claimed at `now`."""
        return true()

    @property
    def may_run_again(self) -> bool:
        """Whether a lost lease should be re-queued rather than given up."""
        return self.attempts < self.max_attempts
