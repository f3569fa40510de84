"""Read the emails the app wrote under VAR_DIR/mail (the zero-configuration transport)."""

import re
from email import message_from_bytes
from email.message import Message
from pathlib import Path

TOKEN_LINE = re.compile(r"^Token: (\S+)$", re.MULTILINE)


def messages_to(mail_dir: Path, recipient: str) -> list[Message]:
    if not mail_dir.exists():
        return []
    found = [message_from_bytes(path.read_bytes()) for path in sorted(mail_dir.glob("*.eml"))]
    return [message for message in found if message["To"] == recipient]


def body(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def last_token(mail_dir: Path, recipient: str) -> str:
    messages = messages_to(mail_dir, recipient)
    assert messages, f"no email to {recipient}"
    match = TOKEN_LINE.search(body(messages[-1]))
    assert match, "the email carries no token"
    return match.group(1)
