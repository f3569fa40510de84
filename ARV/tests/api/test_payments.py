"""Paying orders through YooKassa, against a fake YooKassa on loopback speaking its API:
starting a payment (with its receipt), and notifications trusted only once the payment is
read back: success, cancellation, a disallowed address, a body that lies, duplicates,
out-of-order and concurrent delivery, a payment for an order cancelled meanwhile (refunded
at once), and a lost notification caught by the poll."""

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.database import get_session_factory, session_scope
from app.core.permissions import Role
from app.models import (
    Company,
    Entitlement,
    EntitlementKind,
    Invoice,
    Order,
    OrderEvent,
    OrderStatus,
    Payment,
    PaymentProvider,
    Plan,
    Refund,
)
from app.schemas.billing import OrderCreate, OrderItem
from app.services.context import CompanyContext, RequestMeta
from app.services.order_service import OrderService
from app.services.payment_service import (
    Outcome,
    PaymentService,
    handle_notification,
    poll_pending,
)
from app.utils.clock import utcnow
from tests.conftest import app_on_test_transaction
from tests.support.api import assert_error
from tests.support.billing import forget, told
from tests.support.factories import Tenant, auth_headers, make_product, make_tenant, make_user
from tests.support.fake_yookassa import SECRET_KEY, SHOP_ID, FakeYooKassa

YOOKASSA_ADDRESS = "77.75.156.11"  # in the ranges YooKassa publishes
WEBHOOK = "/api/v1/payments/yookassa/webhook"


@pytest.fixture
def yookassa() -> Iterator[FakeYooKassa]:
    with FakeYooKassa() as fake:
        yield fake


@pytest.fixture
def paying_settings(settings: Settings, yookassa: FakeYooKassa) -> Settings:
    return settings.model_copy(
        update={
            "YOOKASSA_API_URL": yookassa.url,
            "YOOKASSA_SHOP_ID": SHOP_ID,
            "YOOKASSA_SECRET_KEY": SecretStr(SECRET_KEY),
            "YOOKASSA_RETURN_URL": "https://app.example.com/orders",
        }
    )


def client_from(
    settings: Settings, session_factory: sessionmaker[Session], address: str
) -> Iterator[TestClient]:
    app = app_on_test_transaction(settings, session_factory)
    with TestClient(app, raise_server_exceptions=False, client=(address, 443)) as client:
        yield client


@pytest.fixture
def client(
    paying_settings: Settings, session_factory: sessionmaker[Session]
) -> Iterator[TestClient]:
    """The owner's browser."""
    yield from client_from(paying_settings, session_factory, "203.0.113.5")


@pytest.fixture
def yookassa_side(
    paying_settings: Settings, session_factory: sessionmaker[Session]
) -> Iterator[TestClient]:
    """Requests from YooKassa's network."""
    yield from client_from(paying_settings, session_factory, YOOKASSA_ADDRESS)


@pytest.fixture
def tenant(db: Session, settings: Settings) -> Tenant:
    return make_tenant(db, settings)


@pytest.fixture
def order(client: TestClient, tenant: Tenant, db: Session) -> dict[str, Any]:
    product = make_product(db, price_kopecks=299_000)
    placed = client.post(
        f"/api/v1/companies/{tenant.company.id}/orders",
        json={"items": [{"product_id": str(product.id)}]},
        headers=tenant.headers[Role.OWNER],
    )
    assert placed.status_code == 201, placed.text
    body: dict[str, Any] = placed.json()
    return body


def order_url(tenant: Tenant, order: dict[str, Any]) -> str:
    return f"/api/v1/companies/{tenant.company.id}/orders/{order['id']}"


def pay(client: TestClient, tenant: Tenant, order: dict[str, Any]) -> Any:
    return client.post(f"{order_url(tenant, order)}/payments", headers=tenant.headers[Role.OWNER])


