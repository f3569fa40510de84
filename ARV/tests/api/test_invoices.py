"""Invoices: numbered per company and year when a bank-transfer payment starts (no gap, no
duplicate, under concurrency, with a rolled-back number given back), rendered to a PDF
read back where a person sees it (its text, page one as pixels), handed out by a signed
link, retried after a failure, and paid by a transfer a platform admin records."""

import io
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from threading import Barrier
from typing import Any

import httpx2
import numpy as np
import pypdfium2 as pdfium
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import Engine, delete, select, text
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.database import get_session_factory, session_scope
from app.core.permissions import Role
from app.core.security import storage_link_key
from app.core.storage import LocalStorage, StorageProvider
from app.models import (
    Company,
    Invoice,
    InvoiceCounter,
    InvoiceStatus,
    Membership,
    Order,
    PaymentProvider,
    Product,
    ProductKind,
    User,
)
from app.schemas.billing import OrderCreate, OrderItem
from app.schemas.company_settings import LegalDetails
from app.services.context import CompanyContext, RequestMeta
from app.services.invoice_pdf import NBSP, format_roubles
from app.services.invoice_service import InvoiceRenderer
from app.services.leases import Outcome
from app.services.order_service import OrderService
from app.services.payment_service import PaymentService
from app.utils.clock import utcnow
from tests.conftest import app_on_test_transaction
from tests.support.api import assert_error
from tests.support.billing import told
from tests.support.factories import (
    Tenant,
    add_member,
    auth_headers,
    make_product,
    make_tenant,
    make_user,
)
from tests.support.notifications import deliver_events, emails_to

BASE_URL = "http://testserver"
SELLER = {
    "SELLER_LEGAL_NAME": 'ООО "Дополненная реальность"',
    "SELLER_INN": "7736207543",
    "SELLER_KPP": "770401001",
    "SELLER_ADDRESS": "119021, г. Москва, ул. Льва Толстого, д. 16",
    "SELLER_BANK_DETAILS": "БИК 044525225, р/с 40702810938000000001",
}
BUYER_NAME = 'ООО "Ромашка"'
BUYER = LegalDetails(
    legal_name=BUYER_NAME,
    inn="7707083893",
    kpp="773601001",
    address="117997, г. Москва, ул. Вавилова, д. 19",
    email="buh@romashka.example",
)
PLAN_NAME = "Тариф «Про», месяц"
PACK_NAME = "Пакет «10 AR-материалов»"
BANK_TRANSFER = {"provider": "bank_transfer"}


def year_now() -> int:
    return utcnow().year


def numbered(sequence: int) -> str:
    return f"{year_now()}-{sequence:06d}"


# -- API fixtures: the app on the test's transaction, local storage in a temporary folder ---


@pytest.fixture
def invoice_settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={
            "STORAGE_PROVIDER": "local",
            "STORAGE_LOCAL_ROOT": tmp_path / "storage",
            "API_PUBLIC_URL": BASE_URL,
            **SELLER,
        }
    )


@pytest.fixture
def app(invoice_settings: Settings, session_factory: sessionmaker[Session]) -> FastAPI:
    return app_on_test_transaction(invoice_settings, session_factory)


@pytest.fixture
def storage(app: FastAPI) -> LocalStorage:
    provider: LocalStorage = app.state.storage
    assert isinstance(provider, LocalStorage)
    return provider


@pytest.fixture
def renderer(
    session_factory: sessionmaker[Session], storage: StorageProvider, invoice_settings: Settings
) -> InvoiceRenderer:
    return InvoiceRenderer(session_factory, storage, invoice_settings)


@pytest.fixture
def tenant(db: Session, settings: Settings) -> Tenant:
    """A company with the buyer's legal details and two owners."""
    tenant = make_tenant(db, settings, name="Ромашка")
    tenant.company.settings = tenant.company.settings.model_copy(update={"legal": BUYER})
    add_member(db, tenant.company, make_user(db), Role.OWNER)
    db.flush()
    return tenant


@pytest.fixture
def superuser(db: Session, settings: Settings) -> tuple[uuid.UUID, dict[str, str]]:
    admin = make_user(db, superuser=True)
    return admin.id, auth_headers(db, settings, admin)


