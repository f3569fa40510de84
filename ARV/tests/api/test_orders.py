"""The catalogue and orders: platform admins keep the products, companies see what is on
sale, owners place orders (idempotently) and cancel them, owners and admins read them with
their timeline; every move follows the order state machine."""

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.database import session_scope
from app.core.exceptions import OrderInvalidTransitionError
from app.core.permissions import Role
from app.models import (
    Company,
    Order,
    OrderStatus,
    Product,
    User,
)
from app.models.audit import AuditLog
from app.schemas.billing import OrderCreate, OrderItem
from app.services import order_states
from app.services.context import CompanyContext, RequestMeta, SystemActor
from app.services.order_service import OrderService
from app.utils.clock import utcnow
from tests.support.api import assert_error
from tests.support.factories import Tenant, auth_headers, make_product, make_tenant, make_user

ADMIN_PRODUCTS = "/api/v1/admin/products"
ON_SALE = "/api/v1/catalogue/products"


def orders_url(tenant: Tenant) -> str:
    return f"/api/v1/companies/{tenant.company.id}/orders"


@pytest.fixture
def tenant(db: Session, settings: Settings) -> Tenant:
    return make_tenant(db, settings)


@pytest.fixture
def superuser(db: Session, settings: Settings) -> dict[str, str]:
    return auth_headers(db, settings, make_user(db, superuser=True))


def product_body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": f"pro-month-{uuid.uuid4().hex[:6]}",
        "name": "Pro, a month",
        "kind": "plan",
        "plan_code": "pro",
        "period": "month",
        "price_kopecks": 299_000,
        "vat_rate": "22",
    }
    return {**body, **fields}


def add_product(client: TestClient, superuser: dict[str, str], **fields: Any) -> dict[str, Any]:
    response = client.post(ADMIN_PRODUCTS, json=product_body(**fields), headers=superuser)
    assert response.status_code == 201, response.text
    product: dict[str, Any] = response.json()
    return product


# -- the catalogue ------------------------------------------------------------------------


def test_a_superuser_adds_products_and_members_see_those_on_sale(
    client: TestClient, superuser: dict[str, str], tenant: Tenant, db: Session
) -> None:
    plan = add_product(client, superuser)
    storage = add_product(
        client,
        superuser,
        code="storage-10g",
        name="10 GB more",
        kind="storage_addon",
        plan_code=None,
        period="month",
        quantity=10 * 1024**3,
        price_kopecks=49_000,
    )
    retired = add_product(client, superuser, code="old-pro", active=False)

    seen = client.get(ON_SALE, headers=tenant.headers[Role.VIEWER]).json()
    assert {p["id"] for p in seen["items"]} == {plan["id"], storage["id"]}
    assert (plan["price_kopecks"], plan["currency"]) == (299_000, "RUB")
    plans_only = client.get(ON_SALE, params={"kind": "plan"}, headers=tenant.headers[Role.OWNER])
    assert [p["id"] for p in plans_only.json()["items"]] == [plan["id"]]
    everything = client.get(ADMIN_PRODUCTS, headers=superuser).json()
    assert retired["id"] in {p["id"] for p in everything["items"]}
    audited = db.scalar(
        select(func.count()).where(
            AuditLog.action == "product.created", AuditLog.company_id.is_(None)
        )
    )
    assert audited == 3


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"plan_code": None}, "product_invalid", "plan_code"),
        ({"period": None}, "product_invalid", "period"),
        ({"quantity": 5}, "product_invalid", "quantity"),
        ({"kind": "content_pack", "plan_code": None}, "product_invalid", "quantity"),
        (
            {"kind": "print_service", "plan_code": None, "period": None, "quantity": 1},
            "product_invalid",
            "quantity",
        ),
        ({"currency": "USD"}, "currency_not_supported", None),
    ],
)
def test_a_product_must_fit_its_kind_and_be_in_roubles(
    client: TestClient,
    superuser: dict[str, str],
    fields: dict[str, Any],
    code: str,
    field: str | None,
) -> None:
    response = client.post(ADMIN_PRODUCTS, json=product_body(**fields), headers=superuser)
    error = assert_error(response, 422, code)
    if field:
        assert error["details"]["field"] == field


