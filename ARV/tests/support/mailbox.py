"""Read the emails the app sent. Emails wait in the outbox (inside the test's transaction,
where no worker can see them), so the mailbox first delivers what is due, in-process,
through the real delivery code and transport: the file transport under VAR_DIR/mail, or
SMTP when the settings name a server."""

import re
import uuid
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.background_tasks.notification_tasks import delivery_channels
from app.core.config import Settings
from app.core.database import session_scope
from app.models import OutboxMessage, OutboxStatus
from app.services.outbox import OutboxDelivery, Outcome
from app.utils.clock import utcnow

TOKEN_LINE = re.compile(r"^(?:Token|Токен): (\S+?)\r?$", re.MULTILINE)


def deliver_due(sessions: sessionmaker[Session], settings: Settings) -> list[Outcome]:
    """Deliver every outbox message that is due now, as a notifications worker would."""
    with session_scope(sessions) as db:
        due = db.execute(
            select(OutboxMessage.id, OutboxMessage.task_id).where(
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.available_at <= utcnow(),
            )
        ).all()
    delivery = OutboxDelivery(sessions, delivery_channels(sessions, settings), settings)
    return [
        delivery.deliver(message_id, task_id or str(uuid.uuid4())) for message_id, task_id in due
    ]


def read_mail_dir(mail_dir: Path, recipient: str) -> list[EmailMessage]:
    if not mail_dir.exists():
        return []
    found = [
        message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in sorted(mail_dir.glob("*.eml"))
    ]
    return [message for message in found if message["To"] == recipient]


def body(message: Message) -> str:
    """The plain-text part."""
    return _part(message, "plain")


def html(message: Message) -> str:
    return _part(message, "html")


def _part(message: Message, subtype: str) -> str:
    assert isinstance(message, EmailMessage)
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None, f"the email has no text/{subtype} part"
    content = part.get_content()
    assert isinstance(content, str)
    return content


def tokens(message: Message) -> list[str]:
    return TOKEN_LINE.findall(body(message))


class Mailbox:
    """The file transport's mailbox (VAR_DIR/mail), read after delivering the outbox.
    Other tests write there too, so messages are always picked by recipient."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings) -> None:
        self.sessions = sessions
        self.settings = settings

    def messages_to(self, recipient: str) -> list[EmailMessage]:
        deliver_due(self.sessions, self.settings)
        return read_mail_dir(self.settings.mail_dir, recipient)

    def last_token(self, recipient: str) -> str:
        with_tokens = [m for m in self.messages_to(recipient) if tokens(m)]
        assert with_tokens, f"no email with a token to {recipient}"
        return tokens(with_tokens[-1])[0]


@pytest.fixture
def mailbox(session_factory: sessionmaker[Session], settings: Settings) -> Mailbox:
    return Mailbox(session_factory, settings)
