"""The catalogue and orders. Money is in kopecks (integer minor units), currency RUB."""

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from app.models.audit import ActorKind
from app.models.billing import (
    BillingPeriod,
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


class OrderCancel(RequestSchema):
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
    return_url: HttpUrl | None = Field(
        default=None,
        description="Where YooKassa sends the payer back; YOOKASSA_RETURN_URL when left out.",
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
