"""Enqueue Celery tasks from services, after the transaction that asked for them commits.

Tasks are sent by name (the constants in `background_tasks.names`), so a service never
imports task code, and the id is chosen here so a job row can record it before the send.
"""

import uuid
from typing import Any

from sqlalchemy.orm import Session

from app.core.events import on_commit


def enqueue_after_commit(
    session: Session,
    task_name: str,
    args: list[Any],
    *,
    queue: str,
    task_id: str | None = None,
    countdown: float | None = None,
) -> str:
    task_id = task_id or str(uuid.uuid4())

    def send() -> None:
        # Imported here: the Celery app is only needed once there is something to send.
        from app.background_tasks.celery_app import celery_app

        celery_app.send_task(
            task_name, args=args, queue=queue, task_id=task_id, countdown=countdown
        )

    on_commit(session, send)
    return task_id
