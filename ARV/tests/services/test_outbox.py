"""The outbox delivering email through a real SMTP server (aiosmtpd on loopback): both
parts, the user's language, claimed once, retries with backoff on 4xx and refused
connections, dead letters on 5xx or the last attempt, and the admin API over them."""

import time
import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.background_tasks.notification_tasks import delivery_channels
from app.core.config import Settings
from app.models import Language, OutboxMessage, OutboxStatus
from app.services import outbox
from app.services.emails import Emails
from app.services.outbox import OutboxDelivery, backoff_seconds
from app.utils.clock import utcnow
from tests.support.api import assert_error
from tests.support.factories import DEFAULT_PASSWORD, auth_headers, make_user, unique_email
from tests.support.mailbox import body, deliver_due, html, tokens
from tests.support.processes import free_port
from tests.support.smtp_server import SmtpInbox

TRY_LATER = "451 4.7.1 Greylisted, try again later"
NO_SUCH_USER = "550 5.1.1 No such user here"


@pytest.fixture
def smtp_settings(settings: Settings, smtp_inbox: SmtpInbox) -> Settings:
    return smtp_inbox.settings(
        settings, OUTBOX_RETRY_BASE_SECONDS=0.1, MAIL_FROM="ARVlite <mail@arvlite.test>"
    )


def queue_reset(db: Session, settings: Settings, to: str, language: Language) -> OutboxMessage:
    Emails(db, settings).password_reset(to, language, "tok-" + uuid.uuid4().hex)
    return db.scalars(select(OutboxMessage).where(OutboxMessage.recipient == to)).one()


def deliver(sessions: sessionmaker[Session], settings: Settings, message: OutboxMessage) -> str:
    delivery = OutboxDelivery(sessions, delivery_channels(sessions, settings), settings)
    return delivery.deliver(message.id, message.task_id or "").status


def reloaded(db: Session, message: OutboxMessage) -> OutboxMessage:
    db.expire_all()
    return db.get_one(OutboxMessage, message.id)


def test_an_email_arrives_with_text_and_html_parts_and_its_body_is_then_dropped(
    db: Session,
    session_factory: sessionmaker[Session],
    smtp_settings: Settings,
    smtp_inbox: SmtpInbox,
) -> None:
    to = unique_email("smtp")
    message = queue_reset(db, smtp_settings, to, Language.EN)
    assert deliver(session_factory, smtp_settings, message) == "sent"

    [received] = smtp_inbox.to(to)
    assert received["From"] == "ARVlite <mail@arvlite.test>"
    assert received["Subject"] == "Reset your ARVlite password"
    assert received["Message-ID"] == f"<{message.id}@outbox.arvlite>"
    assert received.get_content_type() == "multipart/alternative"
    token = tokens(received)[0]
    assert f"/reset-password?token={token}" in body(received)
    assert f'href="{smtp_settings.PUBLIC_BASE_URL}/reset-password?token={token}"' in html(received)
    sent = reloaded(db, message)
    assert (sent.status, sent.attempts, sent.payload) == (OutboxStatus.SENT, 1, {})
    assert sent.finished_at is not None


def test_html_escapes_what_users_typed(db: Session, smtp_settings: Settings) -> None:
    Emails(db, smtp_settings).invitation(
        unique_email(), Language.EN, "tok", "<b>Acme</b> & Co", "viewer"
    )
    queued = db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "invitation")).one()
    assert "&lt;b&gt;Acme&lt;/b&gt; &amp; Co" in queued.payload["html"]
    assert "<b>Acme</b> & Co" in queued.payload["text"]


def test_a_redelivered_or_duplicate_task_never_sends_twice(
    db: Session,
    session_factory: sessionmaker[Session],
    smtp_settings: Settings,
    smtp_inbox: SmtpInbox,
) -> None:
    to = unique_email("once")
    message = queue_reset(db, smtp_settings, to, Language.EN)
    delivery = OutboxDelivery(
        session_factory, delivery_channels(session_factory, smtp_settings), smtp_settings
    )
    assert delivery.deliver(message.id, message.task_id or "").status == "sent"
    assert delivery.deliver(message.id, message.task_id or "").status == "skipped"
    assert delivery.deliver(message.id, "another-task").status == "skipped"
    assert len(smtp_inbox.to(to)) == 1