def owner_emails(db: Session, tenant: Tenant) -> set[str]:
    return set(
        db.scalars(
            select(User.email)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.company_id == tenant.company.id, Membership.role == Role.OWNER)
        )
    )


def order_url(tenant: Tenant, order_id: object) -> str:
    return f"/api/v1/companies/{tenant.company.id}/orders/{order_id}"


def place(client: TestClient, tenant: Tenant, items: list[dict[str, Any]]) -> dict[str, Any]:
    placed = client.post(
        f"/api/v1/companies/{tenant.company.id}/orders",
        json={"items": items},
        headers=tenant.headers[Role.OWNER],
    )
    assert placed.status_code == 201, placed.text
    body: dict[str, Any] = placed.json()
    return body


def place_plan(client: TestClient, tenant: Tenant, db: Session) -> dict[str, Any]:
    product = make_product(db, name=PLAN_NAME, price_kopecks=299_000)
    return place(client, tenant, [{"product_id": str(product.id)}])


def start_transfer(
    client: TestClient, tenant: Tenant, order_id: object, role: Role = Role.OWNER
) -> httpx2.Response:
    return client.post(
        f"{order_url(tenant, order_id)}/payments", json=BANK_TRANSFER, headers=tenant.headers[role]
    )


def read_invoice(
    client: TestClient, tenant: Tenant, order_id: object, role: Role = Role.OWNER
) -> httpx2.Response:
    return client.get(f"{order_url(tenant, order_id)}/invoice", headers=tenant.headers[role])


def stored_invoice(db: Session, order_id: object) -> Invoice:
    db.expire_all()
    return db.scalars(select(Invoice).where(Invoice.order_id == uuid.UUID(str(order_id)))).one()


def run(renderer: InvoiceRenderer, invoice: Invoice, task_id: str | None = None) -> Outcome:
    assert invoice.task_id is not None
    return renderer.run(invoice.id, task_id or invoice.task_id)


def page_text(pdf: bytes) -> str:
    """Page one's text, every run of white space as one space."""
    return " ".join(PdfReader(io.BytesIO(pdf)).pages[0].extract_text().split())


AMOUNT = r"\d{1,3}(?: \d{3})*,\d\d"


def parsed_kopecks(printed: str) -> int:
    """ "2 990,00" -> 299000."""
    return int(printed.replace(" ", "").replace(",", ""))


def roubles(kopecks: int) -> str:
    return format_roubles(kopecks).replace(NBSP, " ")


# -- 2. rendering -----------------------------------------------------------------------


