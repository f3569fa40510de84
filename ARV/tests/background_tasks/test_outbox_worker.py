"""Email delivery that survives losing its worker or its task message: a real Celery
worker on the `notifications` queue sends through a real SMTP server (aiosmtpd), and each
message still arrives exactly once. These tests commit for real, so they clean up."""

import os
import signal
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, select

from app.background_tasks import notification_tasks
from app.background_tasks.names import QUEUE_NOTIFICATIONS
from app.core.config import Settings
from app.core.database import session_scope
from app.models import Language, OutboxMessage, OutboxStatus
from app.services.emails import Emails, render
from app.utils.clock import utcnow
from tests.support.factories import unique_email
from tests.support.processes import (
    celery_worker_command,
    child_pids,
    project_env,
    running,
    wait_until,
)
from tests.support.smtp_server import SmtpInbox

pytestmark = pytest.mark.integration


@pytest.fixture
def recipient(engine: Engine) -> Iterator[str]:
    email = unique_email("outbox-worker")
    yield email
    with session_scope() as db:
        db.execute(delete(OutboxMessage).where(OutboxMessage.recipient == email))


def worker_env(inbox: SmtpInbox) -> dict[str, str]:
    return project_env(SMTP_HOST=inbox.host, SMTP_PORT=str(inbox.port), SMTP_SECURITY="none")


def message_to(recipient: str) -> OutboxMessage:
    with session_scope() as db:
        return db.scalars(select(OutboxMessage).where(OutboxMessage.recipient == recipient)).one()


def test_a_worker_killed_between_claim_and_send_has_the_email_arrive_once(
    settings: Settings, smtp_inbox: SmtpInbox, recipient: str, tmp_path: Path
) -> None:
    smtp_inbox.stall_first_seconds = 15
    with session_scope() as db:  # the request that causes the email commits
        Emails(db, settings).verification(recipient, Language.EN, "kill-token")
    log = tmp_path / "worker.log"
    with running(celery_worker_command(QUEUE_NOTIFICATIONS), worker_env(smtp_inbox), log) as worker:
        wait_until(smtp_inbox.stalled.is_set, 60, "the worker to reach the SMTP server")
        assert message_to(recipient).status == OutboxStatus.SENDING  # claimed, not sent
        [pool_process] = child_pids(worker.pid)
        os.kill(pool_process, signal.SIGKILL)
        wait_until(
            lambda: message_to(recipient).status == OutboxStatus.SENT,
            60,
            f"the redelivered task to send; worker log:\n{log.read_text()}",
        )
    assert "WorkerLostError" in log.read_text()
    [received] = smtp_inbox.to(recipient)
    assert "kill-token" in received.get_body(preferencelist=("plain",)).get_content()
    assert message_to(recipient).attempts == 2


def test_a_message_whose_task_was_never_sent_is_swept_and_arrives_once(
    settings: Settings, smtp_inbox: SmtpInbox, recipient: str, tmp_path: Path
) -> None:
    # The API process died between its commit and sending the task: a row, no message.
    long_ago = utcnow() - timedelta(seconds=settings.OUTBOX_SWEEP_AFTER_SECONDS + 1)
    with session_scope() as db:
        db.add(
            OutboxMessage(
                channel="email",
                kind="verification",
                recipient=recipient,
                payload=render(
                    "verification",
                    Language.EN,
                    {"link": "http://x/verify", "token": "swept", "ttl_hours": 1},
                ),
                status=OutboxStatus.PENDING,
                available_at=long_ago,
                max_attempts=settings.OUTBOX_MAX_ATTEMPTS,
                task_id=str(uuid.uuid4()),
            )
        )
    log = tmp_path / "worker.log"
    with running(celery_worker_command(QUEUE_NOTIFICATIONS), worker_env(smtp_inbox), log):
        assert notification_tasks.sweep()["resent"] >= 1  # what beat runs every minute
        wait_until(
            lambda: message_to(recipient).status == OutboxStatus.SENT,
            60,
            f"the swept message to be sent; worker log:\n{log.read_text()}",
        )
        notification_tasks.sweep()  # a later sweep finds nothing of it to do
        wait_until(lambda: len(smtp_inbox.received) >= 1, 5, "the message")
    assert len(smtp_inbox.to(recipient)) == 1
    assert message_to(recipient).attempts == 1
