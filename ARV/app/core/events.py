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
    session.info.setdefault(_PENDING_KEY, []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_pending(session: Session) -> None:
    for callback in session.info.pop(_PENDING_KEY, []):
        try:
            callback()
        except Exception:
            # The data is committed; a failed side effect must not turn into a failed request.
            logger.exception("after-commit callback failed", extra={"callback": repr(callback)})


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_PENDING_KEY, None)
