"""Side effects that must only happen once the transaction that caused them committed.

Services call `on_commit(session, fn)` to queue a Celery send or an event publication; the
callbacks run after a successful commit and are dropped on rollback, so a task never sees a
row that does not exist yet and a failed request never notifies anyone.
"""

import logging
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

logger = logging.getLogger(__name__)

_PENDING_KEY = "arv_after_commit"
Callback = Callable[[], object]


def on_commit(session: Session, callback: Callback) -> None:
    registered_in = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_PENDING_KEY, []).append((registered_in, callback))


@event.listens_for(Session, "after_commit")
def _run_pending(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint was released; the real commit is still to come
    for _, callback in session.info.pop(_PENDING_KEY, []):
        try:
            callback()
        except Exception:
            # The data is committed; a failed side effect must not turn into a failed request.
            logger.exception("after-commit callback failed", extra={"callback": repr(callback)})


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    pending = session.info.get(_PENDING_KEY)
    if pending:
        session.info[_PENDING_KEY] = [
            (registered_in, callback)
            for registered_in, callback in pending
            if not _is_within(registered_in, previous_transaction)
        ]


def _is_within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False
