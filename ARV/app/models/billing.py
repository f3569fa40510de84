"""What companies can buy and what they ordered: the plans and their limits, the catalogue
of products with their prices, orders with their lines and timeline, payments, refunds,
what a paid order gave the company (entitlements) and invoices. Money is in kopecks
(integer minor units) throughout. See ARV/docs/payments.md."""

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ColumnElement,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
    or_,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.audit import ActorKind
from app.models.base import (
    Base,
    TenantOwned,
    Timestamped,
    UTCDateTime,
    UUIDPrimaryKey,
    string_enum,
)
from app.models.company import Plan
from app.models.lease import Leased, LeaseStates
from app.utils.clock import utcnow

CURRENCY = "RUB"


class Feature(StrEnum):
    """What a plan may include beyond its limits."""

    HLS = "hls"
    ANALYTICS = "analytics"
    CUSTOM_BRANDING = "custom_branding"


class PlanDefinition(UUIDPrimaryKey, Timestamped, Base):
    """A plan's limits and features, kept as data so that platform admins change them
    without a release. The plan codes themselves are `Plan`, which the database checks."""

    __tablename__ = "plans"

    code: Mapped[Plan] = mapped_column(string_enum(Plan, "plan_code", length=32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    max_members: Mapped[int]
    storage_bytes: Mapped[int] = mapped_column(BigInteger)
    max_ar_contents: Mapped[int]
    max_file_bytes: Mapped[int] = mapped_column(BigInteger)
    max_video_seconds: Mapped[int]
    # The largest short side accepted (1080 for Full HD, 2160 for 4K).
    max_video_short_side: Mapped[int]
    # `Feature` values.
    features: Mapped[list[str]] = mapped_column(JSON)


class ProductKind(StrEnum):
    PLAN = "plan"
    # `quantity` bytes of storage on top of the plan's.
    STORAGE_ADDON = "storage_addon"
    # `quantity` AR contents on top of the plan's.
    CONTENT_PACK = "content_pack"
    PRINT_SERVICE = "print_service"


class BillingPeriod(StrEnum):
    MONTH = "month"
    YEAR = "year"


class VatRate(StrEnum):
    """The VAT rates of Russian tax law (22% from 2026); `none` for a seller exempt from
    VAT."""

    NONE = "none"
    VAT_0 = "0"
    VAT_5 = "5"
    VAT_7 = "7"
    VAT_10 = "10"
    VAT_20 = "20"
    VAT_22 = "22"

    @property
    def percent(self) -> int:
        return 0 if self is VatRate.NONE else int(self.value)


class OrderStatus(StrEnum):
    DRAFT = "draft"
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    PAYMENT_FAILED = "payment_failed"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


class Product(UUIDPrimaryKey, Timestamped, Base):
    """One thing on sale. Orders copy what they need (name, price, VAT) into their lines,
    so changing a product never changes an order; a product that was ordered is retired
    (`active` false), not deleted."""

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price_kopecks >= 0", name="price_not_negative"),
        CheckConstraint(f"currency = '{CURRENCY}'", name="currency_rub"),
    )

    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[ProductKind] = mapped_column(string_enum(ProductKind, "product_kind", 32))
    # The plan a `plan` product puts the company on.
    plan_code: Mapped[Plan | None] = mapped_column(string_enum(Plan, "plan_code", length=32))
    # Bytes for a storage add-on, AR contents for a content pack.
    quantity: Mapped[int | None] = mapped_column(BigInteger)
    price_kopecks: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default=CURRENCY)
    vat_rate: Mapped[VatRate] = mapped_column(string_enum(VatRate, "vat_rate", 8))
    # Whether the price holds the VAT (the usual retail price) or VAT comes on top of it.
    vat_included: Mapped[bool] = mapped_column(default=True)
    period: Mapped[BillingPeriod | None] = mapped_column(
        string_enum(BillingPeriod, "billing_period", 8)
    )
    active: Mapped[bool] = mapped_column(default=True, index=True)


