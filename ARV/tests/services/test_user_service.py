"""Creating users under real concurrency: two transactions on two connections."""

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, delete, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from app.core.database import session_scope
from app.core.exceptions import EmailTakenError
from app.models import User
from app.services.user_service import UserService
from tests.support.factories import unique_email
from tests.support.processes import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def committed_email(engine: Engine) -> Iterator[str]:
    email = unique_email("race")
    yield email
    with session_scope(sessionmaker(bind=engine)) as db:
        db.execute(delete(User).where(User.email == email))


def waiting_on_locks(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
            or 0
        )


def test_a_concurrent_insert_of_one_email_is_a_conflict_not_a_crash(
    engine: Engine, committed_email: str
) -> None:
    factory = sessionmaker(bind=engine)
    holder = factory()
    holder.add(User(email=committed_email))
    holder.flush()  # holds the unique key, not yet committed
    outcome: list[BaseException] = []

    def create_the_same_address() -> None:
        try:
            with session_scope(factory) as db:
                UserService(db).create(committed_email, None)
        except BaseException as error:
            outcome.append(error)

    racer = threading.Thread(target=create_the_same_address)
    racer.start()
    # The racer passed the existence check and now waits on the unique index.
    wait_until(lambda: waiting_on_locks(engine) == 1, 10, "the second insert to block")
    holder.commit()
    holder.close()
    racer.join(10)

    assert len(outcome) == 1
    assert isinstance(outcome[0], EmailTakenError)
    with Session(engine) as db:
        count = db.scalar(select(func.count()).where(User.email == committed_email))
    assert count == 1
