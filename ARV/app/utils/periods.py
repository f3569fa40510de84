"""Calendar periods: a month from 31 January is the last day of February."""

import calendar
from datetime import datetime


def add_months(moment: datetime, months: int) -> datetime:
    """`moment` `months` calendar months later, on the same day, or the month's last day
    when it is shorter."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)
