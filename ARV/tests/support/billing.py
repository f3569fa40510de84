"""Orders as a company places and pays them, for billing tests: owners place, a bank
transfer recorded by support pays."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.database import session_scope
from app.core.permissions import Role
from app.models import Company, Order, OutboxMessage, PaymentProvider, Product, User
from app.schemas.billing import OrderCreate, OrderItem
from app.services import payment_service
from app.services.admin_service import PlatformActor
from app.services.context import CompanyContext, RequestMeta
from app.services.order_service import OrderService
from app.services.payment_service import BankTransfer, PaymentService
from tests.support.factories import Tenant, make_product, make_tenant, make_user


def owner(tenant: Tenant) -> CompanyContext:
    return CompanyContext(
        user=tenant.users[Role.OWNER], company=tenant.company, role=Role.OWNER, meta=RequestMeta()
    )


def place(db: Session, tenant: Tenant, *items: tuple[Product, int]) -> Order:
    body = OrderCreate(items=[OrderItem(product_id=p.id, quantity=q) for p, q in items])
    return OrderService(db, owner(tenant)).place(body, None).order


def pay_by_transfer(
    db: Session, settings: Settings, tenant: Tenant, support: PlatformActor, order: Order
) -> None:
    PaymentService(db, owner(tenant), settings).start(order.id, PaymentProvider.BANK_TRANSFER, None)
    transfer = BankTransfer(order.total_kopecks, date.today(), f"PP-{uuid.uuid4().hex[:6]}")
    payment_service.record_bank_transfer(db, settings, support, order.id, transfer)


def bought(
    db: Session,
    settings: Settings,
    tenant: Tenant,
    support: PlatformActor,
    *items: tuple[Product, int],
) -> Order:
    order = place(db, tenant, *items)
    pay_by_transfer(db, settings, tenant, support, order)
    return order


def forget(
    db: Session, company_id: uuid.UUID, product_ids: list[uuid.UUID], user_ids: list[uuid.UUID]
) -> None:
    """Remove what a test committed: the company (its orders go with it), the events and
    emails queued for it and its people, its products and users."""
    emails = select(User.email).where(User.id.in_(user_ids))
    events = [f"company:{company_id}", *(f"user:{user_id}" for user_id in user_ids)]
    db.execute(
        delete(OutboxMessage).where(
            OutboxMessage.recipient.in_(emails) | OutboxMessage.recipient.in_(events)
        )
    )
    db.execute(delete(Company).where(Company.id == company_id))
    db.execute(delete(Product).where(Product.id.in_(product_ids)))
    db.execute(delete(User).where(User.id.in_(user_ids)))


@dataclass(frozen=True, slots=True)
class Purchase:
    company_id: uuid.UUID
    owner_id: uuid.UUID
    order_id: uuid.UUID
    total_kopecks: int


@contextmanager
def committed_purchase(settings: Settings, name: str) -> Iterator[Purchase]:
    """A company that bought a month of Pro by bank transfer, committed (for tests whose
    work opens its own sessions); removed afterwards."""
    with session_scope() as db:
        tenant = make_tenant(db, settings, name=f"{name} {uuid.uuid4().hex[:6]}")
        admin = make_user(db, superuser=True)
        product = make_product(db)
        support = PlatformActor(via="api", user_id=admin.id)
        order = bought(db, settings, tenant, support, (product, 1))
        owner = tenant.users[Role.OWNER]
        made = Purchase(tenant.company.id, owner.id, order.id, order.total_kopecks)
        users = [user.id for user in tenant.users.values()] + [admin.id]
        product_id = product.id
    try:
        yield made
    finally:
        with session_scope() as db:
            forget(db, made.company_id, [product_id], users)


def told(db: Session, company_id: uuid.UUID, type_name: str) -> list[OutboxMessage]:
    """The events of `type_name` recorded for the company's members (the notifications
    dispatcher tells them later)."""
    return list(
        db.scalars(
            select(OutboxMessage).where(
                OutboxMessage.channel == "events",
                OutboxMessage.kind == type_name,
                OutboxMessage.recipient == f"company:{company_id}",
            )
        )
    )
