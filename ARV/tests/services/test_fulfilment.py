"""What a paid order gives, once, and what a refund takes back: plans from the paid period,
storage and AR content add-ons, print services made by people, refunds full and partial
(usage above the new limits kept, never deleted), and refunds that never add up to more
than was paid, even asked at the same moment."""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.database import session_scope
from app.core.exceptions import (
    IdempotencyKeyReusedError,
    OrderInvalidTransitionError,
    QuotaExceededError,
    RefundInvalidError,
)
from app.models import (
    BillingPeriod,
    Entitlement,
    EntitlementKind,
    Order,
    OrderEvent,
    OrderStatus,
    Plan,
    ProductKind,
    Refund,
)
from app.services import payment_service, refund_service
from app.services.admin_service import PlatformActor
from app.services.billing_admin import BillingAdmin
from app.services.context import RequestMeta, SystemActor
from app.services.payment_service import BankTransfer
from app.services.plans import limits_for, limits_of_plan
from app.services.refund_service import PARTIAL, RefundRequest
from app.services.storage_service import reserve_storage
from app.services.tenant import ScopedService
from app.utils.clock import utcnow
from tests.support.billing import Purchase, bought, committed_purchase, place, told
from tests.support.factories import Tenant, fill_storage, make_product, make_tenant, make_user

GIB = 1024**3


@pytest.fixture
def tenant(db: Session, settings: Settings) -> Tenant:
    return make_tenant(db, settings)


@pytest.fixture
def support(db: Session) -> PlatformActor:
    return PlatformActor(via="api", user_id=make_user(db, superuser=True).id)


def given(db: Session, order: Order) -> list[Entitlement]:
    return list(db.scalars(select(Entitlement).where(Entitlement.order_id == order.id)))


def steps(db: Session, order: Order) -> list[tuple[OrderStatus | None, OrderStatus, str | None]]:
    events = db.scalars(
        select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.at)
    )
    return [(e.from_status, e.to_status, e.reason) for e in events]


def test_a_paid_plan_puts_the_company_on_it_from_the_paid_period(
    db: Session, settings: Settings, tenant: Tenant, support: PlatformActor
) -> None:
    before = utcnow()
    order = bought(db, settings, tenant, support, (make_product(db), 2))  # Pro, two months

    assert order.status is OrderStatus.FULFILLED
    assert tenant.company.plan is Plan.PRO
    [period] = given(db, order)
    assert (period.kind, period.plan_code) == (EntitlementKind.PLAN, Plan.PRO)
    assert before <= period.starts_at <= utcnow()
    assert period.ends_at is not None
    assert 59 <= (period.ends_at - period.starts_at).days <= 62
    assert limits_for(db, tenant.company) == limits_of_plan(db, Plan.PRO)
    last = steps(db, order)[-1]
    assert last[:2] == (OrderStatus.PAID, OrderStatus.FULFILLED)
    assert (last[2] or "").startswith("plan pro from ")
    assert len(told(db, tenant.company.id, "order.paid")) == 1


def test_a_paid_order_is_fulfilled_once(
    db: Session, settings: Settings, tenant: Tenant, support: PlatformActor
) -> None:
    order = bought(db, settings, tenant, support, (make_product(db), 1))
    transfer = BankTransfer(order.total_kopecks, date.today(), "again")
    with pytest.raises(OrderInvalidTransitionError):
        payment_service.record_bank_transfer(db, settings, support, order.id, transfer)
    assert len(given(db, order)) == 1
    assert order.paid_kopecks == order.total_kopecks
    assert [s[1] for s in steps(db, order)].count(OrderStatus.FULFILLED) == 1


def test_the_same_plan_bought_again_extends_the_paid_period(
    db: Session, settings: Settings, tenant: Tenant, support: PlatformActor
) -> None:
    product = make_product(db)
    first = bought(db, settings, tenant, support, (product, 1))
    second = bought(db, settings, tenant, support, (product, 1))
    [earlier], [later] = given(db, first), given(db, second)
    assert later.starts_at == earlier.ends_at
    assert earlier.revoked_at is None


