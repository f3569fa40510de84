"""Pagination: one parameter object and one query helper every list route reuses."""

from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int
    offset: int


@dataclass(frozen=True, slots=True)
class ResultPage(Generic[T]):
    """One page of rows; routes turn it into the `Page[Schema]` response envelope."""

    items: list[T]
    total: int
    limit: int
    offset: int


def paginate(db: Session, statement: Select[T], params: PageParams) -> ResultPage[T]:
    """Run `statement` for one page and count all matching rows.

    The statement must carry a deterministic `order_by` (ending in a unique column) or
    rows could repeat or vanish between pages.
    """
    total = db.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0
    items = list(db.scalars(statement.limit(params.limit).offset(params.offset)))
    return ResultPage(items=items, total=total, limit=params.limit, offset=params.offset)
