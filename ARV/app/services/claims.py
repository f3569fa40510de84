"""Single-use claims: a token, a sign-in state or an invitation is used once, even when two
requests present it at the same moment.

The claim is one conditional UPDATE that stamps the row's marker column and succeeds only
while the marker is empty, so of two racing claimants exactly one gets the row back.
"""

from datetime import datetime
from typing import Any, TypeVar, overload

from sqlalchemy import ColumnElement, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.utils.clock import utcnow

Row = TypeVar("Row")
Value = TypeVar("Value")


@overload
def claim_once(
    db: Session,
    marker: InstrumentedAttribute[datetime | None],
    *where: ColumnElement[bool],
    returning: type[Row],
    expires: InstrumentedAttribute[datetime] | None = None,
    now: datetime | None = None,
) -> Row | None: ...


@overload
def claim_once(
    db: Session,
    marker: InstrumentedAttribute[datetime | None],
    *where: ColumnElement[bool],
    returning: InstrumentedAttribute[Value],
    expires: InstrumentedAttribute[datetime] | None = None,
    now: datetime | None = None,
) -> Value | None: ...


def claim_once(
    db: Session,
    marker: InstrumentedAttribute[datetime | None],
    *where: ColumnElement[bool],
    returning: Any,
    expires: InstrumentedAttribute[datetime] | None = None,
    now: datetime | None = None,
) -> Any:
    """Set `marker` to `now` on the row that `where` selects, if nobody did before and
    (with `expires`) it has not expired; the row (or the one column) asked for in
    `returning`, or None when there is no such row or it was claimed already."""
    now = now or utcnow()
    if expires is not None:
        where = (*where, expires > now)
    return db.scalar(
        update(marker.class_)
        .where(marker.is_(None), *where)
        .values({marker.key: now})
        .returning(returning)
    )
