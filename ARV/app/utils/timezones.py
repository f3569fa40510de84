"""IANA time zones for schedule windows: naming one, and reading a wall-clock time in it."""

from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

# Names the tz database carries that are not places: the server's own zone, and a
# placeholder zone abbreviated "-00".
_NOT_PLACES = frozenset({"localtime", "Factory"})


class NonexistentLocalTimeError(ValueError):
    """A wall-clock time the zone skips (the hour lost when clocks go forward)."""


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones()) - _NOT_PLACES


def zone(name: str) -> ZoneInfo:
    """The zone called `name`, or ValueError naming what was wrong."""
    if name not in _zone_names():
        raise ValueError(f"{name!r} is not an IANA time zone, e.g. 'Europe/Moscow'.")
    return ZoneInfo(name)


def to_utc(value: datetime, tz: ZoneInfo) -> datetime:
    """An aware `value` as it is; a naive one read as wall-clock time in `tz`.

    A time that occurs twice (clocks going back) means its first occurrence; a time that
    never occurs is refused rather than silently shifted by an hour."""
    if value.tzinfo is not None:
        return value.astimezone(UTC)
    local = value.replace(tzinfo=tz)
    instant = local.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != value:
        raise NonexistentLocalTimeError(
            f"{value.isoformat()} does not exist in {tz.key}: the clocks skip it."
        )
    return instant