def test_an_issued_invoice_renders_to_a_pdf_the_owners_are_sent_and_can_download(
    client: TestClient,
    tenant: Tenant,
    db: Session,
    renderer: InvoiceRenderer,
    storage: StorageProvider,
    tmp_path: Path,
    session_factory: sessionmaker[Session],
    invoice_settings: Settings,
) -> None:
    plan = make_product(db, name=PLAN_NAME, price_kopecks=299_000)
    pack = make_product(
        db,
        name=PACK_NAME,
        kind=ProductKind.CONTENT_PACK,
        plan_code=None,
        period=None,
        quantity=10,
        price_kopecks=149_950,
    )
    order = place(
        client,
        tenant,
        [{"product_id": str(plan.id), "quantity": 2}, {"product_id": str(pack.id)}],
    )
    assert start_transfer(client, tenant, order["id"]).status_code == 201
    invoice = stored_invoice(db, order["id"])
    assert invoice.status is InvoiceStatus.PENDING
    assert read_invoice(client, tenant, order["id"]).json()["download_url"] is None

    assert run(renderer, invoice) == Outcome("ready")

    invoice = stored_invoice(db, order["id"])
    assert invoice.status is InvoiceStatus.READY
    assert invoice.storage_key is not None
    with storage.open_read(invoice.storage_key) as stored:
        pdf = stored.read()
    assert pdf.startswith(b"%PDF-")
    assert invoice.size_bytes == len(pdf)
    assert storage.stat(invoice.storage_key).content_type == "application/pdf"

    text_layer = page_text(pdf)
    assert f"Счёт № {invoice.number} от " in text_layer
    assert BUYER_NAME in text_layer
    assert f"ИНН {BUYER.inn}, КПП {BUYER.kpp}" in text_layer
    assert SELLER["SELLER_LEGAL_NAME"] in text_layer
    assert f"ИНН {SELLER['SELLER_INN']}, КПП {SELLER['SELLER_KPP']}" in text_layer
    assert PLAN_NAME in text_layer
    assert PACK_NAME in text_layer
    total = 2 * 299_000 + 149_950
    assert order["total_kopecks"] == total
    assert f"Всего к оплате: {roubles(total)} ₽" in text_layer
    assert roubles(total) == "7 479,50"
    assert SELLER["SELLER_BANK_DETAILS"] in text_layer

    image = pdfium.PdfDocument(pdf)[0].render(scale=2).to_pil().convert("L")
    image.save(tmp_path / "invoice_page1.png")
    assert (tmp_path / "invoice_page1.png").read_bytes().startswith(b"\x89PNG")
    dark = np.asarray(image) < 128
    assert dark.mean() > 0.01  # text and table rules, not a blank page

    shown = read_invoice(client, tenant, order["id"])
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert (body["number"], body["status"], body["last_error"]) == (invoice.number, "ready", None)
    assert body["download_url"]
    assert body["download_expires_at"]
    downloaded = client.get(body["download_url"])
    assert downloaded.status_code == 200, downloaded.text
    assert downloaded.content == pdf
    assert downloaded.headers["content-type"] == "application/pdf"
    assert f"invoice-{invoice.number}.pdf" in downloaded.headers["content-disposition"]
    # Admins read invoices too.
    assert read_invoice(client, tenant, order["id"], Role.ADMIN).json()["status"] == "ready"

    owners = owner_emails(db, tenant)
    assert len(owners) == 2
    accountant = {"buh@romashka.example"}
    assert deliver_events(session_factory, invoice_settings) >= 1
    to_owners = emails_to(db, "invoice.ready", owners | {tenant.users[Role.ADMIN].email})
    assert sorted(message.recipient for message in to_owners) == sorted(owners)
    for message in to_owners:  # an owner may turn these off; the accountant asked for them
        assert message.payload["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    [to_accountant] = emails_to(db, "invoice_ready", accountant)
    assert to_accountant.payload["subject"].startswith("Счёт")
    for message in [*to_owners, to_accountant]:
        assert invoice.number in message.payload["text"]
        assert invoice.number in message.payload["subject"]
        words = message.payload["text"].split()
        [link] = [w for w in words if w.startswith(BASE_URL) and "unsubscribe" not in w]
        assert client.get(link).content == pdf


# -- 3. failure, retry, redelivery --------------------------------------------------------


def broken_storage(settings: Settings, tmp_path: Path) -> LocalStorage:
    """Local storage whose root lies under a regular file: every write fails for real
    (as root too, which a read-only folder would not stop)."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_bytes(b"")
    return LocalStorage(blocker / "storage", BASE_URL, storage_link_key(settings))


def test_a_failed_render_is_shown_and_retried_to_ready(
    client_for: Callable[[Settings], TestClient],
    invoice_settings: Settings,
    session_factory: sessionmaker[Session],
    tenant: Tenant,
    db: Session,
    tmp_path: Path,
) -> None:
    one_attempt = invoice_settings.model_copy(update={"INVOICE_MAX_ATTEMPTS": 1})
    client = client_for(one_attempt)
    storage: StorageProvider = client.app.state.storage  # type: ignore[attr-defined]
    order = place_plan(client, tenant, db)
    assert start_transfer(client, tenant, order["id"]).status_code == 201
    invoice = stored_invoice(db, order["id"])
    first_task = invoice.task_id

    broken = InvoiceRenderer(session_factory, broken_storage(one_attempt, tmp_path), one_attempt)
    assert run(broken, invoice).status == "failed"
    invoice = stored_invoice(db, order["id"])
    assert invoice.status is InvoiceStatus.FAILED
    assert invoice.last_error is not None
    assert invoice.last_error == "gave up after 1 attempts; last error: the PDF could not be stored"
    assert invoice.storage_key is None

    shown = read_invoice(client, tenant, order["id"]).json()
    assert (shown["status"], shown["last_error"]) == ("failed", invoice.last_error)
    assert (shown["download_url"], shown["download_expires_at"]) == (None, None)
    assert told(db, tenant.company.id, "invoice.ready") == []

    # Only owners retry.
    refused = client.post(
        f"{order_url(tenant, order['id'])}/invoice/retry", headers=tenant.headers[Role.ADMIN]
    )
    assert_error(refused, 403, "permission_denied")
    retried = client.post(
        f"{order_url(tenant, order['id'])}/invoice/retry", headers=tenant.headers[Role.OWNER]
    )
    assert retried.status_code == 200, retried.text
    assert (retried.json()["status"], retried.json()["number"]) == ("pending", invoice.number)
    invoice = stored_invoice(db, order["id"])
    assert invoice.status is InvoiceStatus.PENDING
    assert (invoice.attempts, invoice.max_attempts) == (0, 1)
    assert invoice.task_id not in (None, first_task)

    working = InvoiceRenderer(session_factory, storage, one_attempt)
    assert run(working, invoice) == Outcome("ready")
    shown = read_invoice(client, tenant, order["id"]).json()
    assert (shown["status"], shown["last_error"], shown["number"]) == (
        "ready",
        None,
        invoice.number,
    )
    assert client.get(shown["download_url"]).content.startswith(b"%PDF-")

    again = client.post(
        f"{order_url(tenant, order['id'])}/invoice/retry", headers=tenant.headers[Role.OWNER]
    )
    assert_error(again, 409, "invoice_not_failed")


def test_a_failure_with_attempts_left_waits_for_the_next_one(
    client: TestClient,
    session_factory: sessionmaker[Session],
    invoice_settings: Settings,
    renderer: InvoiceRenderer,
    tenant: Tenant,
    db: Session,
    tmp_path: Path,
) -> None:
    order = place_plan(client, tenant, db)
    start_transfer(client, tenant, order["id"])
    invoice = stored_invoice(db, order["id"])
    assert invoice.max_attempts == invoice_settings.INVOICE_MAX_ATTEMPTS > 1

    broken = InvoiceRenderer(
        session_factory, broken_storage(invoice_settings, tmp_path), invoice_settings
    )
    outcome = run(broken, invoice)
    assert (outcome.status, outcome.retry_in) == ("retry", 10.0)
    invoice = stored_invoice(db, order["id"])
    assert (invoice.status, invoice.attempts) == (InvoiceStatus.PENDING, 1)
    assert invoice.last_error is not None
    assert invoice.last_error == "the PDF could not be stored"
    assert read_invoice(client, tenant, order["id"]).json()["status"] == "pending"

    # Celery retries under the same task id.
    assert run(renderer, invoice) == Outcome("ready")
    assert stored_invoice(db, order["id"]).last_error is None


def test_the_same_task_delivered_twice_renders_once(
    client: TestClient,
    renderer: InvoiceRenderer,
    storage: LocalStorage,
    tenant: Tenant,
    db: Session,
) -> None:
    order = place_plan(client, tenant, db)
    start_transfer(client, tenant, order["id"])
    invoice = stored_invoice(db, order["id"])

    assert run(renderer, invoice) == Outcome("ready")
    rendered = stored_invoice(db, order["id"])
    assert rendered.storage_key is not None
    written = storage.file_path(rendered.storage_key).stat().st_mtime_ns
    assert run(renderer, invoice) == Outcome("skipped")
    assert run(renderer, invoice, task_id=str(uuid.uuid4())) == Outcome("skipped")

    again = stored_invoice(db, order["id"])
    assert (again.status, again.attempts, again.finished_at) == (
        InvoiceStatus.READY,
        1,
        rendered.finished_at,
    )
    assert storage.file_path(rendered.storage_key).stat().st_mtime_ns == written
    assert len(told(db, tenant.company.id, "invoice.ready")) == 1  # told once


# -- 4. paying by bank transfer through the API -----------------------------------------


def test_a_bank_transfer_issues_the_invoice_and_a_recorded_transfer_pays_the_order(
    client: TestClient,
    tenant: Tenant,
    superuser: tuple[uuid.UUID, dict[str, str]],
    db: Session,
    session_factory: sessionmaker[Session],
    invoice_settings: Settings,
) -> None:
    admin_id, admin_headers = superuser
    order = place_plan(client, tenant, db)
    url = order_url(tenant, order["id"])
    owner = tenant.headers[Role.OWNER]

    assert_error(start_transfer(client, tenant, order["id"], Role.ADMIN), 403, "permission_denied")
    assert client.get(url, headers=owner).json()["status"] == "draft"
    assert_error(read_invoice(client, tenant, order["id"]), 404, "not_found")  # none yet

    started = start_transfer(client, tenant, order["id"])
    assert started.status_code == 201, started.text
    payment = started.json()
    assert (payment["provider"], payment["status"], payment["amount_kopecks"]) == (
        "bank_transfer",
        "pending",
        299_000,
    )
    assert payment["confirmation_url"] is None
    assert client.get(url, headers=owner).json()["status"] == "pending_payment"
    shown = read_invoice(client, tenant, order["id"])
    assert shown.status_code == 200, shown.text
    invoice = shown.json()
    assert (invoice["status"], invoice["number"]) == ("pending", numbered(1))
    assert invoice["issued_on"] == utcnow().date().isoformat()
    assert invoice["download_url"] is None
    # Asking again answers the same payment and invoice.
    assert start_transfer(client, tenant, order["id"]).json()["id"] == payment["id"]
    assert read_invoice(client, tenant, order["id"]).json()["id"] == invoice["id"]

    transfers = f"/api/v1/admin/orders/{order['id']}/bank-transfers"
    record = {"amount_kopecks": 299_000, "paid_on": date.today().isoformat(), "reference": "П/п 17"}
    assert client.post(transfers, json=record, headers=owner).status_code == 403
    wrong = client.post(
        transfers, json={**record, "amount_kopecks": 298_999}, headers=admin_headers
    )
    error = assert_error(wrong, 422, "payment_amount_mismatch")
    assert error["details"]["expected_kopecks"] == 299_000
    unchanged = client.get(url, headers=owner).json()
    assert (unchanged["status"], unchanged["paid_kopecks"]) == ("pending_payment", 0)

    recorded = client.post(transfers, json=record, headers=admin_headers)
    assert recorded.status_code == 200, recorded.text
    assert (recorded.json()["id"], recorded.json()["status"]) == (payment["id"], "succeeded")
    paid = client.get(url, headers=owner).json()
    assert (paid["status"], paid["paid_kopecks"]) == ("fulfilled", paid["total_kopecks"])
    assert paid["total_kopecks"] == 299_000
    timeline = client.get(f"{url}/timeline", headers=owner).json()
    assert [(s["to_status"], s["actor_kind"]) for s in timeline] == [
        ("draft", "member"),
        ("pending_payment", "member"),
        ("paid", "support"),
        ("fulfilled", "support"),
    ]
    assert timeline[-2]["reason"] == f"bank transfer П/п 17 of {record['paid_on']}"
    assert timeline[-2]["actor_user_id"] == str(admin_id)
    # The invoice the transfer paid is the one issued: no second number.
    assert read_invoice(client, tenant, order["id"]).json()["number"] == numbered(1)
    counters = db.scalars(
        select(InvoiceCounter.last_number).where(InvoiceCounter.company_id == tenant.company.id)
    ).all()
    assert counters == [1]

    again = client.post(transfers, json=record, headers=admin_headers)
    assert_error(again, 409, "order_invalid_transition")

    owners = owner_emails(db, tenant)
    deliver_events(session_factory, invoice_settings)
    paid = emails_to(db, "order.paid", owners | {tenant.users[Role.ADMIN].email})
    assert sorted(message.recipient for message in paid) == sorted(owners)

    audit = client.get(
        f"/api/v1/companies/{tenant.company.id}/audit-logs",
        params={"action": "payment.recorded"},
        headers=owner,
    )
    assert audit.status_code == 200, audit.text
    [entry] = audit.json()["items"]
    assert (entry["actor_kind"], entry["actor_user_id"]) == ("support", str(admin_id))
    assert entry["changes"] == {"order_id": order["id"], "reference": "П/п 17"}


# -- 5. isolation ------------------------------------------------------------------------


def test_another_companys_invoice_is_not_found(
    client: TestClient, tenant: Tenant, db: Session, settings: Settings
) -> None:
    other = make_tenant(db, settings, name="Other")
    theirs = place_plan(client, other, db)
    assert start_transfer(client, other, theirs["id"]).status_code == 201
    assert read_invoice(client, other, theirs["id"]).status_code == 200

    through_ours = order_url(tenant, theirs["id"])
    owner = tenant.headers[Role.OWNER]
    number = read_invoice(client, other, theirs["id"]).json()["number"]
    for answer in (
        client.get(f"{through_ours}/invoice", headers=owner),
        client.post(f"{through_ours}/invoice/retry", headers=owner),
    ):
        error = assert_error(answer, 404, "not_found")
        assert error["details"]["entity"] == "Order"
        assert number not in answer.text
    through_theirs = client.get(f"{order_url(other, theirs['id'])}/invoice", headers=owner)
    error = assert_error(through_theirs, 404, "not_found")
    assert error["details"]["entity"] == "Company"
    assert number not in through_theirs.text


# -- 1. numbering, with real commits on PostgreSQL ---------------------------------------


@dataclass(frozen=True)
class Shop:
    """A committed company, its owner, and its draft orders."""

    company_id: uuid.UUID
    owner_id: uuid.UUID
    order_ids: list[uuid.UUID]


ShopMaker = Callable[[int], Shop]


@pytest.fixture
def shops(engine: Engine, settings: Settings) -> Iterator[ShopMaker]:
    """Committed companies with `count` draft orders each; removed afterwards."""
    companies: list[uuid.UUID] = []
    users: list[uuid.UUID] = []
    products: list[uuid.UUID] = []

    def make(count: int) -> Shop:
        with session_scope() as db:
            tenant = make_tenant(db, settings, name=f"Invoices {uuid.uuid4().hex[:6]}")
            companies.append(tenant.company.id)
            users.extend(user.id for user in tenant.users.values())
            product = make_product(db)
            products.append(product.id)
            orders = OrderService(
                db, owner_context(db, tenant.company.id, tenant.users[Role.OWNER].id)
            )
            order_ids = [
                orders.place(OrderCreate(items=[OrderItem(product_id=product.id)]), None).order.id
                for _ in range(count)
            ]
            return Shop(tenant.company.id, tenant.users[Role.OWNER].id, order_ids)

    yield make
    with session_scope() as db:
        db.execute(delete(Company).where(Company.id.in_(companies)))
        db.execute(delete(Product).where(Product.id.in_(products)))
        db.execute(delete(User).where(User.id.in_(users)))


def owner_context(db: Session, company_id: uuid.UUID, user_id: uuid.UUID) -> CompanyContext:
    return CompanyContext(
        user=db.get_one(User, user_id),
        company=db.get_one(Company, company_id),
        role=Role.OWNER,
        meta=RequestMeta(),
    )


def start_in(db: Session, settings: Settings, shop: Shop, order_id: uuid.UUID) -> str:
    """Start a bank-transfer payment in `db`'s transaction; the invoice's number."""
    ctx = owner_context(db, shop.company_id, shop.owner_id)
    PaymentService(db, ctx, settings).start(order_id, PaymentProvider.BANK_TRANSFER, None)
    number: str = db.scalars(select(Invoice.number).where(Invoice.order_id == order_id)).one()
    return number


def start_committed(
    settings: Settings, shop: Shop, order_id: uuid.UUID, barrier: Barrier | None = None
) -> str:
    with session_scope() as db:
        if barrier is not None:
            owner_context(db, shop.company_id, shop.owner_id)  # connected and loaded first
            barrier.wait(timeout=30)
        return start_in(db, settings, shop, order_id)


def numbers_of(shop: Shop) -> dict[uuid.UUID, str]:
    with session_scope() as db:
        rows = db.execute(
            select(Invoice.order_id, Invoice.number).where(Invoice.company_id == shop.company_id)
        )
        return {row.order_id: row.number for row in rows}


# Backends waiting for a lock the backend `pid` holds.
BLOCKED_BY = text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))")


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


@pytest.mark.integration
def test_invoices_started_at_once_are_numbered_without_gap_or_duplicate(
    shops: ShopMaker, settings: Settings
) -> None:
    shop = shops(8)
    barrier = Barrier(8)
    with ThreadPoolExecutor(max_workers=8) as pool:
        answered = list(
            pool.map(
                lambda order_id: start_committed(settings, shop, order_id, barrier), shop.order_ids
            )
        )
    expected = {numbered(sequence) for sequence in range(1, 9)}
    assert sorted(answered) == sorted(expected)
    stored = numbers_of(shop)
    assert set(stored) == set(shop.order_ids)
    assert stored == dict(zip(shop.order_ids, answered, strict=True))
    with session_scope() as db:
        counter = db.scalars(
            select(InvoiceCounter).where(InvoiceCounter.company_id == shop.company_id)
        ).one()
        assert (counter.year, counter.last_number) == (year_now(), 8)
        statuses = db.scalars(select(Order.status).where(Order.id.in_(shop.order_ids))).all()
        assert {status.value for status in statuses} == {"pending_payment"}


@pytest.mark.integration
def test_a_rolled_back_number_is_given_back_to_the_next_invoice(
    shops: ShopMaker, settings: Settings, engine: Engine
) -> None:
    shop = shops(3)
    first, second, third = shop.order_ids
    assert start_committed(settings, shop, first) == numbered(1)

    holder = get_session_factory()()
    try:
        assert start_in(holder, settings, shop, second) == numbered(2)
        holder_pid = holder.scalar(text("select pg_backend_pid()"))

        def waits_for_holder() -> bool:
            with engine.connect() as watcher:
                blocked = watcher.scalar(BLOCKED_BY, {"pid": holder_pid})
            return bool(blocked)

        with ThreadPoolExecutor(max_workers=1) as pool:
            meanwhile = pool.submit(start_committed, settings, shop, third)
            # The next number waits for the holder's transaction to end...
            wait_until(lambda: waits_for_holder() or meanwhile.done())
            assert not meanwhile.done(), meanwhile.result()
            holder.rollback()
            # ...and, as it rolled back, takes the number it gave back.
            assert meanwhile.result(timeout=30) == numbered(2)
    finally:
        holder.close()

    assert start_committed(settings, shop, second) == numbered(3)
    assert numbers_of(shop) == {first: numbered(1), third: numbered(2), second: numbered(3)}


@pytest.mark.integration
def test_companies_number_their_invoices_independently(
    shops: ShopMaker, settings: Settings
) -> None:
    one, other = shops(2), shops(1)
    barrier = Barrier(3)
    work = [(one, one.order_ids[0]), (other, other.order_ids[0]), (one, one.order_ids[1])]
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda item: start_committed(settings, item[0], item[1], barrier), work))
    assert sorted(numbers_of(one).values()) == [numbered(1), numbered(2)]
    assert list(numbers_of(other).values()) == [numbered(1)]


def test_an_order_cannot_mix_prices_holding_vat_with_prices_without(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    """An invoice states its VAT one way for the whole document («В том числе НДС» or «НДС»
    on top), so one order holds products priced one way only."""
    included = make_product(db, name=PLAN_NAME, price_kopecks=299_000)
    on_top = make_product(
        db,
        name=PACK_NAME,
        kind=ProductKind.CONTENT_PACK,
        plan_code=None,
        period=None,
        quantity=10,
        price_kopecks=100_000,
        vat_included=False,
    )
    placed = client.post(
        f"/api/v1/companies/{tenant.company.id}/orders",
        json={"items": [{"product_id": str(included.id)}, {"product_id": str(on_top.id)}]},
        headers=tenant.headers[Role.OWNER],
    )
    assert_error(placed, 422, "order_invalid")
    assert placed.json()["error"]["details"] == {"reason": "mixed_vat_modes"}
