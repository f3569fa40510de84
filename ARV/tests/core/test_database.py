from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session, sessionmaker

from app.core.database import build_engine, session_scope
from app.models import Base, User


def test_timestamps_come_back_timezone_aware_utc(db: Session) -> None:
    moscow = timezone(timedelta(hours=3))
    user = User(email="tz@example.com", email_verified_at=datetime(2026, 1, 1, 15, tzinfo=moscow))
    db.add(user)
    db.flush()
    db.expire_all()
    loaded = db.scalars(select(User).where(User.email == "tz@example.com")).one()
    assert loaded.email_verified_at == datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert loaded.email_verified_at.tzinfo == UTC
    assert loaded.created_at.tzinfo == UTC
    assert loaded.updated_at >= loaded.created_at


def test_naive_datetimes_are_refused(db: Session) -> None:
    db.add(User(email="naive@example.com", email_verified_at=datetime(2026, 1, 1)))
    with pytest.raises(StatementError, match="naive datetime"):
        db.flush()


def test_session_scope_commits_on_success(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        session.add(User(email="kept@example.com"))
    with session_scope(session_factory) as session:
        assert session.scalar(select(User.email).where(User.email == "kept@example.com"))


def test_session_scope_rolls_back_on_error(session_factory: sessionmaker[Session]) -> None:
    def failing_unit_of_work() -> None:
        with session_scope(session_factory) as session:
            session.add(User(email="lost@example.com"))
            session.flush()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        failing_unit_of_work()
    with session_scope(session_factory) as session:
        assert session.scalar(select(User).where(User.email == "lost@example.com")) is None


def test_models_work_on_sqlite_too(tmp_path: Path) -> None:
    engine = build_engine(f"sqlite:///{tmp_path / 'zero-setup.db'}")
    Base.metadata.create_all(engine)
    with session_scope(sessionmaker(bind=engine)) as session:
        session.add(User(email="lite@example.com", email_verified_at=datetime.now(UTC)))
    with session_scope(sessionmaker(bind=engine)) as session:
        user = session.scalars(select(User)).one()
        assert user.email_verified_at is not None
        assert user.email_verified_at.tzinfo == UTC
    engine.dispose()
