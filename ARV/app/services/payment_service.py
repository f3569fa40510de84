"""Paying orders through YooKassa: starting a payment for an order (the order then waits
for it), and acting on YooKassa's notifications, trusting nothing in them but the payment
id: the payment is read back from the API, must name our order and its amount, and each
(payment, event, status) is acted on once, with the order's row locked. See
ARV/docs/payments.md#payments."""

import ipaddress
import logging
import uuid
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.exceptions import (
    OrderInvalidError,
    PaymentProviderError,
    WebhookSourceRefusedError,
)
from app.models.billing import (
    CURRENCY,
    Order,
    OrderStatus,
    Payment,
    PaymentProvider,
    PaymentStatus,
    ProcessedPaymentEvent,
    Refund,
)
from app.services import order_states
from app.services.context import SystemActor
from app.services.tenant import (
    ScopedService,
    SettingsTenantService,
    for_each_company,
    system_scope,
)
from app.services.yookassa import ProviderPayment, YooKassaClient

logger = logging.getLogger(__name__)
OPEN_ORDER = (OrderStatus.DRAFT, OrderStatus.PAYMENT_FAILED)


class PaymentService(SettingsTenantService):
    def start(self, order_id: uuid.UUID, return_url: str | None) -> Payment:
        """The payment the payer is sent to. Asking again while it is open answers the same
        one; a retry after a failure reuses the attempt's key, so YooKassa answers the
        payment it may already have created instead of a second one."""
        order = self.get_owned(Order, order_id, "Order", for_update=True)
        if order.status is OrderStatus.PENDING_PAYMENT:
            open_payment = self._latest(order)
            if open_payment is not None and open_payment.status is PaymentStatus.PENDING:
                return open_payment
        if order.total_kopecks <= 0:
            raise OrderInvalidError("This order has nothing to pay.", details={"reason": "free"})
        order_states.move(self.db, order, OrderStatus.PENDING_PAYMENT, self.ctx, "payment started")
        attempt = self._attempts(order)
        payment = Payment(
            company_id=order.company_id,
            order_id=order.id,
            provider=PaymentProvider.YOOKASSA,
            idempotence_key=f"{order.id}-{attempt}",
            amount_kopecks=order.total_kopecks,
        )
        answer = YooKassaClient(self.settings).create_payment(
            order,
            self.ctx.user.email,
            return_url or self.settings.YOOKASSA_RETURN_URL or self.settings.PUBLIC_BASE_URL,
            payment.idempotence_key,
        )
        payment.provider_payment_id = answer.id
        payment.status = answer.status
        payment.confirmation_url = answer.confirmation_url
        self.db.add(payment)
        self.db.flush()
        self.audit("payment.started", "payment", payment.id, {"order_id": str(order.id)})
        return payment

    def _latest(self, order: Order) -> Payment | None:
        latest: Payment | None = self.db.scalar(
            self.scoped(Payment)
            .where(Payment.order_id == order.id)
            .order_by(Payment.created_at.desc(), Payment.id)
            .limit(1)
        )
        return latest

    def _attempts(self, order: Order) -> int:
        counted = self.scoped(Payment).where(Payment.order_id == order.id)
        return self.db.scalar(select(func.count()).select_from(counted.subquery())) or 0


