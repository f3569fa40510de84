"""Percentiles as PostgreSQL's `percentile_cont` computes them, for SQLite (`make run`),
which has no such aggregate."""

import math
from collections.abc import Iterable


def percentile_cont(values: Iterable[float], fraction: float) -> float | None:
    """The value at `fraction` (0-1) of the sorted values, interpolated linearly between
    the two nearest; None without values."""
    ordered = sorted(values)
    if not ordered:
        return None
    position = fraction * (len(ordered) - 1)
    low, high = ordered[math.floor(position)], ordered[math.ceil(position)]
    return float(low + (high - low) * (position - math.floor(position)))