class Order(UUIDPrimaryKey, TenantOwned, Timestamped, Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("company_id", "idempotency_key"),
        CheckConstraint("refunded_kopecks <= paid_kopecks", name="refunds_within_paid"),
    )

    status: Mapped[OrderStatus] = mapped_column(
        string_enum(OrderStatus, "order_status", 32), default=OrderStatus.DRAFT, index=True
    )
    currency: Mapped[str] = mapped_column(String(3), default=CURRENCY)
    net_kopecks: Mapped[int] = mapped_column(BigInteger)
    vat_kopecks: Mapped[int] = mapped_column(BigInteger)
    total_kopecks: Mapped[int] = mapped_column(BigInteger)
    paid_kopecks: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_kopecks: Mapped[int] = mapped_column(BigInteger, default=0)
    # The client's Idempotency-Key, and a digest of the request it came with.
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_digest: Mapped[str | None] = mapped_column(String(64))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )

    lines: Mapped[list["OrderLine"]] = relationship(
        order_by="OrderLine.position", cascade="all, delete-orphan", lazy="selectin"
    )


class OrderLine(UUIDPrimaryKey, TenantOwned, Base):
    """What was ordered, as the catalogue said at the time, with its amounts."""

    __tablename__ = "order_lines"

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    product_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("products.id", ondelete="SET NULL")
    )
    product_code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[ProductKind] = mapped_column(string_enum(ProductKind, "product_kind", 32))
    plan_code: Mapped[Plan | None] = mapped_column(string_enum(Plan, "plan_code", length=32))
    product_quantity: Mapped[int | None] = mapped_column(BigInteger)
    period: Mapped[BillingPeriod | None] = mapped_column(
        string_enum(BillingPeriod, "billing_period", 8)
    )
    quantity: Mapped[int]
    unit_price_kopecks: Mapped[int] = mapped_column(BigInteger)
    vat_rate: Mapped[VatRate] = mapped_column(string_enum(VatRate, "vat_rate", 8))
    vat_included: Mapped[bool]
    net_kopecks: Mapped[int] = mapped_column(BigInteger)
    vat_kopecks: Mapped[int] = mapped_column(BigInteger)
    total_kopecks: Mapped[int] = mapped_column(BigInteger)


class OrderEvent(UUIDPrimaryKey, TenantOwned, Base):
    """One step of an order's timeline: from which state to which, who or what moved it,
    when and why."""

    __tablename__ = "order_events"

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[OrderStatus | None] = mapped_column(
        string_enum(OrderStatus, "order_status", 32)
    )
    to_status: Mapped[OrderStatus] = mapped_column(string_enum(OrderStatus, "order_status", 32))
    actor_kind: Mapped[ActorKind] = mapped_column(string_enum(ActorKind, "actor_kind"))
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PaymentProvider(StrEnum):
    YOOKASSA = "yookassa"
    # Paid by the company's bank against the invoice; a platform admin records it.
    BANK_TRANSFER = "bank_transfer"


class PaymentStatus(StrEnum):
    """As YooKassa names them."""

    PENDING = "pending"
    WAITING_FOR_CAPTURE = "waiting_for_capture"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"


class Payment(UUIDPrimaryKey, TenantOwned, Timestamped, Base):
    """One attempt to pay an order through a provider. `idempotence_key` is sent with the
    creation request, so a retried start never creates a second payment there."""

    __tablename__ = "payments"

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[PaymentProvider] = mapped_column(
        string_enum(PaymentProvider, "payment_provider", 16)
    )
    idempotence_key: Mapped[str] = mapped_column(String(64), unique=True)
    provider_payment_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[PaymentStatus] = mapped_column(
        string_enum(PaymentStatus, "payment_status", 32), default=PaymentStatus.PENDING
    )
    amount_kopecks: Mapped[int] = mapped_column(BigInteger)
    confirmation_url: Mapped[str | None] = mapped_column(Text)
    # Why the payment needs a person: paid for an order cancelled meanwhile, for example.
    flagged: Mapped[str | None] = mapped_column(Text)
    # A bank transfer, as the platform admin who saw it arrive recorded it.
    paid_on: Mapped[date | None]
    reference: Mapped[str | None] = mapped_column(String(200))
    recorded_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )


