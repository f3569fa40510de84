"""Paid plan periods on beat: a renewal order is created RENEWAL_NOTICE_DAYS before a
period ends, for the owners to pay (nothing is charged on its own), and a company whose
paid period ended without a renewal goes back to the free plan, keeping everything it
stored. Company by company, as the system. See ARV/docs/payments.md#renewals."""

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.models.billing import (
    BillingPeriod,
    Entitlement,
    EntitlementKind,
    OrderLine,
    OrderStatus,
    Product,
    ProductKind,
)
from app.models.company import Company, Plan
from app.services import order_states
from app.services.billing_notices import BillingNotices
from app.services.context import SystemActor
from app.services.fulfilment import plan_in_force, put_on_plan
from app.services.order_service import new_order
from app.services.plans import definition_of
from app.services.tenant import ScopedService, for_each_company, lock_company

logger = logging.getLogger(__name__)


def renew_ahead(sessions: sessionmaker[Session], settings: Settings, now: datetime) -> int:
    """Create the renewal order of every paid plan period ending within the notice."""
    horizon = now + timedelta(days=settings.RENEWAL_NOTICE_DAYS)
    ending = (
        Entitlement.kind == EntitlementKind.PLAN,
        Entitlement.revoked_at.is_(None),
        Entitlement.renewal_order_id.is_(None),
        Entitlement.ends_at > now,
        Entitlement.ends_at <= horizon,
    )

    def renew_company(scope: ScopedService) -> int:
        latest = plan_in_force(scope, now)
        candidates = scope.db.scalars(scope.scoped(Entitlement).where(*ending).with_for_update())
        # Only the last paid period is renewed: one paid ahead already renews the others.
        return sum(
            _renew(scope, settings, period)
            for period in candidates
            if latest is not None and period.id == latest.id
        )

    companies = select(Entitlement.company_id).where(*ending)
    return for_each_company(sessions, companies, "billing.renewals", renew_company)


def _renew(scope: ScopedService, settings: Settings, period: Entitlement) -> bool:
    line = scope.get_owned(OrderLine, period.order_line_id, "OrderLine")
    product = _renewal_product(scope.db, line)
    if product is None:
        logger.warning("no product on sale to renew with", extra={"period": str(period.id)})
        return False
    order = new_order(
        period.company_id,
        [(product, 1)],
        created_by_id=None,
        idempotency_key=f"renewal-{period.id}",
        digest=None,
    )
    scope.db.add(order)
    scope.db.flush()
    ends = f"{period.ends_at:%Y-%m-%d}"
    reason = f"renewal of the {period.plan_code} plan ending {ends}"
    order_states.record(scope.db, order, None, OrderStatus.DRAFT, _system(scope), reason)
    period.renewal_order_id = order.id
    plan = definition_of(scope.db, period.plan_code or Plan.FREE)
    BillingNotices(scope.db, settings).renewal_due(order, plan.name, ends)
    return True


def _renewal_product(db: Session, line: OrderLine) -> Product | None:
    """The product the period was bought with, if still on sale; else the cheapest plan
    product on sale for the same plan and period."""
    same = db.get(Product, line.product_id) if line.product_id else None
    if same is not None and same.active:
        return same
    return db.scalars(
        select(Product)
        .where(
            Product.active.is_(True),
            Product.kind == ProductKind.PLAN,
            Product.plan_code == line.plan_code,
            Product.period == (line.period or BillingPeriod.MONTH),
        )
        .order_by(Product.price_kopecks, Product.code)
        .limit(1)
    ).first()


def expire_lapsed(sessions: sessionmaker[Session], now: datetime) -> int:
    """Put back on the free plan the companies whose paid period of their plan ended with
    none following it. Limits follow at once; nothing stored is deleted."""
    lapsed = (
        select(Entitlement.company_id)
        .join(Company, Company.id == Entitlement.company_id)
        .where(
            Entitlement.kind == EntitlementKind.PLAN,
            Entitlement.revoked_at.is_(None),
            Entitlement.ends_at <= now,
            Entitlement.plan_code == Company.plan,
            Company.plan != Plan.FREE,
        )
    )

    def expire_company(scope: ScopedService) -> int:
        company_id = _system(scope).company_id
        lock_company(scope.db, company_id)
        company = scope.db.get_one(Company, company_id)
        if company.plan is Plan.FREE or plan_in_force(scope, now) is not None:
            return 0
        put_on_plan(scope, company, Plan.FREE, "the paid period ended")
        return 1

    return for_each_company(sessions, lapsed, "billing.expiry", expire_company)


def _system(scope: ScopedService) -> SystemActor:
    actor = scope.actor
    assert isinstance(actor, SystemActor)  # noqa: S101 - for_each_company builds one
    return actor
