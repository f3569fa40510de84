"""Platform administration of billing, for platform superusers only: the plans' limits,
bank transfers that arrived, refunds, print services made. See ARV/docs/payments.md."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path

from app.api.deps import DbSession, RequestMetaDep, SettingsDep
from app.api.openapi import raises
from app.api.routes.admin import CatalogueAdminDep, Superuser
from app.core.exceptions import (
    IdempotencyKeyReusedError,
    NotFoundError,
    OrderInvalidTransitionError,
    PaymentAmountMismatchError,
    PaymentProviderError,
    PaymentsNotConfiguredError,
    ProductInvalidError,
    RefundInvalidError,
)
from app.models.company import Plan
from app.schemas.billing import (
    BankTransferRecord,
    OrderNote,
    OrderResponse,
    PaymentResponse,
    PlanDefinitionResponse,
    PlanUpdate,
    RefundCreate,
    RefundResponse,
)
from app.services.admin_service import PlatformActor
from app.services.billing_admin import BillingAdmin
from app.services.payment_service import BankTransfer
from app.services.refund_service import RefundRequest

router = APIRouter(prefix="/admin", tags=["admin"])
ADMIN_ORDER = "/orders/{order_id}"
OrderId = Annotated[uuid.UUID, Path(description="The order's id.")]


def get_billing_admin(
    user: Superuser, db: DbSession, settings: SettingsDep, meta: RequestMetaDep
) -> BillingAdmin:
    return BillingAdmin(db, settings, PlatformActor(via="api", user_id=user.id), meta)


BillingAdminDep = Annotated[BillingAdmin, Depends(get_billing_admin)]


@router.get("/plans", summary="The plans and their limits")
def list_plans(catalogue: CatalogueAdminDep) -> list[PlanDefinitionResponse]:
    """Smallest first. Platform superusers only."""
    return [PlanDefinitionResponse.model_validate(plan) for plan in catalogue.plans()]


@router.patch("/plans/{plan_code}", summary="Change a plan's limits or features")
@raises(ProductInvalidError)
def update_plan(
    plan_code: Annotated[Plan, Path(description="The plan's code.")],
    body: PlanUpdate,
    catalogue: CatalogueAdminDep,
) -> PlanDefinitionResponse:
    """Every company on the plan gets the new limits at once; what a company already uses
    above a lowered limit is kept, and only new uploads, members or AR contents are
    refused. Recorded in the audit log. Platform superusers only."""
    return PlanDefinitionResponse.model_validate(catalogue.update_plan(plan_code, body))


@router.post(f"{ADMIN_ORDER}/bank-transfers", summary="Record a bank transfer that arrived")
@raises(NotFoundError, OrderInvalidTransitionError, PaymentAmountMismatchError)
def record_bank_transfer(
    order_id: OrderId, body: BankTransferRecord, billing: BillingAdminDep
) -> PaymentResponse:
    """For an order waiting for a bank transfer (its owner chose `bank_transfer`): the
    amount must be the order's total. The order is paid and fulfilled at once, and its
    owners are told. Recorded in the company's audit log. Platform superusers only."""
    transfer = BankTransfer(body.amount_kopecks, body.paid_on, body.reference)
    return PaymentResponse.model_validate(billing.record_bank_transfer(order_id, transfer))


@router.post(f"{ADMIN_ORDER}/refunds", summary="Refund an order")
@raises(
    NotFoundError,
    OrderInvalidTransitionError,
    RefundInvalidError,
    IdempotencyKeyReusedError,
    PaymentProviderError,
    PaymentsNotConfiguredError,
)
def refund_order(
    order_id: OrderId,
    body: RefundCreate,
    billing: BillingAdminDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=255,
            description="Makes retrying safe: the same key answers the refund made the "
            "first time, at YooKassa too; with another amount, 422 `idempotency_key_reused`.",
        ),
    ] = None,
) -> RefundResponse:
    """Gives back `amount_kopecks` (everything not yet refunded when left out) through the
    provider that took the money; for a bank transfer, records the money sent back. All
    refunds of an order never exceed what it was paid. A refund of everything takes back
    what the order gave and says, in `not_reversed`, what it could not (usage above the new
    limits is kept, never deleted). The owners are told. Platform superusers only."""
    request = RefundRequest(body.amount_kopecks, body.reason, idempotency_key)
    return RefundResponse.model_validate(billing.refund(order_id, request))


@router.post(f"{ADMIN_ORDER}/fulfil", summary="Mark a print service made")
@raises(NotFoundError, OrderInvalidTransitionError)
def fulfil_order(order_id: OrderId, body: OrderNote, billing: BillingAdminDep) -> OrderResponse:
    """A paid order with a print service stays `paid` until the print is made and handed
    over: this marks it `fulfilled`, with `reason` in its timeline. Platform superusers
    only."""
    return OrderResponse.model_validate(billing.mark_fulfilled(order_id, body.reason or "made"))
