"""The SQLite fallback computes percentiles as PostgreSQL's percentile_cont does."""

import pytest

from app.utils.percentiles import percentile_cont


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [
        ([100, 200, 300, 400, 1000], 0.5, 300.0),
        ([1000, 100, 400, 200, 300], 0.9, 760.0),
        ([250, 750], 0.5, 500.0),
        ([42], 0.9, 42.0),
        ([10, 20, 30, 40], 0.0, 10.0),
        ([10, 20, 30, 40], 1.0, 40.0),
    ],
)
def test_interpolates_between_the_nearest_values(
    values: list[float], fraction: float, expected: float
) -> None:
    assert percentile_cont(values, fraction) == pytest.approx(expected)


def test_no_values_have_no_percentile() -> None:
    assert percentile_cont([], 0.5) is None