def test_product_codes_are_unique_and_prices_not_negative(
    client: TestClient, superuser: dict[str, str]
) -> None:
    add_product(client, superuser, code="unique-one")
    assert_error(
        client.post(ADMIN_PRODUCTS, json=product_body(code="unique-one"), headers=superuser),
        409,
        "product_code_taken",
    )
    negative = client.post(ADMIN_PRODUCTS, json=product_body(price_kopecks=-1), headers=superuser)
    assert_error(negative, 422, "validation_error")


def test_only_superusers_keep_the_catalogue(
    client: TestClient, tenant: Tenant, superuser: dict[str, str]
) -> None:
    owner = tenant.headers[Role.OWNER]
    assert_error(
        client.post(ADMIN_PRODUCTS, json=product_body(), headers=owner), 403, "permission_denied"
    )
    product = add_product(client, superuser)
    patch = client.patch(f"{ADMIN_PRODUCTS}/{product['id']}", json={"active": False}, headers=owner)
    assert_error(patch, 403, "permission_denied")
    assert_error(client.get(ON_SALE), 401, "unauthenticated")


# -- placing orders -----------------------------------------------------------------------


def test_an_order_copies_the_catalogue_and_a_later_price_change_does_not_touch_it(
    client: TestClient, superuser: dict[str, str], tenant: Tenant
) -> None:
    plan = add_product(client, superuser, price_kopecks=100_000, vat_rate="22")
    pack = add_product(
        client,
        superuser,
        code="pack-50",
        kind="content_pack",
        plan_code=None,
        period=None,
        quantity=50,
        price_kopecks=1_000,
        vat_rate="20",
    )
    body = {"items": [{"product_id": plan["id"]}, {"product_id": pack["id"], "quantity": 3}]}
    placed = client.post(orders_url(tenant), json=body, headers=tenant.headers[Role.OWNER])
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["status"] == "draft"
    assert [(line["name"], line["quantity"]) for line in order["lines"]] == [
        ("Pro, a month", 1),
        ("Pro, a month", 3),
    ]
    assert order["lines"][1]["product_quantity"] == 50
    # 1,000.00 with 22% inside (180.33), and 3 x 10.00 with 20% inside (5.00).
    assert (order["net_kopecks"], order["vat_kopecks"], order["total_kopecks"]) == (
        81_967 + 2_500,
        18_033 + 500,
        100_000 + 3_000,
    )

    client.patch(f"{ADMIN_PRODUCTS}/{plan['id']}", json={"price_kopecks": 1}, headers=superuser)
    again = client.get(f"{orders_url(tenant)}/{order['id']}", headers=tenant.headers[Role.ADMIN])
    assert again.json()["lines"][0]["unit_price_kopecks"] == 100_000
    assert again.json()["total_kopecks"] == 103_000


def test_an_order_names_products_on_sale_once_each_and_one_plan_at_most(
    client: TestClient, superuser: dict[str, str], tenant: Tenant
) -> None:
    owner = tenant.headers[Role.OWNER]
    month = add_product(client, superuser)
    year = add_product(client, superuser, period="year")
    retired = add_product(client, superuser, active=False)

    def place(*items: dict[str, Any]) -> Any:
        return client.post(orders_url(tenant), json={"items": list(items)}, headers=owner)

    assert_error(
        place({"product_id": month["id"]}, {"product_id": year["id"]}), 422, "order_invalid"
    )
    twice = place({"product_id": month["id"]}, {"product_id": month["id"]})
    assert assert_error(twice, 422, "order_invalid")["details"]["reason"] == "duplicate_product"
    for product_id in (retired["id"], str(uuid.uuid4())):
        error = assert_error(place({"product_id": product_id}), 422, "product_unavailable")
        assert error["details"]["product_id"] == product_id
    assert_error(place(), 422, "validation_error")
    assert_error(place({"product_id": month["id"], "quantity": 0}), 422, "validation_error")


