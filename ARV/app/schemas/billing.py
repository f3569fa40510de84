"""The catalogue and orders. Money is in kopecks (integer minor units), currency RUB."""

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from app.models.audit import ActorKind
from app.models.billing import (
    BillingPeriod,
    EntitlementKind,
    Feature,
    InvoiceStatus,
    OrderStatus,
    PaymentProvider,
    PaymentStatus,
    ProductKind,
    VatRate,
)
from app.models.company import Plan
from app.schemas.common import RequestSchema, ResponseSchema

CODE_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
MAX_PRICE_KOPECKS = 10**12  # ten billion roubles
MAX_LINES = 20
MAX_LINE_QUANTITY = 1000

Kopecks = Field(ge=0, le=MAX_PRICE_KOPECKS, description="In kopecks (1 RUB = 100).")


class ProductFields(RequestSchema):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    price_kopecks: int = Kopecks
    currency: str = Field(
        default="RUB", min_length=3, max_length=3, description="Only RUB is accepted."
    )
    vat_rate: VatRate = Field(description="VAT rate in percent, or `none` (exempt).")
    vat_included: bool = Field(
        default=True, description="Whether the price holds the VAT or VAT comes on top."
    )
    active: bool = True


class ProductCreate(ProductFields):
    """What each kind needs: `plan` a `plan_code` and a `period`; `storage_addon` a
    `quantity` in bytes and `content_pack` one in AR contents; `print_service` neither."""

    code: str = Field(pattern=CODE_PATTERN, description="Unique, lower case, e.g. `pro-month`.")
    kind: ProductKind
    plan_code: Plan | None = None
    quantity: int | None = Field(default=None, ge=1, le=10**15)
    period: BillingPeriod | None = None