def test_another_plan_replaces_the_current_one_at_once(
    db: Session, settings: Settings, tenant: Tenant, support: PlatformActor
) -> None:
    pro = bought(db, settings, tenant, support, (make_product(db), 1))
    business = make_product(db, plan_code=Plan.BUSINESS, price_kopecks=990_000)
    upgrade = bought(db, settings, tenant, support, (business, 1))
    [old], [new] = given(db, pro), given(db, upgrade)
    assert old.revoked_at is not None
    assert new.starts_at == old.revoked_at
    assert tenant.company.plan is Plan.BUSINESS


def test_add_ons_grow_the_limits_by_their_quantity(
    db: Session, settings: Settings, tenant: Tenant, support: PlatformActor
) -> None:
    storage = make_product(
        db,
        kind=ProductKind.STORAGE_ADDON,
        plan_code=None,
        quantity=10 * GIB,
        period=BillingPeriod.MONTH,
        price_kopecks=49_000,
    )
    contents = make_product(
        db, kind=ProductKind.CONTENT_PACK, plan_code=None, quantity=25, period=None
    )
    order = bought(db, settings, tenant, support, (storage, 2), (contents, 3))

    free = limits_of_plan(db, Plan.FREE)
    limits = limits_for(db, tenant.company)
    assert limits.storage_bytes == free.storage_bytes + 20 * GIB
    assert limits.max_ar_contents == free.max_ar_contents + 75
    by_kind = {e.kind: e for e in given(db, order)}
    assert by_kind[EntitlementKind.STORAGE].ends_at is not None  # a month
    assert by_kind[EntitlementKind.CONTENTS].ends_at is None  # for good
    month_later = utcnow() + timedelta(days=32)
    assert limits_for(db, tenant.company, month_later).storage_bytes == free.storage_bytes
    assert tenant.company.plan is Plan.FREE


def test_a_print_service_waits_for_people(
    db: Session, settings: Settings, tenant: Tenant, support: PlatformActor
) -> None:
    prints = make_product(
        db, kind=ProductKind.PRINT_SERVICE, plan_code=None, period=None, price_kopecks=150_000
    )
    order = bought(db, settings, tenant, support, (prints, 100))
    assert order.status is OrderStatus.PAID
    assert steps(db, order)[-1][2] == "print to make"

    BillingAdmin(db, settings, support, RequestMeta()).mark_fulfilled(order.id, "delivered")
    assert order.status is OrderStatus.FULFILLED
    assert steps(db, order)[-1][1:] == (OrderStatus.FULFILLED, "delivered")


def refund(
    db: Session,
    settings: Settings,
    support: PlatformActor,
    order: Order,
    amount: int | None,
    key: str | None = None,
) -> Refund:
    request = RefundRequest(amount, "asked by the customer", key)
    return refund_service.refund(db, settings, support, order.id, request)


def test_a_full_refund_takes_back_what_it_can_and_keeps_what_is_used(
    db: Session, settings: Settings, tenant: Tenant, support: PlatformActor
) -> None:
    order = bought(db, settings, tenant, support, (make_product(db), 1))
    free = limits_of_plan(db, Plan.FREE)
    fill_storage(db, tenant, free.storage_bytes + 3 * GIB)  # fits Pro, not Free

    made = refund(db, settings, support, order, None)

    assert made.amount_kopecks == order.total_kopecks == order.refunded_kopecks
    assert order.status is OrderStatus.REFUNDED
    assert tenant.company.plan is Plan.FREE
    assert all(e.revoked_at is not None for e in given(db, order))
    assert made.reversed == "plan pro ended"
    assert made.not_reversed is not None
    assert f"{3 * GIB} bytes stored above the quota" in made.not_reversed
    # Read-only: nothing was deleted, and nothing more fits.
    scope = ScopedService(db, SystemActor(tenant.company.id, task="test"))
    with pytest.raises(QuotaExceededError):
        reserve_storage(scope, tenant.company, 1)
    [refunded] = told(db, tenant.company.id, "refund.done")
    assert refunded.payload["data"]["not_reversed"] == made.not_reversed
    assert steps(db, order)[-1][:2] == (OrderStatus.FULFILLED, OrderStatus.REFUNDED)


