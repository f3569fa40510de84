"""What text the database can store. PostgreSQL refuses a NUL character in any text value,
and a lone UTF-16 surrogate cannot be encoded as UTF-8 at all: either would fail deep in a
query. Inputs are checked against this one rule where they enter (request schemas for
bodies, a middleware for the URL and headers) and refused there."""

from collections.abc import Iterable
from typing import Any

NUL = "\x00"


def unstorable_reason(text: str) -> str | None:
    """Why `text` cannot be stored, or None if it can."""
    if NUL in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate, which is not a character"
    return None


def first_unstorable(value: Any, path: tuple[str | int, ...] = ()) -> tuple[str, str] | None:
    """The first place in a decoded JSON value (keys included) holding text that cannot be
    stored, as (dotted location, reason); None when all of it can."""
    if isinstance(value, str):
        reason = unstorable_reason(value)
        return None if reason is None else (".".join(str(part) for part in path), reason)
    items: Iterable[tuple[Any, Any]]
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = first_unstorable(key, path) if isinstance(key, str) else None
        found = found or first_unstorable(item, (*path, key))
        if found is not None:
            return found
    return None
