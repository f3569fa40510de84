"""The emails the accounts flows send, and the channel that delivers them.

Each email is a plain-text and an HTML template (Jinja2, under app/templates/email/<lang>/)
in the recipient's language; the text template also sets the subject. An email is rendered
when it is queued and stored in the outbox with the change that caused it; `EmailChannel`
delivers it later through the configured transport (SMTP, or files under VAR_DIR/mail).
Links point at PUBLIC_BASE_URL; a token is also given on its own line, so it can be pasted
into the API docs.
"""

from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.mail import MailTransport
from app.models.outbox import OutboxMessage
from app.models.user import Language
from app.services import outbox
from app.services.outbox import Channel

CHANNEL = "email"

_templates = Environment(
    loader=PackageLoader("app", "templates/email"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def render(kind: str, language: Language, context: dict[str, Any]) -> dict[str, str]:
    """The subject, text and HTML of the email `kind`, in `language`."""
    text = _templates.get_template(f"{language.value}/{kind}.txt").make_module(context)
    subject = " ".join(str(getattr(text, "subject", "")).split())
    html = _templates.get_template(f"{language.value}/{kind}.html").render(
        {**context, "subject": subject, "language": language.value}
    )
    body = str(text).strip() + "\n"
    if "unsubscribe_url" in context:
        footer = _templates.get_template(f"{language.value}/_unsubscribe.txt").render(context)
        body += "\n" + footer.strip() + "\n"
    return {"subject": subject, "text": body, "html": html}


class Emails:
    """Queues the accounts emails in the caller's transaction."""

    def __init__(self, db: Session, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def verification(self, to: str, language: Language, token: str) -> None:
        ttl_hours = self.settings.EMAIL_VERIFICATION_TTL_HOURS
        self._with_link("verification", "verify-email", to, language, token, ttl_hours=ttl_hours)

    def account_exists(self, to: str, language: Language) -> None:
        self.queue("account_exists", to, language, forgot_url=self._forgot_url())

    def password_reset(self, to: str, language: Language, token: str) -> None:
        ttl = self.settings.PASSWORD_RESET_TTL_MINUTES
        self._with_link("password_reset", "reset-password", to, language, token, ttl_minutes=ttl)

    def password_changed(self, to: str, language: Language) -> None:
        self.queue("password_changed", to, language, forgot_url=self._forgot_url())

    def invitation(
        self, to: str, language: Language, token: str, company_name: str, role: str
    ) -> None:
        self._with_link(
            "invitation",
            "accept-invitation",
            to,
            language,
            token,
            company_name=company_name,
            role=role,
            ttl_days=self.settings.INVITATION_TTL_DAYS,
        )

    def _with_link(
        self, kind: str, path: str, to: str, language: Language, token: str, **context: Any
    ) -> None:
        link = f"{self.settings.PUBLIC_BASE_URL}/{path}?token={token}"
        self.queue(kind, to, language, link=link, token=token, **context)

    def queue(self, kind: str, to: str, language: Language, **context: Any) -> None:
        """Render the email `kind` for `to` and add it to the outbox in this transaction."""
        outbox.enqueue(
            self.db,
            self.settings,
            channel=CHANNEL,
            kind=kind,
            recipient=to,
            payload=render(kind, language, context),
        )

    def _forgot_url(self) -> str:
        return f"{self.settings.PUBLIC_BASE_URL}/forgot-password"


class EmailChannel(Channel):
    name = CHANNEL

    def __init__(self, transport: MailTransport, sender: str) -> None:
        self.transport = transport
        self.sender = sender

    def send(self, message: OutboxMessage) -> None:
        self.transport.send(self.compose(message))

    def compose(self, message: OutboxMessage) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.recipient
        email["Subject"] = message.payload["subject"]
        email["Date"] = formatdate(localtime=False)
        # The same id on every attempt: a receiver that got an attempt the outbox could
        # not record as sent (the worker died after the server accepted it) sees a duplicate.
        email["Message-ID"] = f"<{message.id}@outbox.arvlite>"
        for header, value in message.payload.get("headers", {}).items():
            email[header] = value
        email.set_content(message.payload["text"])
        email.add_alternative(message.payload["html"], subtype="html")
        return email
