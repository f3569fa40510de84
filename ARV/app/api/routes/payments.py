"""Paying orders: starting a YooKassa payment for an order, and YooKassa's notifications.
See ARV/docs/payments.md#payments."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, status

from app.api.deps import ClientIp, DbSession, SettingsDep, tenant_service
from app.api.openapi import raises
from app.api.routes.orders import ORDER
from app.core.exceptions import (
    EmailNotVerifiedError,
    NotFoundError,
    OrderInvalidError,
    OrderInvalidTransitionError,
    PaymentProviderError,
    PaymentsNotConfiguredError,
    WebhookSourceRefusedError,
)
from app.core.permissions import Action
from app.schemas.billing import (
    NotificationResult,
    PaymentResponse,
    PaymentStart,
    YooKassaNotification,
)
from app.services import payment_service
from app.services.payment_service import PaymentService

router = APIRouter(tags=["orders"])
Payer = Annotated[PaymentService, tenant_service(PaymentService, Action.BILLING_MANAGE)]
OrderId = Annotated[uuid.UUID, Path(description="The order's id.")]


@router.post(f"{ORDER}/payments", status_code=status.HTTP_201_CREATED, summary="Pay an order")
@raises(
    EmailNotVerifiedError,
    NotFoundError,
    OrderInvalidError,
    OrderInvalidTransitionError,
    PaymentProviderError,
    PaymentsNotConfiguredError,
)
def start_payment(
    order_id: OrderId, payer: Payer, body: PaymentStart | None = None
) -> PaymentResponse:
    """With `yookassa` (the default): creates a YooKassa payment for the order's total, with
    its 54-FZ receipt (the payer's email, one item per line with its VAT code); send the
    payer to `confirmation_url`. With `bank_transfer`: issues the order's invoice (see
    `GET .../invoice`) and waits for a platform admin to record the transfer. Either moves
    the order to `pending_payment`. Asking again the same way while that payment is open
    answers the same payment; after a failed payment, a new one. Owners with a confirmed email
    address only."""
    body = body or PaymentStart()
    return_url = str(body.return_url) if body.return_url else None
    return PaymentResponse.model_validate(payer.start(order_id, body.provider, return_url))


@router.post("/payments/yookassa/webhook", summary="YooKassa notifications")
@raises(WebhookSourceRefusedError, PaymentProviderError, PaymentsNotConfiguredError)
def yookassa_webhook(
    body: YooKassaNotification, db: DbSession, settings: SettingsDep, client_ip: ClientIp
) -> NotificationResult:
    """Accepted only from YooKassa's networks (YOOKASSA_WEBHOOK_NETWORKS; behind a proxy,
    the address it reports). Nothing in the body is trusted but the payment id: the payment
    is read back from YooKassa, must name our order and amount, and each payment, event and
    status is acted on once. A non-200 answer makes YooKassa try again later."""
    outcome = payment_service.handle_notification(
        db, settings, client_ip, body.object.id, body.event
    )
    return NotificationResult(outcome=outcome.value)
