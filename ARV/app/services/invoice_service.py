"""Invoices: numbered when an order's payment starts, rendered to PDF by a task, stored
through the storage provider and handed out by signed links.

Numbers run per company and year (`2026-000001`, `2026-000002`...) with no gap and no
duplicate: the next number comes from an upsert on the company's counter row for the year,
which holds that row locked until the order's transaction ends. A transaction that rolls
back gives its number back before anyone else can take the next one, which a database
sequence would not. See ARV/docs/payments.md#invoices."""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from app.background_tasks.names import INVOICE_RENDER, QUEUE_DEFAULT
from app.core.config import Settings
from app.core.database import insert_on_conflict, session_scope
from app.core.exceptions import InvoiceNotFailedError, InvoiceNotReadyError, NotFoundError
from app.core.storage import StorageError, StorageProvider, company_prefix
from app.core.task_queue import enqueue_after_commit
from app.models.billing import Invoice, InvoiceCounter, InvoiceStatus, Order, VatRate
from app.models.company import Company
from app.services import leases
from app.services.billing_notices import BillingNotices
from app.services.invoice_pdf import InvoiceDocument, InvoiceLine, Party, render_invoice
from app.services.leases import Outcome
from app.services.tenant import ScopedService, StorageTenantService, system_scope
from app.utils.clock import utcnow

logger = logging.getLogger(__name__)
LEASE_SECONDS = 300
PDF = "application/pdf"


def issue(scope: ScopedService, settings: Settings, order: Order, now: datetime) -> Invoice:
    """The order's invoice, numbered now in the caller's transaction (once: an order that
    has one keeps it), its PDF rendered after commit."""
    issued: Invoice | None = scope.db.scalar(
        scope.scoped(Invoice).where(Invoice.order_id == order.id)
    )
    if issued is not None:
        return issued
    company = scope.db.get_one(Company, order.company_id)
    issued_on = now.astimezone(ZoneInfo(settings.INVOICE_TIME_ZONE)).date()
    sequence = _next_number(scope.db, order.company_id, issued_on.year)
    invoice = Invoice(
        company_id=order.company_id,
        order_id=order.id,
        year=issued_on.year,
        sequence=sequence,
        number=f"{issued_on.year}-{sequence:06d}",
        issued_on=issued_on,
        details=_parties(settings, company),
        status=InvoiceStatus.PENDING,
        max_attempts=settings.INVOICE_MAX_ATTEMPTS,
        task_id=str(uuid.uuid4()),
    )
    scope.db.add(invoice)
    scope.db.flush()
    _send_task(scope.db, invoice)
    return invoice


def _next_number(db: Session, company_id: uuid.UUID, year: int) -> int:
    counter = InvoiceCounter.__table__.c
    number: int = db.scalars(
        insert_on_conflict(db, InvoiceCounter)
        .values(id=uuid.uuid4(), company_id=company_id, year=year, last_number=1)
        .on_conflict_do_update(
            index_elements=[counter.company_id, counter.year],
            set_={"last_number": counter.last_number + 1},
        )
        .returning(counter.last_number)
    ).one()
    return number


def _parties(settings: Settings, company: Company) -> dict[str, Any]:
    """Who sells and who buys, as they are at issue: the invoice keeps saying it."""
    legal = company.settings.legal
    return {
        "seller": {
            "legal_name": settings.SELLER_LEGAL_NAME,
            "inn": settings.SELLER_INN,
            "kpp": settings.SELLER_KPP,
            "address": settings.SELLER_ADDRESS,
        },
        "buyer": {
            "legal_name": legal.legal_name or company.name,
            "inn": legal.inn,
            "kpp": legal.kpp,
            "address": legal.address,
        },
        "payment_terms": settings.SELLER_BANK_DETAILS,
    }


def _send_task(db: Session, invoice: Invoice) -> None:
    enqueue_after_commit(
        db, INVOICE_RENDER, [str(invoice.id)], queue=QUEUE_DEFAULT, task_id=invoice.task_id
    )


def invoice_key(invoice: Invoice) -> str:
    return f"{company_prefix(invoice.company_id)}invoices/{invoice.year}/{invoice.id}.pdf"


def download_link(
    storage: StorageProvider, invoice: Invoice, ttl_seconds: int
) -> tuple[str, datetime]:
    if invoice.status is not InvoiceStatus.READY or invoice.storage_key is None:
        raise InvoiceNotReadyError(
            details={"status": invoice.status.value, "reason": invoice.last_error}
        )
    url = storage.download_url(
        invoice.storage_key,
        ttl_seconds,
        filename=f"invoice-{invoice.number}.pdf",
        content_type=PDF,
    )
    return url, utcnow() + timedelta(seconds=ttl_seconds)


def retry_failed(scope: ScopedService, invoice: Invoice) -> None:
    """Render a failed invoice again (its number stays)."""
    leases.restart(invoice)
    _send_task(scope.db, invoice)


@dataclass(frozen=True, slots=True)
class InvoiceView:
    invoice: Invoice
    download_url: str | None = None
    download_expires_at: datetime | None = None