def test_a_user_gets_emails_in_their_language(
    client: TestClient,
    db: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    smtp_settings: Settings,
    smtp_inbox: SmtpInbox,
) -> None:
    user = make_user(db)
    headers = auth_headers(db, settings, user)
    changed = client.patch("/api/v1/users/me", json={"language": "ru"}, headers=headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["language"] == "ru"
    client.post("/api/v1/auth/password/forgot", json={"email": user.email})
    deliver_due(session_factory, smtp_settings)

    [received] = smtp_inbox.to(user.email)
    assert received["Subject"] == "Восстановление пароля ARVlite"
    assert "Задайте новый пароль" in body(received)
    assert '<html lang="ru">' in html(received)


def test_sign_up_takes_the_language_from_accept_language(
    client: TestClient,
    session_factory: sessionmaker[Session],
    smtp_settings: Settings,
    smtp_inbox: SmtpInbox,
) -> None:
    email = unique_email("ru")
    client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": "a long enough passphrase"},
        headers={"Accept-Language": "de-DE, ru;q=0.9, en;q=0.8"},
    )
    deliver_due(session_factory, smtp_settings)
    [received] = smtp_inbox.to(email)
    assert received["Subject"] == "Подтвердите адрес почты в ARVlite"


def test_a_changed_password_is_announced(
    client: TestClient,
    db: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    smtp_settings: Settings,
    smtp_inbox: SmtpInbox,
) -> None:
    user = make_user(db)
    response = client.post(
        "/api/v1/users/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": "an entirely new phrase"},
        headers=auth_headers(db, settings, user),
    )
    assert response.status_code == 204, response.text
    deliver_due(session_factory, smtp_settings)
    assert [m["Subject"] for m in smtp_inbox.to(user.email)] == [
        "Your ARVlite password was changed"
    ]


def test_a_4xx_reply_is_retried_later_and_then_arrives_once(
    db: Session,
    session_factory: sessionmaker[Session],
    smtp_settings: Settings,
    smtp_inbox: SmtpInbox,
) -> None:
    to = unique_email("grey")
    message = queue_reset(db, smtp_settings, to, Language.EN)
    smtp_inbox.refusals.append(TRY_LATER)
    delivery = OutboxDelivery(
        session_factory, delivery_channels(session_factory, smtp_settings), smtp_settings
    )
    outcome = delivery.deliver(message.id, message.task_id or "")

    assert outcome.status == "retry"
    assert outcome.retry_in is not None
    assert outcome.retry_in >= 1
    waiting = reloaded(db, message)
    assert waiting.status == OutboxStatus.PENDING
    assert waiting.attempts == 1
    assert "451" in (waiting.last_error or "")
    assert waiting.available_at > utcnow()
    # Not due yet: an early task does nothing.
    assert delivery.deliver(message.id, message.task_id or "").status == "skipped"
    time.sleep(0.15)
    assert delivery.deliver(message.id, message.task_id or "").status == "sent"
    assert len(smtp_inbox.to(to)) == 1
    assert reloaded(db, message).attempts == 2


