"""A notification's email, delivered for real: through the outbox to an SMTP server
(aiosmtpd on loopback), in the reader's language, with the one-click unsubscribe of RFC 8058
that works without signing in."""

import uuid
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.permissions import Role
from app.models import Language
from app.services import notifications
from tests.support.factories import make_tenant
from tests.support.mailbox import body, deliver_due, html
from tests.support.smtp_server import SmtpInbox


def test_an_email_arrives_in_the_readers_language_and_unsubscribes_in_one_click(
    client: TestClient,
    db: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    smtp_inbox: SmtpInbox,
) -> None:
    smtp = smtp_inbox.settings(settings)
    tenant = make_tenant(db, smtp)
    owner = tenant.users[Role.OWNER]
    owner.language = Language.RU
    db.flush()
    notifications.emit(
        db,
        smtp,
        "video.failed",
        {"video_id": str(uuid.uuid4()), "title": "Открытка", "reason": "no video stream"},
        company_id=tenant.company.id,
        user_id=owner.id,
        link=f"{smtp.PUBLIC_BASE_URL}/companies/{tenant.company.id}/videos/1",
    )
    deliver_due(session_factory, smtp)  # the event: the email is queued
    deliver_due(session_factory, smtp)  # the email

    [email] = smtp_inbox.to(owner.email)
    assert email["Subject"] == "Видео «Открытка» не удалось обработать"
    assert "no video stream" in body(email)
    assert "Отписаться от таких писем" in html(email)
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = email["List-Unsubscribe"].strip("<>")
    assert link in body(email)

    # What a mail client does with the header: a POST, no session.
    url = urlsplit(link)
    clicked = client.post(f"{url.path}?{url.query}", data={"List-Unsubscribe": "One-Click"})
    assert clicked.status_code == 200, clicked.text
    preferences = client.get(
        "/api/v1/notifications/preferences", headers=tenant.headers[Role.OWNER]
    ).json()
    [failed_email] = [
        p for p in preferences if p["type"] == "video.failed" and p["channel"] == "email"
    ]
    assert failed_email["enabled"] is False
