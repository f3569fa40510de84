"""Record-then-refuse: the refused work is rolled back, the record is committed in a unit
of work of its own, and the error propagates unchanged."""

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.core.database import refuse_with_record
from app.core.exceptions import ValidationFailedError
from app.models import User
from tests.support.factories import unique_email


def test_a_refusal_keeps_its_record_and_nothing_else(
    db: Session, session_factory: sessionmaker[Session]
) -> None:
    refused, recorded = unique_email("refused"), unique_email("recorded")
    refusal = ValidationFailedError("no")
    request = session_factory()
    request.add(User(email=refused))
    request.flush()

    with pytest.raises(ValidationFailedError) as raised:
        refuse_with_record(request, refusal, lambda own: own.add(User(email=recorded)))
    request.rollback()  # what the session dependency does with any error
    request.close()

    assert raised.value is refusal
    emails = set(db.scalars(select(User.email).where(User.email.in_([refused, recorded]))))
    assert emails == {recorded}