class Outcome(StrEnum):
    """What a notification did."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    # Not one of ours, or YooKassa's answer does not match it: nothing changed.
    IGNORED = "ignored"


def handle_notification(
    db: Session, settings: Settings, client_ip: str, payment_id: str, event: str
) -> Outcome:
    """Act once on what YooKassa says of `payment_id` now (the notification only says
    "look again")."""
    _check_source(settings, client_ip)
    client = YooKassaClient(settings)
    return act_on(db, client, client.get_payment(payment_id), event)


def act_on(db: Session, client: YooKassaClient, fetched: ProviderPayment, event: str) -> Outcome:
    """Act once on `fetched` (a payment as YooKassa reports it now), for `event`."""
    # The one read before a scope: the payment is how a notification learns its company.
    row_id = db.scalar(select(Payment.id).where(Payment.provider_payment_id == fetched.id))
    scope = system_scope(db, Payment, row_id, "payments.notification") if row_id else None
    if scope is None or row_id is None:
        logger.warning("payment notification for an unknown payment", extra={"id": fetched.id})
        return Outcome.IGNORED
    payment = scope.get_owned(Payment, row_id, "Payment")
    if not _matches(payment, fetched):
        payment.flagged = "YooKassa's payment does not match ours (order, amount or currency)"
        logger.warning("payment notification does not match", extra={"id": fetched.id})
        return Outcome.IGNORED
    order = scope.get_owned(Order, payment.order_id, "Order", for_update=True)
    if not _first_time(db, fetched, event):
        return Outcome.DUPLICATE
    _apply(scope, client, order, payment, fetched)
    return Outcome.APPLIED


POLL_EVENT = "poll"


def poll_pending(sessions: sessionmaker[Session], settings: Settings, now: datetime) -> int:
    """Read back every payment still pending after PAYMENT_POLL_AFTER_MINUTES and act on
    what YooKassa says, as a notification would: a lost notification never leaves an order
    unpaid. Company by company; returns how many payments changed an order or their
    status."""
    cutoff = now - timedelta(minutes=settings.PAYMENT_POLL_AFTER_MINUTES)
    waiting = (Payment.status == PaymentStatus.PENDING, Payment.created_at < cutoff)
    client = YooKassaClient(settings)

    def poll_company(scope: ScopedService) -> int:
        ids = scope.db.scalars(
            scope.scoped(Payment).with_only_columns(Payment.provider_payment_id).where(*waiting)
        )
        acted = 0
        for provider_payment_id in [i for i in ids if i]:
            try:
                fetched = client.get_payment(provider_payment_id)
            except PaymentProviderError:
                logger.warning("payment not polled", extra={"id": provider_payment_id})
                continue
            if fetched.status is not PaymentStatus.PENDING:
                acted += act_on(scope.db, client, fetched, POLL_EVENT) is Outcome.APPLIED
        return acted

    companies = select(Payment.company_id).where(*waiting)
    return for_each_company(sessions, companies, "payments.poll", poll_company)


def _check_source(settings: Settings, client_ip: str) -> None:
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        address = None
    if address is None or not any(address in net for net in settings.YOOKASSA_WEBHOOK_NETWORKS):
        raise WebhookSourceRefusedError(details={"address": client_ip})


def _matches(payment: Payment, fetched: ProviderPayment) -> bool:
    return (
        fetched.order_id == str(payment.order_id)
        and fetched.amount_kopecks == payment.amount_kopecks
        and fetched.currency == CURRENCY
    )


def _first_time(db: Session, fetched: ProviderPayment, event: str) -> bool:
    try:
        with db.begin_nested():
            db.add(
                ProcessedPaymentEvent(
                    provider_payment_id=fetched.id, event=event, status=fetched.status.value
                )
            )
            db.flush()
    except IntegrityError:
        return False
    return True


def _apply(
    scope: ScopedService,
    client: YooKassaClient,
    order: Order,
    payment: Payment,
    fetched: ProviderPayment,
) -> None:
    actor = scope.actor
    assert isinstance(actor, SystemActor)  # noqa: S101 - system_scope builds one
    counted = payment.status is PaymentStatus.SUCCEEDED
    payment.status = fetched.status
    if counted:
        return  # a later event of a payment already counted (out of order, or another name)
    if fetched.status is PaymentStatus.SUCCEEDED:
        _succeeded(scope.db, client, order, payment, actor)
    elif fetched.status is PaymentStatus.CANCELED and order.status is OrderStatus.PENDING_PAYMENT:
        reason = f"payment canceled: {fetched.cancellation_reason or 'no reason given'}"
        order_states.move(scope.db, order, OrderStatus.PAYMENT_FAILED, actor, reason)


def _succeeded(
    db: Session, client: YooKassaClient, order: Order, payment: Payment, actor: SystemActor
) -> None:
    if order.status in (OrderStatus.PENDING_PAYMENT, OrderStatus.PAYMENT_FAILED):
        if order.status is OrderStatus.PAYMENT_FAILED:
            order_states.move(db, order, OrderStatus.PENDING_PAYMENT, actor, "a payment went on")
        paid = f"paid through YooKassa {payment.provider_payment_id}"
        order_states.move(db, order, OrderStatus.PAID, actor, paid)
        order.paid_kopecks += payment.amount_kopecks
        return
    # Paid for an order cancelled meanwhile, or paid twice: the money goes back at once.
    # Should YooKassa refuse, the notification fails and comes again; the key answers the
    # same refund.
    reason = f"paid while the order was {order.status.value}"
    refund = Refund(
        company_id=order.company_id,
        payment_id=payment.id,
        order_id=order.id,
        idempotence_key=f"refund-{payment.id}",
        amount_kopecks=payment.amount_kopecks,
        reason=reason,
    )
    answer = client.create_refund(
        payment.provider_payment_id or "", refund.amount_kopecks, reason, refund.idempotence_key
    )
    refund.provider_refund_id, refund.status = answer.id, answer.status
    db.add(refund)
    payment.flagged = f"{reason}: refunded automatically"
    logger.warning("payment refunded automatically", extra={"order": str(order.id)})
