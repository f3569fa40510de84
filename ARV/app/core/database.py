"""Engine and session factory, shared by the API and Celery workers.

Sync SQLAlchemy with psycopg2: route functions that touch the database are plain `def`
and run in FastAPI's threadpool. Services `flush()`; only `session_scope()` (requests,
tasks, scripts) commits, and it rolls back on any error.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import get_settings
from app.core.exceptions import AppError


def build_engine(url: str, *, pool_size: int = 10, max_overflow: int = 20) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _configure_sqlite)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=max_overflow)


def _configure_sqlite(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


@lru_cache
def get_engine() -> Engine:
    settings = get_settings()
    if settings.is_sqlite:
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
    return build_engine(
        settings.DATABASE_URL,
        pool_size=settings.DATABASE_POOL_SIZE,
        max_overflow=settings.DATABASE_MAX_OVERFLOW,
    )


@lru_cache
def get_session_factory() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session] | None = None) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error (except a domain error
    that asks to keep its changes), always close."""
    session = (factory or get_session_factory())()
    try:
        yield session
        session.commit()
    except AppError as error:
        session.commit() if error.keep_changes else session.rollback()
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def insert_on_conflict(db: Session, model: type[Any]) -> postgresql.Insert | sqlite.Insert:
    """An INSERT for the session's backend that supports `on_conflict_do_nothing` and
    `on_conflict_do_update` (PostgreSQL in production, SQLite for `make run`)."""
    if db.get_bind().dialect.name == "sqlite":
        return sqlite.insert(model)
    return postgresql.insert(model)
