"""Password rules that a schema cannot express: byte length and well-known passwords."""

from functools import lru_cache
from pathlib import Path

_COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")


@lru_cache
def _common_passwords() -> frozenset[str]:
    return frozenset(_COMMON_PASSWORDS_FILE.read_text().split())


def password_problem(password: str, *, email: str, min_length: int, max_bytes: int) -> str | None:
    """Why `password` is unacceptable, or None when it is fine."""
    if len(password) < min_length:
        return f"Use at least {min_length} characters."
    if len(password.encode()) > max_bytes:
        return f"Use at most {max_bytes} bytes (bcrypt ignores the rest)."
    if password.lower() in _common_passwords():
        return "This password is too common; choose another."
    if password.lower() == email.split("@", 1)[0].lower():
        return "The password must not be your email name."
    return None