class InvoiceService(StorageTenantService):
    """A company's invoices, as its members see them."""

    def for_order(self, order_id: uuid.UUID) -> InvoiceView:
        """The order's invoice, with a signed link to its PDF once it is ready."""
        invoice = self._of(order_id)
        if invoice.status is not InvoiceStatus.READY:
            return InvoiceView(invoice)
        url, expires_at = download_link(
            self.storage, invoice, self.settings.STORAGE_URL_TTL_SECONDS
        )
        return InvoiceView(invoice, url, expires_at)

    def retry(self, order_id: uuid.UUID) -> InvoiceView:
        """Make a failed invoice's PDF again; its number stays."""
        invoice = self._of(order_id, for_update=True)
        if invoice.status is not InvoiceStatus.FAILED:
            raise InvoiceNotFailedError(details={"status": invoice.status.value})
        retry_failed(self, invoice)
        self.audit("invoice.retried", "invoice", invoice.id, {"number": invoice.number})
        return InvoiceView(invoice)

    def _of(self, order_id: uuid.UUID, *, for_update: bool = False) -> Invoice:
        self.get_owned(Order, order_id, "Order")
        statement = self.scoped(Invoice).where(Invoice.order_id == order_id)
        if for_update:
            statement = statement.with_for_update()
        invoice: Invoice | None = self.db.scalar(statement)
        if invoice is None:
            raise NotFoundError.for_entity("Invoice", order_id)
        return invoice


class InvoiceRenderer:
    """The task's work: claim the invoice, render and store its PDF, then mark it ready and
    tell the owners, in one transaction (so the email goes once, with the ready invoice)."""

    def __init__(
        self, sessions: sessionmaker[Session], storage: StorageProvider, settings: Settings
    ) -> None:
        self.sessions = sessions
        self.storage = storage
        self.settings = settings

    def run(self, invoice_id: uuid.UUID, task_id: str) -> Outcome:
        with session_scope(self.sessions) as db:
            invoice = leases.claim(db, Invoice, invoice_id, task_id, LEASE_SECONDS)
            if invoice is None:
                return Outcome("skipped")
            document = self._document(db, invoice)
        key = invoice_key(invoice)
        try:
            pdf = render_invoice(document)
        except Exception:
            return self._failed(invoice, task_id, "the PDF could not be made")
        try:
            size = self.storage.put_bytes(key, pdf, PDF)
        except StorageError:
            return self._failed(invoice, task_id, "the PDF could not be stored")
        with session_scope(self.sessions) as db:
            if not leases.finish(
                db,
                Invoice,
                invoice.id,
                task_id,
                InvoiceStatus.READY,
                storage_key=key,
                size_bytes=size,
                last_error=None,
            ):
                return Outcome("skipped")  # the lease ran out and another task took it
            self._tell_owners(db, invoice.id)
        return Outcome("ready")

    def recover_lost(self, now: datetime) -> dict[str, int]:
        recovery = leases.requeue_expired(
            self.sessions, Invoice, INVOICE_RENDER, QUEUE_DEFAULT, now
        )
        failed = sum(self._give_up(invoice_id) for invoice_id in recovery.exhausted)
        return {"requeued": len(recovery.requeued), "failed": failed}

    def _give_up(self, invoice_id: uuid.UUID) -> bool:
        with session_scope(self.sessions) as db:
            invoice = db.get(Invoice, invoice_id, with_for_update=True)
            if invoice is None or invoice.status is not InvoiceStatus.RENDERING:
                return False
            leases.fail(invoice, leases.gave_up(invoice.attempts, invoice.last_error))
        return True

    def _document(self, db: Session, invoice: Invoice) -> InvoiceDocument:
        scope = system_scope(db, Invoice, invoice.id, "invoices.render")
        assert scope is not None  # noqa: S101 - claimed just now, in this transaction
        order = scope.get_owned(Order, invoice.order_id, "Order")
        details = invoice.details
        return InvoiceDocument(
            number=invoice.number,
            issued_on=invoice.issued_on,
            seller=Party(**details["seller"]),
            buyer=Party(**details["buyer"]),
            lines=tuple(
                InvoiceLine(
                    position=line.position + 1,
                    name=line.name,
                    quantity=line.quantity,
                    unit_price_kopecks=line.unit_price_kopecks,
                    vat_label=_vat_label(line.vat_rate),
                    vat_kopecks=line.vat_kopecks,
                    total_kopecks=line.total_kopecks,
                )
                for line in order.lines
            ),
            net_kopecks=order.net_kopecks,
            vat_kopecks=order.vat_kopecks,
            total_kopecks=order.total_kopecks,
            vat_included=all(line.vat_included for line in order.lines),
            payment_terms=details.get("payment_terms"),
            order_reference=str(order.id),
        )

    def _failed(self, invoice: Invoice, task_id: str, reason: str) -> Outcome:
        """`reason` is shown to the company's owners: the error itself, which may name the
        servers' paths, goes to the log only."""
        logger.warning(
            "invoice not rendered",
            extra={"invoice": str(invoice.id), "reason": reason},
            exc_info=True,
        )
        with session_scope(self.sessions) as db:
            if leases.out_of_attempts(invoice):
                failed = leases.gave_up(invoice.attempts, reason)
                leases.finish(
                    db, Invoice, invoice.id, task_id, InvoiceStatus.FAILED, last_error=failed
                )
                return Outcome("failed")
            leases.release(db, Invoice, invoice.id, task_id, reason)
        return Outcome("retry", retry_in=leases.retry_delay(invoice.attempts))

    def _tell_owners(self, db: Session, invoice_id: uuid.UUID) -> None:
        scope = system_scope(db, Invoice, invoice_id, "invoices.render")
        assert scope is not None  # noqa: S101 - finished just now, in this transaction
        invoice = scope.get_owned(Invoice, invoice_id, "Invoice")
        order = scope.get_owned(Order, invoice.order_id, "Order")
        link, _ = download_link(self.storage, invoice, self.settings.INVOICE_LINK_TTL_HOURS * 3600)
        BillingNotices(db, self.settings).invoice_ready(order, invoice.number, link)


def _vat_label(rate: VatRate) -> str:
    return "без НДС" if rate is VatRate.NONE else f"{rate.percent}%"