def test_a_refused_connection_is_transient(
    db: Session, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    nobody_listens = settings.model_copy(
        update={"SMTP_HOST": "127.0.0.1", "SMTP_PORT": free_port()}
    )
    message = queue_reset(db, nobody_listens, unique_email(), Language.EN)
    assert deliver(session_factory, nobody_listens, message) == "retry"
    assert "ConnectionRefusedError" in (reloaded(db, message).last_error or "")


def test_a_5xx_reply_dead_letters_at_once_and_an_admin_retries_it(
    client: TestClient,
    db: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    smtp_settings: Settings,
    smtp_inbox: SmtpInbox,
) -> None:
    to = unique_email("bounce")
    message = queue_reset(db, smtp_settings, to, Language.EN)
    smtp_inbox.refusals.append(NO_SUCH_USER)
    assert deliver(session_factory, smtp_settings, message) == "dead"
    dead = reloaded(db, message)
    assert dead.status == OutboxStatus.DEAD
    assert "550" in (dead.last_error or "")
    assert dead.payload, "a dead letter keeps its content, to be retried"

    headers = auth_headers(db, settings, make_user(db, superuser=True))
    listed = client.get("/api/v1/admin/outbox", params={"status": "dead"}, headers=headers)
    assert listed.status_code == 200, listed.text
    page = listed.json()
    assert {"items", "total", "limit", "offset"} <= set(page)
    [item] = [item for item in page["items"] if item["id"] == str(message.id)]
    assert item["status"] == "dead"
    assert "550" in item["last_error"]
    assert "payload" not in item

    retried = client.post(f"/api/v1/admin/outbox/{message.id}/retry", headers=headers)
    assert retried.status_code == 200, retried.text
    assert (retried.json()["status"], retried.json()["attempts"]) == ("pending", 0)
    again = client.post(f"/api/v1/admin/outbox/{message.id}/retry", headers=headers)
    assert_error(again, 409, "outbox_message_not_dead")
    deliver_due(session_factory, smtp_settings)
    assert len(smtp_inbox.to(to)) == 1


def test_the_last_attempt_dead_letters_with_the_reason(
    db: Session,
    session_factory: sessionmaker[Session],
    smtp_settings: Settings,
    smtp_inbox: SmtpInbox,
) -> None:
    two_tries = smtp_settings.model_copy(update={"OUTBOX_MAX_ATTEMPTS": 2})
    message = queue_reset(db, two_tries, unique_email(), Language.EN)
    smtp_inbox.refusals.extend([TRY_LATER, TRY_LATER])
    assert deliver(session_factory, two_tries, message) == "retry"
    time.sleep(0.15)
    assert deliver(session_factory, two_tries, message) == "dead"
    dead = reloaded(db, message)
    assert dead.status == OutboxStatus.DEAD
    assert (dead.last_error or "").startswith("gave up after 2 attempts")
    assert smtp_inbox.received == []


def test_the_admin_outbox_is_for_superusers_only(
    client: TestClient, db: Session, settings: Settings
) -> None:
    headers = auth_headers(db, settings, make_user(db))
    assert_error(client.get("/api/v1/admin/outbox", headers=headers), 403, "permission_denied")
    missing = client.post(
        f"/api/v1/admin/outbox/{uuid.uuid4()}/retry",
        headers=auth_headers(db, settings, make_user(db, superuser=True)),
    )
    assert_error(missing, 404, "not_found")


def test_the_sweep_resends_overdue_messages_and_dead_letters_lost_last_attempts(
    db: Session, settings: Settings
) -> None:
    overdue = queue_reset(db, settings, unique_email(), Language.EN)
    overdue.available_at = utcnow() - timedelta(seconds=settings.OUTBOX_SWEEP_AFTER_SECONDS + 1)
    lost = queue_reset(db, settings, unique_email(), Language.EN)
    lost.status = OutboxStatus.SENDING
    lost.attempts = lost.max_attempts
    lost.lease_expires_at = utcnow() - timedelta(seconds=1)
    lost.last_error = "TimeoutError"
    db.flush()

    result = outbox.sweep(db, settings, utcnow())
    assert (result.resent, result.dead) >= (1, 1)
    assert overdue.available_at > utcnow() - timedelta(seconds=5)
    assert lost.status == OutboxStatus.DEAD
    assert lost.last_error == f"gave up after {lost.max_attempts} attempts; last: TimeoutError"


@pytest.mark.parametrize("attempts", [1, 2, 5, 30])
def test_backoff_grows_exponentially_with_jitter_and_a_cap(
    settings: Settings, attempts: int
) -> None:
    ceiling = min(
        settings.OUTBOX_RETRY_MAX_SECONDS,
        settings.OUTBOX_RETRY_BASE_SECONDS * 2 ** (attempts - 1),
    )
    delays = {backoff_seconds(settings, attempts) for _ in range(50)}
    assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
    assert len(delays) > 1