def test_the_same_idempotency_key_places_one_order(
    client: TestClient, superuser: dict[str, str], tenant: Tenant
) -> None:
    product = add_product(client, superuser)
    owner = {**tenant.headers[Role.OWNER], "Idempotency-Key": "checkout-1"}
    body = {"items": [{"product_id": product["id"]}]}

    first = client.post(orders_url(tenant), json=body, headers=owner)
    retried = client.post(orders_url(tenant), json=body, headers=owner)
    assert (first.status_code, retried.status_code) == (201, 200)
    assert retried.json()["id"] == first.json()["id"]
    assert retried.headers["Idempotent-Replayed"] == "true"

    other_body = {"items": [{"product_id": product["id"], "quantity": 2}]}
    reused = client.post(orders_url(tenant), json=other_body, headers=owner)
    assert (
        assert_error(reused, 422, "idempotency_key_reused")["details"]["order_id"]
        == first.json()["id"]
    )
    listed = client.get(orders_url(tenant), headers=tenant.headers[Role.OWNER]).json()
    assert listed["total"] == 1


def test_only_owners_place_orders_and_owners_and_admins_read_them(
    client: TestClient, superuser: dict[str, str], tenant: Tenant
) -> None:
    product = add_product(client, superuser)
    body = {"items": [{"product_id": product["id"]}]}
    for role in (Role.ADMIN, Role.EDITOR, Role.VIEWER):
        assert_error(
            client.post(orders_url(tenant), json=body, headers=tenant.headers[role]),
            403,
            "permission_denied",
        )
    order = client.post(orders_url(tenant), json=body, headers=tenant.headers[Role.OWNER]).json()
    assert client.get(orders_url(tenant), headers=tenant.headers[Role.ADMIN]).json()["total"] == 1
    for role in (Role.EDITOR, Role.VIEWER):
        read = client.get(f"{orders_url(tenant)}/{order['id']}", headers=tenant.headers[role])
        assert_error(read, 403, "permission_denied")
    cancel = client.post(
        f"{orders_url(tenant)}/{order['id']}/cancel", headers=tenant.headers[Role.ADMIN]
    )
    assert_error(cancel, 403, "permission_denied")


# -- history, timeline, cancelling ---------------------------------------------------------


def test_orders_are_filtered_by_status_date_and_kind_and_paginated(
    client: TestClient, superuser: dict[str, str], tenant: Tenant, db: Session
) -> None:
    owner = tenant.headers[Role.OWNER]
    plan = add_product(client, superuser)
    pack = add_product(
        client,
        superuser,
        code="pack-5",
        kind="content_pack",
        plan_code=None,
        period=None,
        quantity=5,
    )
    placed = [
        client.post(
            orders_url(tenant), json={"items": [{"product_id": product["id"]}]}, headers=owner
        ).json()
        for product in (plan, pack, plan)
    ]
    client.post(f"{orders_url(tenant)}/{placed[0]['id']}/cancel", headers=owner)
    old = db.get(Order, uuid.UUID(placed[1]["id"]))
    assert old is not None
    old.created_at = utcnow() - timedelta(days=40)
    db.flush()

    def ids(**params: Any) -> list[str]:
        page = client.get(orders_url(tenant), params=params, headers=owner).json()
        return [order["id"] for order in page["items"]]

    assert ids() == [placed[2]["id"], placed[0]["id"], placed[1]["id"]]  # newest first
    assert ids(status="cancelled") == [placed[0]["id"]]
    assert ids(kind="content_pack") == [placed[1]["id"]]
    since = (utcnow() - timedelta(days=30)).isoformat()
    assert ids(created_from=since) == [placed[2]["id"], placed[0]["id"]]
    assert ids(created_to=since) == [placed[1]["id"]]
    assert ids(limit=1, offset=1) == [placed[0]["id"]]
    assert_error(
        client.get(orders_url(tenant), params={"status": "lost"}, headers=owner),
        422,
        "validation_error",
    )


def test_cancelling_follows_the_state_machine_and_the_timeline_says_who_and_why(
    client: TestClient, superuser: dict[str, str], tenant: Tenant
) -> None:
    owner = tenant.headers[Role.OWNER]
    product = add_product(client, superuser)
    order = client.post(
        orders_url(tenant), json={"items": [{"product_id": product["id"]}]}, headers=owner
    ).json()
    url = f"{orders_url(tenant)}/{order['id']}"

    cancelled = client.post(f"{url}/cancel", json={"reason": "Ordered by mistake"}, headers=owner)
    assert cancelled.json()["status"] == "cancelled"
    again = client.post(f"{url}/cancel", headers=owner)
    error = assert_error(again, 409, "order_invalid_transition")
    assert error["details"] == {"from": "cancelled", "to": "cancelled"}

    timeline = client.get(f"{url}/timeline", headers=tenant.headers[Role.ADMIN]).json()
    owner_id = str(tenant.users[Role.OWNER].id)
    assert [(step["from_status"], step["to_status"], step["reason"]) for step in timeline] == [
        (None, "draft", "placed"),
        ("draft", "cancelled", "Ordered by mistake"),
    ]
    assert {(step["actor_kind"], step["actor_user_id"]) for step in timeline} == {
        ("member", owner_id)
    }


