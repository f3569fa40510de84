"""Dependency aliases shared by every router."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.database import session_scope
from app.services.pagination import PageParams

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_db() -> Iterator[Session]:
    """One session per request: committed when the route returns, rolled back on error.

    Declared with scope="function" below so the commit happens before the response is
    sent: a client never receives a 2xx for a write that then failed to commit.
    """
    with session_scope() as session:
        yield session


def get_page_params(
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page.")
    ] = DEFAULT_PAGE_SIZE,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="Items to skip.")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
DbSession = Annotated[Session, Depends(get_db, scope="function")]
PageParamsDep = Annotated[PageParams, Depends(get_page_params)]
