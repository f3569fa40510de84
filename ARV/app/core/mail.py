"""Outgoing email. Until an SMTP transport is configured, messages are written as .eml files
under VAR_DIR/mail and announced in the log, so every flow can be finished locally.

The log line names recipient, subject and file, never the body: bodies carry sign-in links.
"""

import logging
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from app.utils.clock import utcnow

logger = logging.getLogger(__name__)

SENDER = "ARVlite <no-reply@arvlite.local>"


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    to: str
    subject: str
    body: str


class FileMailer:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, email: OutgoingEmail) -> Path:
        message = EmailMessage()
        message["From"] = SENDER
        message["To"] = email.to
        message["Subject"] = email.subject
        message.set_content(email.body)
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.eml"
        final = self.directory / name
        partial = final.with_suffix(".tmp")
        partial.write_bytes(message.as_bytes())
        partial.replace(final)  # readers never see a half-written message
        logger.info(
            "email written", extra={"to": email.to, "subject": email.subject, "file": str(final)}
        )
        return final
