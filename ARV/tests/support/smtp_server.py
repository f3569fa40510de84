"""A real SMTP server on loopback (aiosmtpd), keeping what it receives; it can be told to
refuse the next messages with a reply code, like a greylisting or a rejecting server."""

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from app.core.config import Settings, SmtpSecurity
from tests.support.processes import free_port


@dataclass
class SmtpInbox:
    host: str
    port: int
    received: list[EmailMessage] = field(default_factory=list)
    # Replies for the next DATA commands, used up one by one ("451 4.7.1 Try later").
    refusals: list[str] = field(default_factory=list)
    # Hang the first session this long after its RCPT, as a stuck server would: a client
    # can be killed there, after it connected and before the message was sent.
    stall_first_seconds: float = 0.0
    stalled: threading.Event = field(default_factory=threading.Event)

    def to(self, recipient: str) -> list[EmailMessage]:
        return [message for message in self.received if message["To"] == recipient]

    def settings(self, settings: Settings, **overrides: Any) -> Settings:
        """`settings` sending through this server."""
        return settings.model_copy(
            update={
                "SMTP_HOST": self.host,
                "SMTP_PORT": self.port,
                "SMTP_SECURITY": SmtpSecurity.NONE,
            }
            | overrides
        )


class _Handler:
    def __init__(self, inbox: SmtpInbox) -> None:
        self.inbox = inbox

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.inbox.stall_first_seconds and not self.inbox.stalled.is_set():
            self.inbox.stalled.set()
            await asyncio.sleep(self.inbox.stall_first_seconds)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        if self.inbox.refusals:
            return self.inbox.refusals.pop(0)
        content = envelope.original_content or b""
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.inbox.received.append(message)
        return "250 2.0.0 Accepted"


@contextmanager
def serving_smtp() -> Iterator[SmtpInbox]:
    """An SMTP server on a free loopback port for the block's duration."""
    inbox = SmtpInbox(host="127.0.0.1", port=free_port())
    controller = Controller(_Handler(inbox), hostname=inbox.host, port=inbox.port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def smtp_inbox() -> Iterator[SmtpInbox]:
    with serving_smtp() as inbox:
        yield inbox