def current(client: TestClient, tenant: Tenant, order: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = client.get(
        order_url(tenant, order), headers=tenant.headers[Role.OWNER]
    ).json()
    return body


def test_paying_creates_a_yookassa_payment_with_its_receipt(
    client: TestClient, tenant: Tenant, order: dict[str, Any], yookassa: FakeYooKassa
) -> None:
    started = pay(client, tenant, order)
    assert started.status_code == 201, started.text
    payment = started.json()
    assert payment["confirmation_url"].endswith(f"/checkout/{yookassa.payments()[0]['id']}")
    assert current(client, tenant, order)["status"] == "pending_payment"

    [created] = [r for r in yookassa.requests if r.method == "POST"]
    assert created.headers["idempotence-key"] == f"{order['id']}-0"
    body = created.body
    assert body["amount"] == {"value": "2990.00", "currency": "RUB"}
    assert body["capture"] is True
    assert body["confirmation"] == {
        "type": "redirect",
        "return_url": "https://app.example.com/orders",
    }
    assert body["metadata"] == {"order_id": order["id"]}
    assert body["receipt"]["customer"] == {"email": tenant.users[Role.OWNER].email}
    assert body["receipt"]["items"] == [
        {
            "description": "Pro, a month",
            "quantity": "1.00",
            "amount": {"value": "2990.00", "currency": "RUB"},
            "vat_code": 11,
            "payment_subject": "service",
            "payment_mode": "full_prepayment",
        }
    ]

    again = pay(client, tenant, order)
    assert again.json()["id"] == payment["id"]
    assert len(yookassa.payments()) == 1


def test_a_successful_payment_pays_the_order_once(
    client: TestClient,
    yookassa_side: TestClient,
    tenant: Tenant,
    order: dict[str, Any],
    yookassa: FakeYooKassa,
) -> None:
    pay(client, tenant, order)
    [payment] = yookassa.payments()
    yookassa.succeed(payment["id"])
    notification = yookassa.notification(payment["id"])

    first = yookassa_side.post(WEBHOOK, json=notification)
    replayed = yookassa_side.post(WEBHOOK, json=notification)
    late = yookassa_side.post(
        WEBHOOK, json=yookassa.notification(payment["id"], "payment.waiting_for_capture")
    )
    assert [r.json()["outcome"] for r in (first, replayed, late)] == [
        "applied",
        "duplicate",
        "applied",
    ]

    paid = current(client, tenant, order)
    assert (paid["status"], paid["paid_kopecks"]) == ("fulfilled", 299_000)
    timeline = client.get(
        f"{order_url(tenant, order)}/timeline", headers=tenant.headers[Role.OWNER]
    ).json()
    assert [(s["to_status"], s["actor_kind"]) for s in timeline] == [
        ("draft", "member"),
        ("pending_payment", "member"),
        ("paid", "system"),
        ("fulfilled", "system"),
    ]
    assert timeline[-1]["reason"].startswith("plan pro from ")


def test_a_canceled_payment_fails_the_order_and_a_new_one_can_be_made(
    client: TestClient,
    yookassa_side: TestClient,
    tenant: Tenant,
    order: dict[str, Any],
    yookassa: FakeYooKassa,
) -> None:
    pay(client, tenant, order)
    [payment] = yookassa.payments()
    yookassa.cancel(payment["id"], reason="insufficient_funds")
    yookassa_side.post(WEBHOOK, json=yookassa.notification(payment["id"]))
    assert current(client, tenant, order)["status"] == "payment_failed"
    timeline = client.get(
        f"{order_url(tenant, order)}/timeline", headers=tenant.headers[Role.OWNER]
    ).json()
    assert timeline[-1]["reason"] == "payment canceled: insufficient_funds"

    retry = pay(client, tenant, order)
    assert retry.status_code == 201
    assert len(yookassa.payments()) == 2
    assert yookassa.requests[-1].headers["idempotence-key"] == f"{order['id']}-1"
    assert current(client, tenant, order)["status"] == "pending_payment"


def test_notifications_from_other_addresses_are_refused(
    paying_settings: Settings,
    session_factory: sessionmaker[Session],
    client: TestClient,
    tenant: Tenant,
    order: dict[str, Any],
    yookassa: FakeYooKassa,
) -> None:
    pay(client, tenant, order)
    [payment] = yookassa.payments()
    yookassa.succeed(payment["id"])
    outsider = next(client_from(paying_settings, session_factory, "198.51.100.7"))
    refused = outsider.post(WEBHOOK, json=yookassa.notification(payment["id"]))
    assert_error(refused, 403, "webhook_source_refused")
    assert current(client, tenant, order)["status"] == "pending_payment"


def test_a_body_that_lies_changes_nothing(
    client: TestClient,
    yookassa_side: TestClient,
    tenant: Tenant,
    order: dict[str, Any],
    yookassa: FakeYooKassa,
) -> None:
    pay(client, tenant, order)
    [payment] = yookassa.payments()
    lie = {
        "type": "notification",
        "event": "payment.succeeded",
        "object": {
            **payment,
            "status": "succeeded",
            "paid": True,
            "amount": {"value": "1.00", "currency": "RUB"},
        },
    }
    assert yookassa_side.post(WEBHOOK, json=lie).json()["outcome"] == "applied"
    assert current(client, tenant, order)["status"] == "pending_payment"  # YooKassa says pending
    unknown = {**lie, "object": {"id": str(uuid.uuid4())}}
    assert_error(yookassa_side.post(WEBHOOK, json=unknown), 503, "payment_provider_unavailable")
    assert_error(
        yookassa_side.post(WEBHOOK, json={"event": "payment.succeeded"}), 422, "validation_error"
    )


def test_a_payment_for_an_order_cancelled_meanwhile_is_refunded_automatically(
    client: TestClient,
    yookassa_side: TestClient,
    tenant: Tenant,
    order: dict[str, Any],
    yookassa: FakeYooKassa,
    db: Session,
) -> None:
    pay(client, tenant, order)
    client.post(f"{order_url(tenant, order)}/cancel", headers=tenant.headers[Role.OWNER])
    [payment] = yookassa.payments()
    yookassa.succeed(payment["id"])
    notification = yookassa.notification(payment["id"])

    yookassa.fail_next(1, 500, "/v3/refunds")  # refused once: the notification fails
    assert_error(
        yookassa_side.post(WEBHOOK, json=notification), 503, "payment_provider_unavailable"
    )
    assert yookassa.refunds() == []
    assert yookassa_side.post(WEBHOOK, json=notification).json()["outcome"] == "applied"
    assert yookassa_side.post(WEBHOOK, json=notification).json()["outcome"] == "duplicate"

    [refund] = yookassa.refunds()
    assert (refund["payment_id"], refund["amount"]["value"]) == (payment["id"], "2990.00")
    assert current(client, tenant, order)["status"] == "cancelled"
    stored = db.scalar(select(Payment).where(Payment.provider_payment_id == payment["id"]))
    assert stored is not None
    assert stored.flagged == "paid while the order was cancelled: refunded automatically"
    [kept] = db.scalars(select(Refund).where(Refund.payment_id == stored.id))
    assert (kept.provider_refund_id, kept.status, kept.amount_kopecks) == (
        refund["id"],
        "succeeded",
        299_000,
    )


def test_a_provider_failure_leaves_the_order_as_it_was_and_a_retry_uses_the_same_key(
    client: TestClient, tenant: Tenant, order: dict[str, Any], yookassa: FakeYooKassa
) -> None:
    yookassa.fail_next(1, 500)
    assert_error(pay(client, tenant, order), 503, "payment_provider_unavailable")
    assert current(client, tenant, order)["status"] == "draft"
    assert pay(client, tenant, order).status_code == 201
    keys = [r.headers.get("idempotence-key") for r in yookassa.requests if r.method == "POST"]
    assert keys == [f"{order['id']}-0", f"{order['id']}-0"]


def test_without_yookassa_settings_paying_is_refused(
    settings: Settings, session_factory: sessionmaker[Session], tenant: Tenant, db: Session
) -> None:
    plain = next(client_from(settings, session_factory, "203.0.113.5"))
    product = make_product(db)
    placed = plain.post(
        f"/api/v1/companies/{tenant.company.id}/orders",
        json={"items": [{"product_id": str(product.id)}]},
        headers=tenant.headers[Role.OWNER],
    ).json()
    assert_error(pay(plain, tenant, placed), 409, "payments_not_configured")
    assert current(plain, tenant, placed)["status"] == "draft"


# -- the same notification at the same moment, against PostgreSQL ---------------------------


@pytest.fixture
def pending(
    engine: Engine, paying_settings: Settings, yookassa: FakeYooKassa
) -> Iterator[tuple[uuid.UUID, str]]:
    """A committed order waiting for a YooKassa payment that succeeded; removed afterwards."""
    with session_scope() as db:
        tenant = make_tenant(db, paying_settings, name=f"Race {uuid.uuid4().hex[:6]}")
        product = make_product(db)
        ctx = CompanyContext(
            user=tenant.users[Role.OWNER],
            company=tenant.company,
            role=Role.OWNER,
            meta=RequestMeta(),
        )
        placed = OrderService(db, ctx).place(
            OrderCreate(items=[OrderItem(product_id=product.id)]), None
        )
        PaymentService(db, ctx, paying_settings).start(
            placed.order.id, PaymentProvider.YOOKASSA, None
        )
        ids = tenant.company.id, placed.order.id, product.id
        user_ids = [user.id for user in tenant.users.values()]
    [payment] = yookassa.payments()
    yookassa.succeed(payment["id"])
    yield ids[1], payment["id"]
    with session_scope() as db:
        forget(db, ids[0], [ids[2]], user_ids)


def test_the_same_notification_delivered_at_once_pays_the_order_once(
    pending: tuple[uuid.UUID, str], paying_settings: Settings
) -> None:
    order_id, payment_id = pending

    def deliver(_: int) -> Outcome:
        with session_scope() as db:
            return handle_notification(
                db, paying_settings, YOOKASSA_ADDRESS, payment_id, "payment.succeeded"
            )

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(deliver, range(4)))
    assert sorted(outcomes) == [Outcome.APPLIED] + [Outcome.DUPLICATE] * 3
    with session_scope() as db:
        order = db.get(Order, order_id)
        assert order is not None
        assert (order.status, order.paid_kopecks) == (OrderStatus.FULFILLED, order.total_kopecks)
        steps = list(
            db.scalars(select(OrderEvent.to_status).where(OrderEvent.order_id == order_id))
        )
        assert steps.count(OrderStatus.PAID) == steps.count(OrderStatus.FULFILLED) == 1
        given = db.scalars(select(Entitlement).where(Entitlement.order_id == order_id)).all()
        assert [(e.kind, e.plan_code) for e in given] == [(EntitlementKind.PLAN, Plan.PRO)]
        company = db.get_one(Company, order.company_id)
        assert company.plan is Plan.PRO
        invoices = db.scalars(select(Invoice.number).where(Invoice.order_id == order_id)).all()
        assert len(invoices) == 1
        assert len(told(db, order.company_id, "order.paid")) == 1