def test_another_companys_order_is_not_found(
    client: TestClient, superuser: dict[str, str], tenant: Tenant, db: Session, settings: Settings
) -> None:
    product = add_product(client, superuser)
    order = client.post(
        orders_url(tenant),
        json={"items": [{"product_id": product["id"]}]},
        headers=tenant.headers[Role.OWNER],
    ).json()
    other = make_tenant(db, settings, name="Other Prints")
    for suffix in ("", "/timeline"):
        read = client.get(
            f"{orders_url(other)}/{order['id']}{suffix}", headers=other.headers[Role.OWNER]
        )
        assert_error(read, 404, "not_found")


# -- the state machine --------------------------------------------------------------------


@pytest.mark.parametrize("current", list(OrderStatus))
@pytest.mark.parametrize("target", list(OrderStatus))
def test_every_transition_is_allowed_or_refused_as_the_table_says(
    db: Session, settings: Settings, current: OrderStatus, target: OrderStatus
) -> None:
    tenant = make_tenant(db, settings)
    order = Order(
        company_id=tenant.company.id,
        status=current,
        net_kopecks=0,
        vat_kopecks=0,
        total_kopecks=0,
    )
    db.add(order)
    db.flush()
    actor = SystemActor(tenant.company.id, task="test")
    allowed = target in order_states.TRANSITIONS[current]
    if allowed:
        event = order_states.move(db, order, target, actor, "test")
        db.flush()
        assert (order.status, event.from_status, event.to_status) == (target, current, target)
        assert event.actor_kind.value == "system"
    else:
        with pytest.raises(OrderInvalidTransitionError):
            order_states.move(db, order, target, actor)
        assert order.status is current


def test_no_order_leaves_a_final_state() -> None:
    finals = {OrderStatus.CANCELLED, OrderStatus.REFUNDED}
    assert {status for status, nexts in order_states.TRANSITIONS.items() if not nexts} == finals
    reachable = {OrderStatus.DRAFT}
    for _ in OrderStatus:
        reachable |= {n for s in reachable for n in order_states.TRANSITIONS[s]}
    assert reachable == set(OrderStatus)


# -- the same key at the same moment, against PostgreSQL -------------------------------------


@pytest.fixture
def committed(engine: Engine, settings: Settings) -> Iterator[tuple[uuid.UUID, ...]]:
    """A tenant and a product in committed rows, removed afterwards."""
    with session_scope() as db:
        tenant = make_tenant(db, settings, name=f"Race {uuid.uuid4().hex[:6]}")
        product = make_product(db)
        ids = tenant.company.id, tenant.users[Role.OWNER].id, product.id
        user_ids = [user.id for user in tenant.users.values()]
    yield ids
    with session_scope() as db:
        db.execute(delete(Company).where(Company.id == ids[0]))
        db.execute(delete(Product).where(Product.id == ids[2]))
        db.execute(delete(User).where(User.id.in_(user_ids)))


def test_two_requests_with_the_same_key_at_once_place_one_order(
    committed: tuple[uuid.UUID, ...],
) -> None:
    company_id, owner_id, product_id = committed
    body = OrderCreate(items=[OrderItem(product_id=product_id)])

    def place(_: int) -> uuid.UUID:
        with session_scope() as db:
            owner = db.get(User, owner_id)
            company = db.get(Company, company_id)
            assert owner is not None
            assert company is not None
            ctx = CompanyContext(user=owner, company=company, role=Role.OWNER, meta=RequestMeta())
            return OrderService(db, ctx).place(body, "same-moment").order.id

    with ThreadPoolExecutor(max_workers=4) as pool:
        placed = list(pool.map(place, range(4)))
    assert len(set(placed)) == 1
    with session_scope() as db:
        count = db.scalar(
            select(func.count()).select_from(Order).where(Order.company_id == company_id)
        )
    assert count == 1
