"""Mail transports. With SMTP_HOST set, messages go to that SMTP server; without it, they
are written as .eml files under VAR_DIR/mail and announced in the log, so every flow can be
finished locally with no setup.

A transport either delivers or raises `DeliveryError`, which says whether trying again
could help (a connection refused, a 4xx reply) or not (a 5xx reply). Log lines name the
recipient and subject, never the body: bodies carry sign-in links.
"""

import logging
import smtplib
import ssl
import uuid
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from app.core.config import Settings, SmtpSecurity
from app.core.delivery import DeliveryError
from app.utils.clock import utcnow

logger = logging.getLogger(__name__)

# Per network operation; OUTBOX_LEASE_SECONDS (at least 60) outlasts a slow exchange.
SMTP_TIMEOUT_SECONDS = 20.0


class MailTransport(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class FileTransport:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        final = self.directory / f"{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.eml"
        partial = final.with_suffix(".tmp")
        partial.write_bytes(message.as_bytes())
        partial.replace(final)  # readers never see a half-written message
        logger.info(
            "email written",
            extra={"to": message["To"], "subject": message["Subject"], "file": str(final)},
        )


class SmtpTransport:
    def __init__(self, host: str, settings: Settings) -> None:
        self.host = host
        self.port = settings.smtp_port
        self.security = settings.SMTP_SECURITY
        self.username = settings.SMTP_USERNAME
        self.password = settings.SMTP_PASSWORD

    def send(self, message: EmailMessage) -> None:
        try:
            with self._connect() as smtp:
                self._authenticate(smtp)
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            raise DeliveryError(
                f"recipient refused: {codes}", permanent=all(code >= 500 for code in codes)
            ) from error
        except smtplib.SMTPResponseException as error:
            reply = f"{error.smtp_code} {error.smtp_error!r}"
            raise DeliveryError(reply, permanent=error.smtp_code >= 500) from error
        except smtplib.SMTPNotSupportedError as error:
            raise DeliveryError(f"server cannot: {error}", permanent=True) from error
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryError(f"{type(error).__name__}: {error}", permanent=False) from error
        logger.info("email sent", extra={"to": message["To"], "subject": message["Subject"]})

    def _connect(self) -> smtplib.SMTP:
        if self.security == SmtpSecurity.SSL:
            return smtplib.SMTP_SSL(
                self.host,
                self.port,
                timeout=SMTP_TIMEOUT_SECONDS,
                context=ssl.create_default_context(),
            )
        smtp = smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT_SECONDS)
        if self.security == SmtpSecurity.STARTTLS:
            smtp.starttls(context=ssl.create_default_context())
        return smtp

    def _authenticate(self, smtp: smtplib.SMTP) -> None:
        if self.username:
            password = self.password.get_secret_value() if self.password else ""
            smtp.login(self.username, password)


def build_transport(settings: Settings) -> MailTransport:
    if settings.SMTP_HOST:
        return SmtpTransport(settings.SMTP_HOST, settings)
    return FileTransport(settings.mail_dir)
