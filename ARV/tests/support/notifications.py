"""Delivering recorded events the way the notifications worker does, for tests whose data
lives in the test's transaction, and reading what they queued."""

import uuid
from collections.abc import Sequence

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.database import session_scope
from app.models import NotificationDelivery, OutboxMessage, OutboxStatus
from app.services import notifications, push_channel
from app.services.notifications import EVENTS_CHANNEL, EventChannel
from app.services.outbox import OutboxDelivery, Outcome
from app.services.push import PushProvider
from app.services.push_channel import PushChannel
from app.utils.clock import utcnow
from tests.support.factories import Tenant


def order_paid(db: Session, settings: Settings, tenant: Tenant, number: str = "A1B2C3D4") -> None:
    """Record that an order of the tenant's company was paid, linking the order as billing
    does; the event waits in the outbox (`deliver_events` dispatches it)."""
    notifications.emit(
        db,
        settings,
        "order.paid",
        {"order_id": str(uuid.uuid4()), "order_number": number, "amount": "2 990,00 ₽"},
        company_id=tenant.company.id,
        link=f"{settings.PUBLIC_BASE_URL}/companies/{tenant.company.id}/orders/1",
    )


def deliver_events(sessions: sessionmaker[Session], settings: Settings) -> int:
    """Dispatch every event this test recorded, through the outbox's own delivery (so each
    is claimed and marked sent); how many were sent. Only this test's: PostgreSQL's `now()`
    is when the test's transaction began, so an event another test committed (and left) is
    older."""
    with session_scope(sessions) as db:
        waiting = db.execute(
            select(OutboxMessage.id, OutboxMessage.task_id).where(
                OutboxMessage.channel == EVENTS_CHANNEL,
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.created_at >= func.now(),
            )
        ).all()
    delivery = OutboxDelivery(sessions, [EventChannel(sessions, settings)], settings)
    return sum(delivery.deliver(id_, task or "").status == "sent" for id_, task in waiting)


def emails_to(db: Session, kind: str, recipients: set[str]) -> list[OutboxMessage]:
    """The emails of `kind` (an event type, or an accounts email) queued for `recipients`."""
    return list(
        db.scalars(
            select(OutboxMessage).where(
                OutboxMessage.channel == "email",
                OutboxMessage.kind == kind,
                OutboxMessage.recipient.in_(recipients),
            )
        )
    )


def _pushes_to(user_id: uuid.UUID) -> Select[tuple[OutboxMessage]]:
    """The user's pushes in the outbox (one row per device), oldest first: through the
    delivery log, which names the user (rows other tests committed are not theirs)."""
    return (
        select(OutboxMessage)
        .join(NotificationDelivery, NotificationDelivery.outbox_message_id == OutboxMessage.id)
        .where(
            OutboxMessage.channel == push_channel.CHANNEL,
            NotificationDelivery.user_id == user_id,
        )
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
    )


def pushes(sessions: sessionmaker[Session], user_id: uuid.UUID) -> list[OutboxMessage]:
    """The user's pushes queued in the outbox, as committed."""
    with session_scope(sessions) as db:
        return list(db.scalars(_pushes_to(user_id)))


def deliver_pushes(
    sessions: sessionmaker[Session],
    settings: Settings,
    providers: Sequence[PushProvider],
    user_id: uuid.UUID,
) -> list[Outcome]:
    """Deliver the user's pushes that are due now, through the outbox and these providers,
    as the notifications worker does."""
    with session_scope(sessions) as db:
        due = db.execute(
            _pushes_to(user_id)
            .with_only_columns(OutboxMessage.id, OutboxMessage.task_id)
            .where(
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.available_at <= utcnow(),
            )
        ).all()
    delivery = OutboxDelivery(sessions, [PushChannel(sessions, list(providers))], settings)
    return [delivery.deliver(id_, task or "") for id_, task in due]
