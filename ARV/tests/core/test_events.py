from sqlalchemy.orm import Session, sessionmaker

from app.core.database import session_scope
from app.core.events import on_commit
from app.models import User


def test_callbacks_run_only_after_commit(session_factory: sessionmaker[Session]) -> None:
    fired: list[str] = []
    with session_scope(session_factory) as session:
        session.add(User(email="events@example.com"))
        on_commit(session, lambda: fired.append("sent"))
        session.flush()
        assert fired == []
    assert fired == ["sent"]


def test_callbacks_are_dropped_on_rollback(session_factory: sessionmaker[Session]) -> None:
    fired: list[str] = []
    try:
        with session_scope(session_factory) as session:
            on_commit(session, lambda: fired.append("sent"))
            raise ValueError("request failed")
    except ValueError:
        pass
    with session_scope(session_factory) as session:
        pass  # a later commit on a new session must not fire the dropped callback
    assert fired == []


def test_a_failing_callback_does_not_stop_the_others(
    session_factory: sessionmaker[Session],
) -> None:
    fired: list[str] = []

    def broken() -> None:
        raise RuntimeError("broker down")

    with session_scope(session_factory) as session:
        on_commit(session, broken)
        on_commit(session, lambda: fired.append("second"))
    assert fired == ["second"]


def test_releasing_a_savepoint_is_not_the_commit(session_factory: sessionmaker[Session]) -> None:
    fired: list[str] = []
    with session_scope(session_factory) as session:
        with session.begin_nested():
            on_commit(session, lambda: fired.append("sent"))
        assert fired == []
    assert fired == ["sent"]


def test_callbacks_of_a_rolled_back_savepoint_are_dropped(
    session_factory: sessionmaker[Session],
) -> None:
    fired: list[str] = []
    with session_scope(session_factory) as session:
        on_commit(session, lambda: fired.append("outer"))
        savepoint = session.begin_nested()
        on_commit(session, lambda: fired.append("inner"))
        savepoint.rollback()
    assert fired == ["outer"]
