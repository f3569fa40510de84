"""The order state machine: which state may follow which, and the one function that moves an
order, recording each step in its timeline. See ARV/docs/payments.md#states."""

import uuid
from typing import Protocol

from sqlalchemy.orm import Session

from app.core.exceptions import OrderInvalidTransitionError
from app.models.audit import ActorKind
from app.models.billing import Order, OrderEvent, OrderStatus


class OrderActor(Protocol):
    """Who moves orders: members (`CompanyContext`), the system (tasks, verified webhooks:
    `SystemActor`) and platform admins (`PlatformActor`: a bank transfer recorded, a
    refund). Never the public."""

    @property
    def kind(self) -> ActorKind: ...

    @property
    def user_id(self) -> uuid.UUID | None: ...


S = OrderStatus
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.DRAFT: frozenset({S.PENDING_PAYMENT, S.CANCELLED}),
    S.PENDING_PAYMENT: frozenset({S.PAID, S.PAYMENT_FAILED, S.CANCELLED}),
    # A failed payment may be tried again.
    S.PAYMENT_FAILED: frozenset({S.PENDING_PAYMENT, S.CANCELLED}),
    S.PAID: frozenset({S.FULFILLED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.FULFILLED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.CANCELLED: frozenset(),
    S.REFUNDED: frozenset(),
}


def can_move(current: OrderStatus, to: OrderStatus) -> bool:
    return to in TRANSITIONS[current]


def move(
    db: Session, order: Order, to: OrderStatus, actor: OrderActor, reason: str | None = None
) -> OrderEvent:
    """Move `order` to `to` for `actor`, with the step in the timeline, or 409."""
    if not can_move(order.status, to):
        raise OrderInvalidTransitionError(
            f"An order that is {order.status.value} cannot become {to.value}.",
            details={"from": order.status.value, "to": to.value},
        )
    event = record(db, order, order.status, to, actor, reason)
    order.status = to
    return event


def record(
    db: Session,
    order: Order,
    from_status: OrderStatus | None,
    to: OrderStatus,
    actor: OrderActor,
    reason: str | None,
) -> OrderEvent:
    """One step of the order's timeline (`from_status` None: the order was created)."""
    event = OrderEvent(
        company_id=order.company_id,
        order_id=order.id,
        from_status=from_status,
        to_status=to,
        actor_kind=actor.kind,
        actor_user_id=actor.user_id,
        reason=reason,
    )
    db.add(event)
    return event
