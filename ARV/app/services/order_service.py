"""A company's orders: placed from the catalogue (each line copies the product's name,
price and VAT as they are now), idempotent per `Idempotency-Key`, moved only through the
state machine (`order_states`), each step in the order's timeline. See
ARV/docs/payments.md."""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.core.exceptions import (
    IdempotencyKeyReusedError,
    OrderInvalidError,
    ProductUnavailableError,
)
from app.models.billing import (
    Entitlement,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Product,
    ProductKind,
    Refund,
)
from app.schemas.billing import OrderCreate, OrderItem
from app.services import order_states
from app.services.order_totals import line_amounts, order_amounts
from app.services.pagination import PageParams, ResultPage, paginate
from app.services.tenant import TenantService
from app.utils.clock import utcnow


@dataclass(frozen=True, slots=True)
class OrderFilters:
    status: OrderStatus | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    kind: ProductKind | None = None


@dataclass(frozen=True, slots=True)
class Placed:
    """An order, and whether this request created it (False: the same Idempotency-Key and
    body placed it before)."""

    order: Order
    created: bool


class OrderService(TenantService):
    def place(self, body: OrderCreate, idempotency_key: str | None) -> Placed:
        digest = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
        if idempotency_key is not None:
            earlier = self._placed_with(idempotency_key)
            if earlier is not None:
                return Placed(_same_request(earlier, digest), created=False)
        order = self._new_order(body, idempotency_key, digest)
        try:
            with self.db.begin_nested():
                self.db.add(order)
                self.db.flush()
        except IntegrityError:
            # The same key, placed by a request that committed while this one worked.
            earlier = self._placed_with(idempotency_key) if idempotency_key else None
            if earlier is None:
                raise
            return Placed(_same_request(earlier, digest), created=False)
        order_states.record(self.db, order, None, OrderStatus.DRAFT, self.ctx, "placed")
        self.audit("order.placed", "order", order.id, {"total_kopecks": order.total_kopecks})
        return Placed(order, created=True)

    def list_orders(self, filters: OrderFilters, params: PageParams) -> ResultPage[Order]:
        statement = self.scoped(Order).order_by(Order.created_at.desc(), Order.id)
        if filters.status is not None:
            statement = statement.where(Order.status == filters.status)
        if filters.created_from is not None:
            statement = statement.where(Order.created_at >= filters.created_from)
        if filters.created_to is not None:
            statement = statement.where(Order.created_at < filters.created_to)
        if filters.kind is not None:
            with_kind = self.scoped(OrderLine).where(OrderLine.kind == filters.kind)
            statement = statement.where(
                Order.id.in_(with_kind.with_only_columns(OrderLine.order_id))
            )
        return paginate(self.db, statement, params)

    def get(self, order_id: uuid.UUID, *, for_update: bool = False) -> Order:
        return self.get_owned(Order, order_id, "Order", for_update=for_update)

    def timeline(self, order_id: uuid.UUID) -> list[OrderEvent]:
        self.get(order_id)
        statement = (
            self.scoped(OrderEvent)
            .where(OrderEvent.order_id == order_id)
            .order_by(OrderEvent.at, OrderEvent.id)
        )
        return list(self.db.scalars(statement))

    def refunds(self, order_id: uuid.UUID) -> list[Refund]:
        self.get(order_id)
        statement = (
            self.scoped(Refund)
            .where(Refund.order_id == order_id)
            .order_by(Refund.created_at, Refund.id)
        )
        return list(self.db.scalars(statement))

    def entitlements(self, in_force_only: bool, params: PageParams) -> ResultPage[Entitlement]:
        """What paid orders gave the company, the latest first."""
        statement = self.scoped(Entitlement).order_by(Entitlement.starts_at.desc(), Entitlement.id)
        if in_force_only:
            statement = statement.where(*Entitlement.in_force(utcnow()))
        return paginate(self.db, statement, params)

    def cancel(self, order_id: uuid.UUID, reason: str | None) -> Order:
        order = self.get(order_id, for_update=True)
        order_states.move(self.db, order, OrderStatus.CANCELLED, self.ctx, reason or "cancelled")
        self.audit("order.cancelled", "order", order.id, {"reason": reason})
        return order

    def _placed_with(self, idempotency_key: str) -> Order | None:
        placed: Order | None = self.db.scalar(
            self.scoped(Order).where(Order.idempotency_key == idempotency_key)
        )
        return placed

    def _new_order(self, body: OrderCreate, idempotency_key: str | None, digest: str) -> Order:
        products = self._products(body.items)
        return new_order(
            self.ctx.company_id,
            [(products[item.product_id], item.quantity) for item in body.items],
            created_by_id=self.ctx.user.id,
            idempotency_key=idempotency_key,
            digest=digest,
        )

    def _products(self, items: list[OrderItem]) -> dict[uuid.UUID, Product]:
        ids = [item.product_id for item in items]
        if len(set(ids)) != len(ids):
            raise OrderInvalidError(
                "A product appears on two lines; order it once with its quantity.",
                details={"reason": "duplicate_product"},
            )
        found = {
            product.id: product
            for product in self.db.scalars(select(Product).where(Product.id.in_(ids)))
        }
        for product_id in ids:
            product = found.get(product_id)
            if product is None or not product.active:
                raise ProductUnavailableError(
                    "This product is not on sale.", details={"product_id": str(product_id)}
                )
        if sum(1 for product in found.values() if product.kind is ProductKind.PLAN) > 1:
            raise OrderInvalidError(
                "An order holds one plan at most.", details={"reason": "several_plans"}
            )
        if len({product.vat_included for product in found.values()}) > 1:
            # Its invoice states VAT one way for the whole document.
            raise OrderInvalidError(
                "Products priced with VAT and products priced without it are ordered apart.",
                details={"reason": "mixed_vat_modes"},
            )
        return found


