from datetime import UTC, datetime

import pytest

from app.utils.periods import add_months


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (datetime(2026, 1, 15, 10, 30, tzinfo=UTC), 1, datetime(2026, 2, 15, 10, 30, tzinfo=UTC)),
        (datetime(2026, 1, 31, tzinfo=UTC), 1, datetime(2026, 2, 28, tzinfo=UTC)),
        (datetime(2028, 1, 31, tzinfo=UTC), 1, datetime(2028, 2, 29, tzinfo=UTC)),
        (datetime(2026, 11, 30, tzinfo=UTC), 3, datetime(2027, 2, 28, tzinfo=UTC)),
        (datetime(2026, 12, 1, tzinfo=UTC), 12, datetime(2027, 12, 1, tzinfo=UTC)),
        (datetime(2026, 5, 31, tzinfo=UTC), 25, datetime(2028, 6, 30, tzinfo=UTC)),
    ],
)
def test_add_months_keeps_the_day_or_takes_the_last_one(
    start: datetime, months: int, expected: datetime
) -> None:
    assert add_months(start, months) == expected
