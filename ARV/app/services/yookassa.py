"""The YooKassa API v3 client: create a payment (with its 54-FZ receipt), read one back,
refund one.
Every request authenticates with the shop id and secret key; creations send an
`Idempotence-Key`, so a retried request never creates a second payment or refund. See
ARV/docs/payments.md#yookassa."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from app.core.config import Settings
from app.core.exceptions import PaymentProviderError, PaymentsNotConfiguredError
from app.models.billing import CURRENCY, Order, OrderLine, PaymentStatus, VatRate

# 54-FZ VAT codes as YooKassa numbers them (1-12; 11 is 22%, from 2026).
VAT_CODES: dict[VatRate, int] = {
    VatRate.NONE: 1,
    VatRate.VAT_0: 2,
    VatRate.VAT_10: 3,
    VatRate.VAT_20: 4,
    VatRate.VAT_5: 7,
    VatRate.VAT_7: 8,
    VatRate.VAT_22: 11,
}
# What the company buys: a service, paid in full before it is provided.
PAYMENT_SUBJECT = "service"
PAYMENT_MODE = "full_prepayment"
DESCRIPTION_MAX = 128


@dataclass(frozen=True, slots=True)
class ProviderPayment:
    """A payment as YooKassa reports it."""

    id: str
    status: PaymentStatus
    amount_kopecks: int
    currency: str
    order_id: str | None
    confirmation_url: str | None
    cancellation_reason: str | None


@dataclass(frozen=True, slots=True)
class ProviderRefund:
    id: str
    status: str
    amount_kopecks: int


class YooKassaClient:
    def __init__(self, settings: Settings) -> None:
        if not (settings.YOOKASSA_SHOP_ID and settings.YOOKASSA_SECRET_KEY):
            raise PaymentsNotConfiguredError("Payments through YooKassa are not configured.")
        self._base = settings.YOOKASSA_API_URL.rstrip("/")
        self._auth = (settings.YOOKASSA_SHOP_ID, settings.YOOKASSA_SECRET_KEY.get_secret_value())
        self._timeout = settings.YOOKASSA_TIMEOUT_SECONDS

    def create_payment(
        self, order: Order, email: str, return_url: str, idempotence_key: str
    ) -> ProviderPayment:
        body = {
            "amount": money(order.total_kopecks),
            "capture": True,
            "confirmation": {"type": "redirect", "return_url": return_url},
            "description": f"Order {order.id}"[:DESCRIPTION_MAX],
            "metadata": {"order_id": str(order.id)},
            "receipt": {"customer": {"email": email}, "items": receipt_items(order.lines)},
        }
        answer = self._request("POST", "/payments", body, {"Idempotence-Key": idempotence_key})
        return parse_payment(answer)

    def get_payment(self, payment_id: str) -> ProviderPayment:
        return parse_payment(self._request("GET", f"/payments/{payment_id}"))

    def create_refund(
        self, payment_id: str, amount_kopecks: int, description: str, idempotence_key: str
    ) -> ProviderRefund:
        body = {
            "payment_id": payment_id,
            "amount": money(amount_kopecks),
            "description": description[:DESCRIPTION_MAX],
        }
        answer = self._request("POST", "/refunds", body, {"Idempotence-Key": idempotence_key})
        try:
            return ProviderRefund(
                str(answer["id"]), str(answer["status"]), kopecks(answer["amount"])
            )
        except (KeyError, ValueError, TypeError, ArithmeticError) as error:
            raise PaymentProviderError(
                "The payment provider answered something unexpected."
            ) from error

    def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        try:
            response = httpx.request(
                method,
                f"{self._base}{path}",
                json=body,
                headers=headers,
                auth=self._auth,
                timeout=self._timeout,
            )
        except httpx.HTTPError as error:
            raise PaymentProviderError("The payment provider cannot be reached.") from error
        if response.status_code != httpx.codes.OK:
            raise PaymentProviderError(
                "The payment provider refused the request.",
                details={"status": response.status_code, "provider": _error_code(response)},
            )
        answer: dict[str, Any] = response.json()
        return answer


def money(kopecks: int) -> dict[str, str]:
    return {"value": f"{Decimal(kopecks) / 100:.2f}", "currency": CURRENCY}


def kopecks(amount: dict[str, Any]) -> int:
    return int(Decimal(str(amount["value"])) * 100)


def receipt_items(lines: list[OrderLine]) -> list[dict[str, Any]]:
    """One item per line: its price per unit with VAT when the total divides evenly, else
    the whole line as one item (VAT on top can leave a kopeck that no unit price holds)."""
    items = []
    for line in lines:
        per_unit, rest = divmod(line.total_kopecks, line.quantity)
        quantity, amount = (line.quantity, per_unit) if not rest else (1, line.total_kopecks)
        description = line.name if not rest else f"{line.name} x {line.quantity}"
        items.append(
            {
                "description": description[:DESCRIPTION_MAX],
                "quantity": f"{quantity}.00",
                "amount": money(amount),
                "vat_code": VAT_CODES[line.vat_rate],
                "payment_subject": PAYMENT_SUBJECT,
                "payment_mode": PAYMENT_MODE,
            }
        )
    return items


def parse_payment(answer: dict[str, Any]) -> ProviderPayment:
    try:
        amount = answer["amount"]
        return ProviderPayment(
            id=str(answer["id"]),
            status=PaymentStatus(answer["status"]),
            amount_kopecks=kopecks(amount),
            currency=str(amount["currency"]),
            order_id=(answer.get("metadata") or {}).get("order_id"),
            confirmation_url=(answer.get("confirmation") or {}).get("confirmation_url"),
            cancellation_reason=(answer.get("cancellation_details") or {}).get("reason"),
        )
    except (KeyError, ValueError, TypeError, ArithmeticError) as error:
        raise PaymentProviderError("The payment provider answered something unexpected.") from error


def _error_code(response: httpx.Response) -> str | None:
    try:
        code = response.json().get("code")
    except ValueError:
        return None
    return str(code) if code else None
