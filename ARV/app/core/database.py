"""Engine and session factory, shared by the API and Celery workers.

Sync SQLAlchemy with psycopg2: route functions that touch the database are plain `def`
and run in FastAPI's threadpool. Services `flush()`; only `session_scope()` (requests,
tasks, scripts) commits, and it rolls back on any error.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, NoReturn

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import get_settings


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
    """One unit of work: commit on success, roll back on any error, always close."""
    session = (factory or get_session_factory())()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def separate_unit_of_work(db: Session) -> Iterator[Session]:
    """A unit of work beside `db`'s, on the same database, committed when the block ends
    whatever becomes of `db`'s transaction. (Bound like `db`: to the engine in production,
    a connection of its own; to the test's connection in tests, a savepoint there.)"""
    factory = sessionmaker(
        bind=db.get_bind(), join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    with session_scope(factory) as session:
        yield session


def refuse_with_record(
    db: Session, error: Exception, record: Callable[[Session], object]
) -> NoReturn:
    """Refuse with `error`, leaving only what `record` writes (a failed sign-in in the audit
    log, a session revoked for token reuse). `db`'s own work is rolled back first, so the
    record never waits on a lock `db` holds; the record then commits in its own unit of
    work, and the error propagates as any other."""
    db.rollback()
    with separate_unit_of_work(db) as own:
        record(own)
    raise error


def insert_on_conflict(db: Session, model: type[Any]) -> postgresql.Insert | sqlite.Insert:
    """An INSERT for the session's backend that supports `on_conflict_do_nothing` and
    `on_conflict_do_update` (PostgreSQL in production, SQLite for `make run`)."""
    if db.get_bind().dialect.name == "sqlite":
        return sqlite.insert(model)
    return postgresql.insert(model)