def new_order(
    company_id: uuid.UUID,
    items: list[tuple[Product, int]],
    *,
    created_by_id: uuid.UUID | None,
    idempotency_key: str | None,
    digest: str | None,
) -> Order:
    """A draft order of `items` (product, quantity), each line priced as the catalogue
    says now."""
    lines = [
        _line(position, product, quantity) for position, (product, quantity) in enumerate(items)
    ]
    amounts = order_amounts(
        line_amounts(line.unit_price_kopecks, line.quantity, line.vat_rate, line.vat_included)
        for line in lines
    )
    order = Order(
        id=uuid.uuid4(),
        company_id=company_id,
        status=OrderStatus.DRAFT,
        net_kopecks=amounts.net_kopecks,
        vat_kopecks=amounts.vat_kopecks,
        total_kopecks=amounts.total_kopecks,
        idempotency_key=idempotency_key,
        request_digest=digest,
        created_by_id=created_by_id,
        lines=lines,
    )
    for line in lines:
        line.company_id = company_id
    return order


def _line(position: int, product: Product, quantity: int) -> OrderLine:
    amounts = line_amounts(product.price_kopecks, quantity, product.vat_rate, product.vat_included)
    return OrderLine(
        position=position,
        product_id=product.id,
        product_code=product.code,
        name=product.name,
        kind=product.kind,
        plan_code=product.plan_code,
        product_quantity=product.quantity,
        period=product.period,
        quantity=quantity,
        unit_price_kopecks=product.price_kopecks,
        vat_rate=product.vat_rate,
        vat_included=product.vat_included,
        net_kopecks=amounts.net_kopecks,
        vat_kopecks=amounts.vat_kopecks,
        total_kopecks=amounts.total_kopecks,
    )


def _same_request(order: Order, digest: str) -> Order:
    if order.request_digest != digest:
        raise IdempotencyKeyReusedError(
            "This Idempotency-Key was used for another order; use a new key for a new order.",
            details={"order_id": str(order.id)},
        )
    return order
