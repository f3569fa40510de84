"""Paying orders: starting a payment for an order (the order then waits for it) through
YooKassa or by bank transfer against an invoice; acting on YooKassa's notifications,
trusting nothing in them but the payment id (the payment is read back from the API, must
name our order and its amount, and each (payment, event, status) is acted on once, with
the order's row locked); recording a bank transfer a platform admin saw arrive. A payment
that pays an order fulfils it in the same transaction. See ARV/docs/payments.md#payments."""

import ipaddress
import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.exceptions import (
    EmailNotVerifiedError,
    NotFoundError,
    OrderInvalidError,
    OrderInvalidTransitionError,
    PaymentAmountMismatchError,
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
from app.services import fulfilment, invoice_service, order_states
from app.services.billing_notices import BillingNotices
from app.services.context import SystemActor
from app.services.order_states import OrderActor
from app.services.tenant import (
    ScopedService,
    SettingsTenantService,
    for_each_company,
    system_scope,
)
from app.services.yookassa import ProviderPayment, YooKassaClient
from app.utils.clock import utcnow

logger = logging.getLogger(__name__)
OPEN_ORDER = (OrderStatus.DRAFT, OrderStatus.PAYMENT_FAILED)


class PaymentService(SettingsTenantService):
    def start(
        self, order_id: uuid.UUID, provider: PaymentProvider, return_url: str | None
    ) -> Payment:
        """The payment the payer is sent to (YooKassa), or the invoice to pay (a bank
        transfer). Asking again while it is open answers the same one; choosing the other
        way while one is open replaces an open bank transfer. A retry after a failure
        reuses the attempt's key, so YooKassa answers the payment it may already have
        created instead of a second one."""
        if not self.ctx.user.is_verified:
            raise EmailNotVerifiedError("Confirm your email address before paying.")
        order = self.get_owned(Order, order_id, "Order", for_update=True)
        open_payment = self._latest(order)
        if open_payment is not None and open_payment.status is not PaymentStatus.PENDING:
            open_payment = None
        if order.status is OrderStatus.PENDING_PAYMENT and open_payment is not None:
            if open_payment.provider is provider:
                return open_payment
            if open_payment.provider is PaymentProvider.BANK_TRANSFER:
                open_payment.status = PaymentStatus.CANCELED
        if order.total_kopecks <= 0:
            raise OrderInvalidError("This order has nothing to pay.", details={"reason": "free"})
        if order.status is not OrderStatus.PENDING_PAYMENT:
            reason = f"payment started: {provider.value}"
            order_states.move(self.db, order, OrderStatus.PENDING_PAYMENT, self.ctx, reason)
        payment = Payment(
            company_id=order.company_id,
            order_id=order.id,
            provider=provider,
            idempotence_key=f"{order.id}-{self._attempts(order)}",
            amount_kopecks=order.total_kopecks,
        )
        if provider is PaymentProvider.YOOKASSA:
            self._create_at_yookassa(order, payment, return_url)
        else:
            invoice_service.issue(self, self.settings, order, utcnow())
        self.db.add(payment)
        self.db.flush()
        self.audit(
            "payment.started",
            "payment",
            payment.id,
            {"order_id": str(order.id), "provider": provider.value},
        )
        return payment

    def _create_at_yookassa(self, order: Order, payment: Payment, return_url: str | None) -> None:
        answer = YooKassaClient(self.settings).create_payment(
            order,
            self.ctx.user.email,
            return_url or self.settings.YOOKASSA_RETURN_URL or self.settings.PUBLIC_BASE_URL,
            payment.idempotence_key,
        )
        payment.provider_payment_id = answer.id
        payment.status = answer.status
        payment.confirmation_url = answer.confirmation_url

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
    return act_on(db, settings, client, client.get_payment(payment_id), event)


def act_on(
    db: Session, settings: Settings, client: YooKassaClient, fetched: ProviderPayment, event: str
) -> Outcome:
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
    _apply(scope, settings, client, order, payment, fetched)
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
                outcome = act_on(scope.db, settings, client, fetched, POLL_EVENT)
                acted += outcome is Outcome.APPLIED
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
    settings: Settings,
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
        if order.status in OPEN_OR_WAITING:
            paid = f"paid through YooKassa {payment.provider_payment_id}"
            pay(scope, settings, order, payment, actor, paid)
        else:
            _refund_at_once(scope.db, client, order, payment)
    elif fetched.status is PaymentStatus.CANCELED and order.status is OrderStatus.PENDING_PAYMENT:
        reason = fetched.cancellation_reason or "no reason given"
        order_states.move(
            scope.db, order, OrderStatus.PAYMENT_FAILED, actor, f"payment canceled: {reason}"
        )
        BillingNotices(scope.db, settings).payment_failed(order, reason)


OPEN_OR_WAITING = (OrderStatus.PENDING_PAYMENT, OrderStatus.PAYMENT_FAILED)


def pay(
    scope: ScopedService,
    settings: Settings,
    order: Order,
    payment: Payment,
    actor: OrderActor,
    reason: str,
) -> None:
    """`payment` pays `order` (locked by the caller): the order is paid, fulfilled, gets its
    invoice if it had none, and its owners are told, all in this transaction."""
    if order.status is OrderStatus.PAYMENT_FAILED:
        order_states.move(scope.db, order, OrderStatus.PENDING_PAYMENT, actor, "a payment went on")
    order_states.move(scope.db, order, OrderStatus.PAID, actor, reason)
    order.paid_kopecks += payment.amount_kopecks
    _cancel_open_transfers(scope, order)
    now = utcnow()
    fulfilment.fulfil(scope, order, actor, now)
    invoice_service.issue(scope, settings, order, now)
    BillingNotices(scope.db, settings).order_paid(order)


def _cancel_open_transfers(scope: ScopedService, order: Order) -> None:
    """An order paid another way waits for no bank transfer any more."""
    waiting = scope.scoped(Payment).where(
        Payment.order_id == order.id,
        Payment.provider == PaymentProvider.BANK_TRANSFER,
        Payment.status == PaymentStatus.PENDING,
    )
    for transfer in scope.db.scalars(waiting):
        transfer.status = PaymentStatus.CANCELED


@dataclass(frozen=True, slots=True)
class BankTransfer:
    amount_kopecks: int
    paid_on: date
    reference: str


def record_bank_transfer(
    db: Session,
    settings: Settings,
    actor: OrderActor,
    order_id: uuid.UUID,
    transfer: BankTransfer,
) -> Payment:
    """A platform admin saw the company's transfer arrive: the order's open bank-transfer
    payment succeeds, and pays the order. The amount must be the order's total."""
    scope = system_scope(db, Order, order_id, "payments.bank_transfer")
    if scope is None:
        raise NotFoundError.for_entity("Order", order_id)
    order = scope.get_owned(Order, order_id, "Order", for_update=True)
    payment: Payment | None = db.scalar(
        scope.scoped(Payment)
        .where(
            Payment.order_id == order.id,
            Payment.provider == PaymentProvider.BANK_TRANSFER,
            Payment.status == PaymentStatus.PENDING,
        )
        .order_by(Payment.created_at.desc())
        .limit(1)
    )
    if payment is None or order.status is not OrderStatus.PENDING_PAYMENT:
        raise OrderInvalidTransitionError(
            "This order does not wait for a bank transfer.",
            details={"from": order.status.value, "to": OrderStatus.PAID.value},
        )
    if transfer.amount_kopecks != payment.amount_kopecks:
        raise PaymentAmountMismatchError(
            f"The order is for {payment.amount_kopecks} kopecks; the transfer recorded is "
            f"for {transfer.amount_kopecks}.",
            details={"expected_kopecks": payment.amount_kopecks},
        )
    payment.status = PaymentStatus.SUCCEEDED
    payment.paid_on, payment.reference = transfer.paid_on, transfer.reference
    payment.recorded_by_id = actor.user_id
    paid = f"bank transfer {transfer.reference} of {transfer.paid_on:%Y-%m-%d}"
    pay(scope, settings, order, payment, actor, paid)
    return payment


def _refund_at_once(db: Session, client: YooKassaClient, order: Order, payment: Payment) -> None:
    """Paid for an order cancelled meanwhile, or paid twice: the money goes back at once."""
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
