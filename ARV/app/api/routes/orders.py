"""A company's orders: placed from the catalogue, idempotent per Idempotency-Key, moved
through the order state machine with a timeline. See ARV/docs/payments.md."""

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response, status

from app.api.deps import PageParamsDep, tenant_service
from app.api.openapi import raises
from app.api.routes.tenant_common import TENANT
from app.core.exceptions import (
    IdempotencyKeyReusedError,
    InvoiceNotFailedError,
    NotFoundError,
    OrderInvalidError,
    OrderInvalidTransitionError,
    ProductUnavailableError,
)
from app.core.permissions import Action
from app.models.billing import OrderStatus, ProductKind
from app.schemas.billing import (
    EntitlementResponse,
    InvoiceResponse,
    OrderCreate,
    OrderEventResponse,
    OrderNote,
    OrderResponse,
    RefundResponse,
)
from app.schemas.common import Page
from app.services.invoice_service import InvoiceService, InvoiceView
from app.services.order_service import OrderFilters, OrderService

router = APIRouter(tags=["orders"])
ORDERS = f"{TENANT}/orders"
ORDER = f"{ORDERS}/{{order_id}}"
OrderId = Annotated[uuid.UUID, Path(description="The order's id.")]
OrdersReader = Annotated[OrderService, tenant_service(OrderService, Action.BILLING_READ)]
OrdersManager = Annotated[OrderService, tenant_service(OrderService, Action.BILLING_MANAGE)]
InvoicesReader = Annotated[InvoiceService, tenant_service(InvoiceService, Action.BILLING_READ)]
InvoicesManager = Annotated[InvoiceService, tenant_service(InvoiceService, Action.BILLING_MANAGE)]
REPLAYED_HEADER = "Idempotent-Replayed"


@router.post(
    ORDERS,
    status_code=status.HTTP_201_CREATED,
    summary="Place an order",
    responses={200: {"model": OrderResponse, "description": "Placed before with this key."}},
)
@raises(ProductUnavailableError, OrderInvalidError, IdempotencyKeyReusedError)
def place_order(
    body: OrderCreate,
    orders: OrdersManager,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=255,
            description="Makes retrying safe: the same key with the same body answers the "
            "order placed the first time (200, `Idempotent-Replayed: true`); with another "
            "body, 422 `idempotency_key_reused`.",
        ),
    ] = None,
) -> OrderResponse:
    """A draft order of catalogue products on sale, one line each (the quantity of a plan
    counts its periods). Each line copies the product's name, price and VAT as they are
    now: later catalogue changes never alter the order. Totals are computed per line,
    rounded to the kopeck. Owners only."""
    placed = orders.place(body, idempotency_key)
    if not placed.created:
        response.status_code = status.HTTP_200_OK
        response.headers[REPLAYED_HEADER] = "true"
    return OrderResponse.model_validate(placed.order)


@router.get(ORDERS, summary="List orders")
def list_orders(
    orders: OrdersReader,
    page: PageParamsDep,
    order_status: Annotated[
        OrderStatus | None, Query(alias="status", description="Only orders in this state.")
    ] = None,
    created_from: Annotated[
        datetime | None, Query(description="Placed at or after (ISO 8601, with offset).")
    ] = None,
    created_to: Annotated[
        datetime | None, Query(description="Placed before (ISO 8601, with offset).")
    ] = None,
    kind: Annotated[
        ProductKind | None, Query(description="Only orders with a line of this kind.")
    ] = None,
) -> Page[OrderResponse]:
    """Newest first."""
    filters = OrderFilters(order_status, created_from, created_to, kind)
    result = orders.list_orders(filters, page)
    return Page[OrderResponse].model_validate(result, from_attributes=True)


@router.get(ORDER, summary="An order")
@raises(NotFoundError)
def read_order(order_id: OrderId, orders: OrdersReader) -> OrderResponse:
    """Its state, lines (as the catalogue said when it was placed) and amounts: net, VAT,
    total, paid and refunded, in kopecks."""
    return OrderResponse.model_validate(orders.get(order_id))


@router.get(f"{ORDER}/timeline", summary="An order's timeline")
@raises(NotFoundError)
def read_order_timeline(order_id: OrderId, orders: OrdersReader) -> list[OrderEventResponse]:
    """Every state the order went through, oldest first: from which state to which, who
    (a member, the system, support) or what moved it, when and why."""
    return [OrderEventResponse.model_validate(event) for event in orders.timeline(order_id)]


@router.post(f"{ORDER}/cancel", summary="Cancel an order")
@raises(NotFoundError, OrderInvalidTransitionError)
def cancel_order(
    order_id: OrderId, orders: OrdersManager, body: OrderNote | None = None
) -> OrderResponse:
    """A draft, an order waiting for its payment or one whose payment failed. A paid order is
    refunded instead (409 `order_invalid_transition`). Owners only."""
    order = orders.cancel(order_id, body.reason if body else None)
    return OrderResponse.model_validate(order)


@router.get(f"{ORDER}/refunds", summary="An order's refunds")
@raises(NotFoundError)
def list_order_refunds(order_id: OrderId, orders: OrdersReader) -> list[RefundResponse]:
    """Oldest first, each with what it took back from the company (`reversed`) and what it
    could not (`not_reversed`)."""
    return [RefundResponse.model_validate(refund) for refund in orders.refunds(order_id)]


@router.get(f"{ORDER}/invoice", summary="An order's invoice")
@raises(NotFoundError)
def read_invoice(order_id: OrderId, invoices: InvoicesReader) -> InvoiceResponse:
    """Issued when the order's payment starts by bank transfer, or when it is paid. Its
    number runs per company and year without gaps. Once `ready`, `download_url` is a signed
    link to the PDF, valid until `download_expires_at`; ask again for a fresh one. 404 for
    an order without an invoice yet."""
    return _invoice(invoices.for_order(order_id))


@router.post(f"{ORDER}/invoice/retry", summary="Make a failed invoice's PDF again")
@raises(NotFoundError, InvoiceNotFailedError)
def retry_invoice(order_id: OrderId, invoices: InvoicesManager) -> InvoiceResponse:
    """Only for an invoice whose PDF failed (`last_error` says why); its number stays.
    Owners only."""
    return _invoice(invoices.retry(order_id))


def _invoice(view: InvoiceView) -> InvoiceResponse:
    return InvoiceResponse.model_validate(
        {
            **InvoiceResponse.model_validate(view.invoice).model_dump(),
            "download_url": view.download_url,
            "download_expires_at": view.download_expires_at,
        }
    )


@router.get(f"{TENANT}/entitlements", summary="What the company bought")
def list_entitlements(
    orders: OrdersReader,
    page: PageParamsDep,
    in_force: Annotated[
        bool, Query(description="Only what is in force now (not ended, not refunded).")
    ] = False,
) -> Page[EntitlementResponse]:
    """What paid orders gave the company: plan periods (with the renewal order created
    ahead of their end), storage and AR contents on top of the plan. Latest first."""
    result = orders.entitlements(in_force, page)
    return Page[EntitlementResponse].model_validate(result, from_attributes=True)