class ProcessedPaymentEvent(UUIDPrimaryKey, Base):
    """A provider notification already acted on: the same payment, event and status arriving
    again (a retry, a duplicate, a replay) changes nothing."""

    __tablename__ = "processed_payment_events"
    __table_args__ = (UniqueConstraint("provider_payment_id", "event", "status"),)

    provider_payment_id: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    processed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Refund(UUIDPrimaryKey, TenantOwned, Timestamped, Base):
    """Money given back for a payment, through its provider. `idempotence_key` makes asking
    again (a retry, a duplicate notification) answer the same refund."""

    __tablename__ = "refunds"

    payment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("payments.id", ondelete="CASCADE"), index=True
    )
    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    idempotence_key: Mapped[str] = mapped_column(String(64), unique=True)
    provider_refund_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    amount_kopecks: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    requested_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    # What the refund took back from the company, and what it could not.
    reversed: Mapped[str | None] = mapped_column(Text)
    not_reversed: Mapped[str | None] = mapped_column(Text)


class EntitlementKind(StrEnum):
    PLAN = "plan"
    STORAGE = "storage"
    CONTENTS = "contents"


class Entitlement(UUIDPrimaryKey, TenantOwned, Timestamped, Base):
    """What one line of a paid order gave the company, for how long: a plan for a period,
    storage bytes or AR contents on top of the plan. One per order line, so an order is
    fulfilled once however often its payment is reported."""

    __tablename__ = "entitlements"

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    order_line_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("order_lines.id", ondelete="CASCADE"), unique=True
    )
    kind: Mapped[EntitlementKind] = mapped_column(
        string_enum(EntitlementKind, "entitlement_kind", 16)
    )
    plan_code: Mapped[Plan | None] = mapped_column(string_enum(Plan, "plan_code", length=32))
    # Bytes of storage or AR contents, the line's quantity included.
    amount: Mapped[int | None] = mapped_column(BigInteger)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # None: for good (an add-on bought once).
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The order created ahead of `ends_at` for the owner to renew with.
    renewal_order_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL")
    )

    @classmethod
    def in_force(cls, now: datetime) -> tuple[ColumnElement[bool], ...]:
        return (
            cls.starts_at <= now,
            or_(cls.ends_at.is_(None), cls.ends_at > now),
            cls.revoked_at.is_(None),
        )


class InvoiceCounter(UUIDPrimaryKey, TenantOwned, Base):
    """The last invoice number a company used in a year. Taken by an upsert that holds the
    row locked until the order's transaction ends: numbers come without gaps (a rolled-back
    order gives its number back) and never twice."""

    __tablename__ = "invoice_counters"
    __table_args__ = (UniqueConstraint("company_id", "year"),)

    year: Mapped[int]
    last_number: Mapped[int]


class InvoiceStatus(StrEnum):
    PENDING = "pending"
    RENDERING = "rendering"
    READY = "ready"
    FAILED = "failed"


class Invoice(UUIDPrimaryKey, TenantOwned, Timestamped, Leased, Base):
    """An order's invoice: numbered when issued, its PDF rendered and stored by a task.
    `details` keeps the seller's and buyer's details as they were at issue."""

    __tablename__ = "invoices"
    __table_args__ = (UniqueConstraint("company_id", "year", "sequence"),)
    lease_states = LeaseStates(
        waiting=InvoiceStatus.PENDING,
        held=InvoiceStatus.RENDERING,
        done=InvoiceStatus.READY,
        failed=InvoiceStatus.FAILED,
    )

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), unique=True
    )
    year: Mapped[int]
    sequence: Mapped[int]
    number: Mapped[str] = mapped_column(String(32))
    issued_on: Mapped[date]
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[InvoiceStatus] = mapped_column(
        string_enum(InvoiceStatus, "invoice_status"), default=InvoiceStatus.PENDING
    )
    storage_key: Mapped[str | None] = mapped_column(String(512))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
