"""Refunds on request: a platform admin gives back all or part of what an order was paid,
through the provider that took the money (YooKassa), or records money sent back by bank.
With the order's row locked, so refunds asked at the same moment are counted one after
another and never add up to more than was paid. A refund of everything takes back what
the order gave (`fulfilment.reverse`) and says what it could not. See
ARV/docs/payments.md#refunds."""

import hashlib
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.exceptions import (
    IdempotencyKeyReusedError,
    NotFoundError,
    OrderInvalidTransitionError,
)
from app.models.billing import (
    Order,
    OrderStatus,
    Payment,
    PaymentProvider,
    PaymentStatus,
    Refund,
)
from app.services import fulfilment, order_states
from app.services.billing_notices import BillingNotices
from app.services.order_states import OrderActor
from app.services.order_totals import refund_amount
from app.services.tenant import ScopedService, system_scope
from app.services.yookassa import YooKassaClient
from app.utils.clock import utcnow

REFUNDABLE = (OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.PARTIALLY_REFUNDED)
PARTIAL = "a partial refund takes nothing back: what the order gave is kept"


@dataclass(frozen=True, slots=True)
class RefundRequest:
    amount_kopecks: int | None
    reason: str
    # The client's Idempotency-Key: asking again with it answers the same refund.
    idempotency_key: str | None = None


def refund(
    db: Session,
    settings: Settings,
    actor: OrderActor,
    order_id: uuid.UUID,
    request: RefundRequest,
) -> Refund:
    scope = system_scope(db, Order, order_id, "payments.refund")
    if scope is None:
        raise NotFoundError.for_entity("Order", order_id)
    order = scope.get_owned(Order, order_id, "Order", for_update=True)
    key = _key(scope, order, request.idempotency_key)
    done: Refund | None = db.scalar(scope.scoped(Refund).where(Refund.idempotence_key == key))
    if done is not None:
        if request.amount_kopecks not in (None, done.amount_kopecks):
            raise IdempotencyKeyReusedError(
                "This Idempotency-Key was used for a refund of another amount.",
                details={"refund_id": str(done.id)},
            )
        return done
    if order.status not in REFUNDABLE:
        raise OrderInvalidTransitionError(
            f"An order that is {order.status.value} has nothing to refund.",
            details={"from": order.status.value, "to": OrderStatus.REFUNDED.value},
        )
    amount = refund_amount(order.paid_kopecks, order.refunded_kopecks, request.amount_kopecks)
    payment = _paying(scope, order)
    made = Refund(
        company_id=order.company_id,
        payment_id=payment.id,
        order_id=order.id,
        idempotence_key=key,
        amount_kopecks=amount,
        reason=request.reason,
        requested_by_id=actor.user_id,
        status="succeeded",
    )
    if payment.provider is PaymentProvider.YOOKASSA:
        answer = YooKassaClient(settings).create_refund(
            payment.provider_payment_id or "", amount, request.reason, key
        )
        made.provider_refund_id, made.status = answer.id, answer.status
    _account(scope, order, made, actor)
    db.add(made)
    db.flush()
    BillingNotices(db, settings).refund_done(order, made)
    return made


def _key(scope: ScopedService, order: Order, client_key: str | None) -> str:
    """The refund's idempotence key, at YooKassa too: the client's, or the order's next
    refund number (the order is locked, so two refunds never share one)."""
    if client_key is not None:
        # A digest: any key length fits the column and YooKassa's 64 characters.
        return f"{order.id}-r-{hashlib.sha256(client_key.encode()).hexdigest()[:24]}"
    counted = scope.scoped(Refund).where(Refund.order_id == order.id).subquery()
    made = scope.db.scalar(select(func.count()).select_from(counted)) or 0
    return f"{order.id}-refund-{made + 1}"


def _paying(scope: ScopedService, order: Order) -> Payment:
    """The payment that paid the order (one does: a second is refunded at once)."""
    payment: Payment = scope.db.scalars(
        scope.scoped(Payment)
        .where(
            Payment.order_id == order.id,
            Payment.status == PaymentStatus.SUCCEEDED,
            Payment.flagged.is_(None),
        )
        .order_by(Payment.created_at)
        .limit(1)
    ).one()
    return payment


def _account(scope: ScopedService, order: Order, made: Refund, actor: OrderActor) -> None:
    order.refunded_kopecks += made.amount_kopecks
    everything = order.refunded_kopecks == order.paid_kopecks
    if everything:
        reversal = fulfilment.reverse(scope, order, utcnow())
        made.reversed, made.not_reversed = reversal.reversed, reversal.not_reversed or None
    else:
        made.not_reversed = PARTIAL
    to = OrderStatus.REFUNDED if everything else OrderStatus.PARTIALLY_REFUNDED
    why = f"refunded {made.amount_kopecks} kopecks: {made.reason}"
    order_states.move(scope.db, order, to, actor, why)
