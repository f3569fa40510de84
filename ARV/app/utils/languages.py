"""Pick a language from an HTTP Accept-Language header (RFC 9110, section 12.5.4)."""

from collections.abc import Collection

MAX_HEADER_LENGTH = 1000


def preferred_language(header: str | None, supported: Collection[str], default: str) -> str:
    """The supported language the header ranks highest (by q, then by order); `default`
    when it names none of them or cannot be read."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate((header or "")[:MAX_HEADER_LENGTH].split(",")):
        tag, _, params = item.strip().partition(";")
        primary = tag.strip().split("-")[0].lower()
        quality = _quality(params)
        if primary in supported and quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else default


def _quality(params: str) -> float:
    name, _, value = params.strip().partition("=")
    if name.strip().lower() != "q":
        return 1.0
    try:
        quality = float(value)
    except ValueError:
        return 0.0
    return quality if 0.0 <= quality <= 1.0 else 0.0