class ProductUpdate(RequestSchema):
    """Fields left out keep their value. The kind, plan and quantity of a product cannot
    change: retire it (`active: false`) and create another. Orders already placed keep
    what they copied."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    price_kopecks: int | None = Kopecks
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    vat_rate: VatRate | None = None
    vat_included: bool | None = None
    active: bool | None = None


class ProductResponse(ResponseSchema):
    id: uuid.UUID
    code: str
    name: str
    description: str | None
    kind: ProductKind
    plan_code: Plan | None
    quantity: int | None
    period: BillingPeriod | None
    price_kopecks: int
    currency: str
    vat_rate: VatRate
    vat_included: bool
    active: bool
    created_at: datetime
    updated_at: datetime


class OrderItem(RequestSchema):
    product_id: uuid.UUID
    quantity: int = Field(default=1, ge=1, le=MAX_LINE_QUANTITY)


class OrderCreate(RequestSchema):
    items: list[OrderItem] = Field(min_length=1, max_length=MAX_LINES)


class OrderNote(RequestSchema):
    reason: str | None = Field(default=None, max_length=500)


class OrderLineResponse(ResponseSchema):
    product_id: uuid.UUID | None
    product_code: str
    name: str
    kind: ProductKind
    plan_code: Plan | None
    product_quantity: int | None
    period: BillingPeriod | None
    quantity: int
    unit_price_kopecks: int
    vat_rate: VatRate
    vat_included: bool
    net_kopecks: int
    vat_kopecks: int
    total_kopecks: int


class OrderResponse(ResponseSchema):
    id: uuid.UUID
    company_id: uuid.UUID
    status: OrderStatus
    currency: str
    net_kopecks: int
    vat_kopecks: int
    total_kopecks: int
    paid_kopecks: int
    refunded_kopecks: int
    lines: list[OrderLineResponse]
    created_by_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class OrderEventResponse(ResponseSchema):
    from_status: OrderStatus | None
    to_status: OrderStatus
    actor_kind: ActorKind
    actor_user_id: uuid.UUID | None
    reason: str | None
    at: datetime


class PaymentStart(RequestSchema):
    provider: PaymentProvider = Field(
        default=PaymentProvider.YOOKASSA,
        description="`yookassa`: pay by card and the other ways YooKassa offers, at "
        "`confirmation_url`. `bank_transfer`: the order's invoice is issued to pay by bank; "
        "the order is paid once a platform admin records the transfer.",
    )
    return_url: HttpUrl | None = Field(
        default=None,
        description="Where YooKassa sends the payer back; YOOKASSA_RETURN_URL when left out.",
    )


class BankTransferRecord(RequestSchema):
    amount_kopecks: int = Field(
        gt=0, le=MAX_PRICE_KOPECKS, description="What arrived: the order's total."
    )
    paid_on: date = Field(description="The day the bank credited the transfer.")
    reference: str = Field(
        min_length=1, max_length=200, description="The bank's reference of the transfer."
    )


class RefundCreate(RequestSchema):
    amount_kopecks: int | None = Field(
        default=None,
        gt=0,
        le=MAX_PRICE_KOPECKS,
        description="How much to give back; all that was paid and not yet refunded when "
        "left out. A refund of everything takes back what the order gave.",
    )
    reason: str = Field(min_length=1, max_length=500, description="Why, for the timeline.")


class RefundResponse(ResponseSchema):
    id: uuid.UUID
    order_id: uuid.UUID
    payment_id: uuid.UUID
    status: str = Field(description="`succeeded`, or `pending` while the provider works.")
    amount_kopecks: int
    reason: str
    reversed: str | None = Field(description="What the refund took back from the company.")
    not_reversed: str | None = Field(
        description="What it could not take back (usage above the new limits is kept)."
    )
    created_at: datetime


class InvoiceResponse(ResponseSchema):
    id: uuid.UUID
    order_id: uuid.UUID
    number: str = Field(description="Per company and year, without gaps: `2026-000042`.")
    issued_on: date
    status: InvoiceStatus = Field(description="`ready` once its PDF can be downloaded.")
    last_error: str | None = Field(description="Why making the PDF failed, if it did.")
    download_url: str | None = Field(
        default=None, description="A signed link to the PDF, while `ready`."
    )
    download_expires_at: datetime | None = None


class EntitlementResponse(ResponseSchema):
    id: uuid.UUID
    order_id: uuid.UUID
    kind: EntitlementKind
    plan_code: Plan | None
    amount: int | None = Field(description="Bytes of storage or AR contents added.")
    starts_at: datetime
    ends_at: datetime | None = Field(description="None: for good.")
    revoked_at: datetime | None = Field(description="Set when a refund took it back.")
    renewal_order_id: uuid.UUID | None = Field(
        description="The order created ahead of `ends_at` to renew with."
    )


class PaymentResponse(ResponseSchema):
    id: uuid.UUID
    order_id: uuid.UUID
    provider: PaymentProvider
    status: PaymentStatus
    amount_kopecks: int
    confirmation_url: str | None = Field(description="Send the payer here to pay.")
    created_at: datetime


class YooKassaObject(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=64)


class YooKassaNotification(BaseModel):
    """What YooKassa posts: only the payment id and event name are used; the payment itself
    is read back from the API."""

    model_config = ConfigDict(extra="ignore")

    type: str = Field(max_length=32)
    event: str = Field(min_length=1, max_length=64)
    object: YooKassaObject


class NotificationResult(ResponseSchema):
    outcome: str = Field(description="`applied`, `duplicate` or `ignored`.")


class PlanDefinitionResponse(ResponseSchema):
    code: Plan
    name: str
    max_members: int
    storage_bytes: int
    max_ar_contents: int
    max_file_bytes: int
    max_video_seconds: int
    max_video_short_side: int
    features: list[Feature]
    updated_at: datetime


class PlanUpdate(RequestSchema):
    """Only the fields sent change; companies on the plan get the new limits at once."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    max_members: int | None = Field(default=None, ge=1, le=100_000)
    storage_bytes: int | None = Field(default=None, ge=0, le=2**53)
    max_ar_contents: int | None = Field(default=None, ge=0, le=10_000_000)
    max_file_bytes: int | None = Field(default=None, ge=1, le=2**53)
    max_video_seconds: int | None = Field(default=None, ge=1, le=24 * 3600)
    max_video_short_side: int | None = Field(
        default=None, ge=144, le=4320, description="1080 for Full HD, 2160 for 4K."
    )
    features: list[Feature] | None = Field(default=None, max_length=len(Feature))