def test_a_partial_refund_keeps_what_the_order_gave(
    db: Session, settings: Settings, tenant: Tenant, support: PlatformActor
) -> None:
    order = bought(db, settings, tenant, support, (make_product(db), 1))
    first = refund(db, settings, support, order, 99_000)
    assert order.status is OrderStatus.PARTIALLY_REFUNDED
    assert first.not_reversed == PARTIAL
    assert tenant.company.plan is Plan.PRO

    rest = refund(db, settings, support, order, None)
    assert rest.amount_kopecks == order.total_kopecks - 99_000
    assert order.status is OrderStatus.REFUNDED
    assert tenant.company.plan is Plan.FREE


def test_refunds_never_exceed_what_was_paid(
    db: Session, settings: Settings, tenant: Tenant, support: PlatformActor
) -> None:
    order = bought(db, settings, tenant, support, (make_product(db), 1))
    with pytest.raises(RefundInvalidError) as too_much:
        refund(db, settings, support, order, order.total_kopecks + 1)
    assert too_much.value.details["refundable_kopecks"] == order.total_kopecks
    refund(db, settings, support, order, None)
    with pytest.raises(OrderInvalidTransitionError):
        refund(db, settings, support, order, 1)
    assert order.refunded_kopecks == order.paid_kopecks


def test_an_unpaid_order_has_nothing_to_refund(
    db: Session, settings: Settings, tenant: Tenant, support: PlatformActor
) -> None:
    order = place(db, tenant, (make_product(db), 1))
    with pytest.raises(OrderInvalidTransitionError):
        refund(db, settings, support, order, None)


def test_a_refund_asked_again_with_its_key_is_the_same_refund(
    db: Session, settings: Settings, tenant: Tenant, support: PlatformActor
) -> None:
    order = bought(db, settings, tenant, support, (make_product(db), 1))
    first = refund(db, settings, support, order, 10_000, key="ticket-42")
    again = refund(db, settings, support, order, 10_000, key="ticket-42")
    assert again.id == first.id
    assert order.refunded_kopecks == 10_000
    with pytest.raises(IdempotencyKeyReusedError):
        refund(db, settings, support, order, 20_000, key="ticket-42")
    long_key = "k" * 200  # any length: the key is kept as a digest
    assert refund(db, settings, support, order, 1_000, key=long_key).amount_kopecks == 1_000


@pytest.fixture
def paid_committed(engine: Engine, settings: Settings) -> Iterator[Purchase]:
    with committed_purchase(settings, "Refunds") as purchase:
        yield purchase


def test_refunds_asked_at_the_same_moment_never_exceed_what_was_paid(
    paid_committed: Purchase, settings: Settings
) -> None:
    order_id, total = paid_committed.order_id, paid_committed.total_kopecks
    share = total * 2 // 5  # 40%: two fit, the others must be refused

    def ask(_: int) -> str:
        try:
            with session_scope() as db:
                actor = PlatformActor(via="api")
                refund_service.refund(
                    db, settings, actor, order_id, RefundRequest(share, "race", None)
                )
        except RefundInvalidError:
            return "refused"
        return "refunded"

    with ThreadPoolExecutor(max_workers=5) as pool:
        outcomes = sorted(pool.map(ask, range(5)))
    assert outcomes == ["refunded"] * 2 + ["refused"] * 3
    with session_scope() as db:
        order = db.get_one(Order, order_id)
        assert order.refunded_kopecks == 2 * share <= order.paid_kopecks
        assert order.status is OrderStatus.PARTIALLY_REFUNDED
