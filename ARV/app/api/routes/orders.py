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
    NotFoundError,
    OrderInvalidError,
    OrderInvalidTransitionError,
    ProductUnavailableError,
)
from app.core.permissions import Action
from app.models.billing import OrderStatus, ProductKind
from app.schemas.billing import OrderCancel, OrderCreate, OrderEventResponse, OrderResponse
from app.schemas.common import Page
from app.services.order_service import OrderFilters, OrderService

router = APIRouter(tags=["orders"])
ORDERS = f"{TENANT}/orders"
ORDER = f"{ORDERS}/{{order_id}}"
OrderId = Annotated[uuid.UUID, Path(description="The order's id.")]
OrdersReader = Annotated[OrderService, tenant_service(OrderService, Action.BILLING_READ)]
OrdersManager = Annotated[OrderService, tenant_service(OrderService, Action.BILLING_MANAGE)]
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
    order_id: OrderId, orders: OrdersManager, body: OrderCancel | None = None
) -> OrderResponse:
    """A draft, an order waiting for its payment or one whose payment failed. A paid order is
    refunded instead (409 `order_invalid_transition`). Owners only."""
    order = orders.cancel(order_id, body.reason if body else None)
    return OrderResponse.model_validate(order)
