"""The date range every stats route takes: `?from=&to=`, whole UTC days."""

from datetime import date
from typing import Annotated

from fastapi import Query

FIRST_STATS_DAY, LAST_STATS_DAY = date(2000, 1, 1), date(2999, 12, 31)

StatsFrom = Annotated[
    date | None,
    Query(
        alias="from",
        ge=FIRST_STATS_DAY,
        le=LAST_STATS_DAY,
        description="First day; default 29 days before `to`.",
    ),
]
StatsTo = Annotated[
    date | None,
    Query(
        alias="to", ge=FIRST_STATS_DAY, le=LAST_STATS_DAY, description="Last day; default today."
    ),
]