def test_a_lost_notification_is_caught_by_the_poll(
    pending: tuple[uuid.UUID, str], paying_settings: Settings
) -> None:
    order_id, payment_id = pending
    session_factory = get_session_factory()
    now = utcnow()
    assert poll_pending(session_factory, paying_settings, now) == 0  # not waiting long enough
    later = now + timedelta(minutes=paying_settings.PAYMENT_POLL_AFTER_MINUTES + 1)
    assert poll_pending(session_factory, paying_settings, later) == 1
    assert poll_pending(session_factory, paying_settings, later) == 0
    with session_scope() as db:
        order = db.get(Order, order_id)
        assert order is not None
        assert order.status is OrderStatus.FULFILLED
        late = handle_notification(
            db, paying_settings, YOOKASSA_ADDRESS, payment_id, "payment.succeeded"
        )
        assert late is Outcome.APPLIED  # acted on, changing nothing more
        assert order.paid_kopecks == order.total_kopecks


def test_support_refunds_a_card_payment_through_yookassa(
    client: TestClient,
    yookassa_side: TestClient,
    tenant: Tenant,
    order: dict[str, Any],
    yookassa: FakeYooKassa,
    db: Session,
    paying_settings: Settings,
) -> None:
    pay(client, tenant, order)
    [payment] = yookassa.payments()
    yookassa.succeed(payment["id"])
    yookassa_side.post(WEBHOOK, json=yookassa.notification(payment["id"]))
    assert current(client, tenant, order)["status"] == "fulfilled"
    support = auth_headers(db, paying_settings, make_user(db, superuser=True))
    refunds = f"/api/v1/admin/orders/{order['id']}/refunds"
    partial = {"amount_kopecks": 100_000, "reason": "one month unused"}
    keyed = {**support, "Idempotency-Key": "ticket-7"}

    yookassa.fail_next(1, 500, "/v3/refunds")
    assert_error(
        client.post(refunds, json=partial, headers=keyed), 503, "payment_provider_unavailable"
    )
    assert current(client, tenant, order)["refunded_kopecks"] == 0
    first = client.post(refunds, json=partial, headers=keyed)
    again = client.post(refunds, json=partial, headers=keyed)
    assert first.status_code == again.status_code == 200, first.text
    assert first.json()["id"] == again.json()["id"]
    [at_yookassa] = yookassa.refunds()
    assert (at_yookassa["payment_id"], at_yookassa["amount"]["value"]) == (payment["id"], "1000.00")
    assert current(client, tenant, order)["status"] == "partially_refunded"

    rest = client.post(refunds, json={"reason": "cancelled the plan"}, headers=support)
    assert rest.json()["amount_kopecks"] == 199_000
    assert rest.json()["reversed"] == "plan pro ended"
    assert [r["amount"]["value"] for r in yookassa.refunds()] == ["1000.00", "1990.00"]
    assert current(client, tenant, order)["status"] == "refunded"
    listed = client.get(f"{order_url(tenant, order)}/refunds", headers=tenant.headers[Role.ADMIN])
    assert [r["amount_kopecks"] for r in listed.json()] == [100_000, 199_000]
    assert_error(
        client.post(refunds, json=partial, headers=support), 409, "order_invalid_transition"
    )
    owner_only = client.post(refunds, json=partial, headers=tenant.headers[Role.OWNER])
    assert_error(owner_only, 403, "permission_denied")


def test_paying_needs_a_confirmed_email_address(
    client: TestClient, tenant: Tenant, order: dict[str, Any], db: Session
) -> None:
    tenant.users[Role.OWNER].email_verified_at = None
    db.flush()
    response = client.post(
        f"{order_url(tenant, order)}/payments", headers=tenant.headers[Role.OWNER]
    )
    assert_error(response, 403, "email_not_verified")
    assert current(client, tenant, order)["status"] == "draft"
