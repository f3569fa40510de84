"""A stand-in for the YooKassa payments API v3 on loopback, served by a real HTTP server so
payment code talks its real protocol over the wire.

`POST /v3/payments`, `GET /v3/payments/{id}` and `POST /v3/refunds` are served with HTTP
Basic auth, Idempotence-Key replay and YooKassa's error bodies. Payments stay `pending` until
the test moves them on (`succeed`, `wait_for_capture`, `cancel`); `notification` and `notify`
build and deliver the webhook YooKassa would send. Every request is recorded for assertions.
"""

import base64
import copy
import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.support.loopback import JsonHandler, LoopbackServer

SHOP_ID = "fake-shop-100500"
SECRET_KEY = "test_fake_secret_key"
GATEWAY_ID = "100700"

_AMOUNT_VALUE = re.compile(r"^\d+\.\d{2}$")
_PAYMENT_PATH = re.compile(r"^/v3/payments/([^/]+)$")

Response = tuple[int, dict[str, Any]]


class _RefusedError(Exception):
    """A request YooKassa would answer with an error body."""

    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(description)
        self.response: Response = (status, _error(code, description))


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: Any  # the parsed JSON body, None when empty or not JSON


@dataclass
class FakeYooKassa(LoopbackServer):
    shop_id: str = SHOP_ID
    secret_key: str = SECRET_KEY
    requests: list[RecordedRequest] = field(default_factory=list)
    _payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    _receipts: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    _refunds: list[dict[str, Any]] = field(default_factory=list)
    # (path, Idempotence-Key) -> (request body, the response first given)
    _idempotent: dict[tuple[str, str], tuple[Any, Response]] = field(default_factory=dict)
    # (status, path prefix the failure is for: "" for any request)
    _failures: list[tuple[int, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        """The API base, as the YooKassa client is configured with."""
        return f"{self.origin}/v3"

    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    # -- control, for tests ---------------------------------------------------------------

    def succeed(self, payment_id: str) -> None:
        """The buyer paid (and, for `capture: false`, the shop captured)."""
        with self._lock:
            payment = self._moving(payment_id, "pending", "waiting_for_capture")
            payment.update(
                status="succeeded",
                paid=True,
                captured_at=_now(),
                refundable=True,
                income_amount=dict(payment["amount"]),
            )

    def wait_for_capture(self, payment_id: str) -> None:
        """The buyer paid a two-stage payment; the money is held until capture."""
        with self._lock:
            payment = self._moving(payment_id, "pending")
            payment.update(status="waiting_for_capture", paid=True)

    def cancel(self, payment_id: str, reason: str = "expired_on_confirmation") -> None:
        with self._lock:
            payment = self._moving(payment_id, "pending", "waiting_for_capture")
            payment.update(
                status="canceled",
                paid=False,
                refundable=False,
                cancellation_details={"party": "yoo_money", "reason": reason},
            )

    def payment(self, payment_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._payments[payment_id])

    def payments(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(list(self._payments.values()))

    def receipt(self, payment_id: str) -> dict[str, Any] | None:
        """The receipt sent with the payment; YooKassa keeps it but never echoes it."""
        with self._lock:
            return copy.deepcopy(self._receipts[payment_id])

    def refunds(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._refunds)

    def fail_next(self, count: int = 1, status: int = 500, path: str = "") -> None:
        """Answer the next `count` API requests (to paths starting with `path`, e.g.
        `/v3/refunds`) with `status` and an internal_server_error."""
        with self._lock:
            self._failures.extend([(status, path)] * count)

    def notification(self, payment_id: str, event: str | None = None) -> dict[str, Any]:
        """The webhook body YooKassa would send about the payment as it is now."""
        payment = self.payment(payment_id)
        return {
            "type": "notification",
            "event": event or f"payment.{payment['status']}",
            "object": payment,
        }

    def notify(self, webhook_url: str, payment_id: str, event: str | None = None) -> int:
        """POST the notification to `webhook_url`; the status code it answered."""
        body = self.notification(payment_id, event)
        return httpx.post(webhook_url, json=body, timeout=10.0).status_code

    def _moving(self, payment_id: str, *allowed: str) -> dict[str, Any]:
        payment = self._payments[payment_id]
        if payment["status"] not in allowed:
            raise ValueError(f"payment {payment_id} is {payment['status']}, not {allowed}")
        return payment

    # -- endpoints: (status, JSON body) ---------------------------------------------------

    def handle(self, request: RecordedRequest) -> Response:
        with self._lock:
            self.requests.append(request)
            if not request.path.startswith("/v3/"):
                return 404, _error("not_found", "Not found")
            failing = next(
                (i for i, (_, path) in enumerate(self._failures) if request.path.startswith(path)),
                None,
            )
            if failing is not None:
                status, _ = self._failures.pop(failing)
                return status, _error("internal_server_error", "Internal server error")
            if request.headers.get("authorization") != self._authorization:
                return 401, _error(
                    "invalid_credentials",
                    "Login and password are required: shopId and secret key in Basic auth",
                )
            try:
                return self._route(request)
            except _RefusedError as refused:
                return refused.response

    @property
    def _authorization(self) -> str:
        credentials = f"{self.shop_id}:{self.secret_key}".encode()
        return f"Basic {base64.b64encode(credentials).decode('ascii')}"

    def _route(self, request: RecordedRequest) -> Response:
        if (request.method, request.path) == ("POST", "/v3/payments"):
            return self._idempotently(request, self._create_payment)
        if (request.method, request.path) == ("POST", "/v3/refunds"):
            return self._idempotently(request, self._create_refund)
        match = _PAYMENT_PATH.match(request.path)
        if request.method == "GET" and match:
            payment = self._payments.get(match.group(1))
            if payment is None:
                raise _RefusedError(404, "not_found", f"Payment {match.group(1)} not found")
            return 200, copy.deepcopy(payment)
        raise _RefusedError(404, "not_found", f"No {request.method} {request.path}")

    def _idempotently(
        self, request: RecordedRequest, create: Callable[[dict[str, Any]], Response]
    ) -> Response:
        """Replay the first answer to a repeated Idempotence-Key; only successes are kept."""
        key = request.headers.get("idempotence-key")
        if not key:
            raise _RefusedError(400, "invalid_request", "Idempotence-Key header is required")
        if not isinstance(request.body, dict):
            raise _RefusedError(400, "invalid_request", "Request body must be a JSON object")
        earlier = self._idempotent.get((request.path, key))
        if earlier is not None:
            body, (status, response) = earlier
            if body != request.body:
                raise _RefusedError(
                    400, "invalid_request", "Idempotence key reused with other parameters"
                )
            return status, copy.deepcopy(response)
        status, response = create(request.body)
        self._idempotent[(request.path, key)] = (
            copy.deepcopy(request.body),
            (status, copy.deepcopy(response)),
        )
        return status, copy.deepcopy(response)

    def _create_payment(self, body: dict[str, Any]) -> Response:
        amount = _amount(body.get("amount"), "amount")
        confirmation = body.get("confirmation")
        if not isinstance(confirmation, dict) or confirmation.get("type") != "redirect":
            raise _RefusedError(400, "invalid_request", "confirmation.type must be redirect")
        return_url = confirmation.get("return_url")
        if not isinstance(return_url, str) or not return_url:
            raise _RefusedError(400, "invalid_request", "confirmation.return_url is required")
        receipt = body.get("receipt")
        if receipt is not None:
            _check_receipt(receipt, amount)
        payment_id = str(uuid.uuid4())
        payment: dict[str, Any] = {
            "id": payment_id,
            "status": "pending",
            "paid": False,
            "amount": body["amount"],
            "confirmation": {
                "type": "redirect",
                "return_url": return_url,
                "confirmation_url": f"{self.origin}/checkout/{payment_id}",
            },
            "created_at": _now(),
            "recipient": {"account_id": self.shop_id, "gateway_id": GATEWAY_ID},
            "refundable": False,
            "test": True,
        }
        for optional in ("description", "metadata"):
            if optional in body:
                payment[optional] = body[optional]
        self._payments[payment_id] = copy.deepcopy(payment)
        self._receipts[payment_id] = copy.deepcopy(receipt)
        return 200, payment

    def _create_refund(self, body: dict[str, Any]) -> Response:
        payment_id = body.get("payment_id")
        payment = self._payments.get(payment_id) if isinstance(payment_id, str) else None
        if payment is None:
            raise _RefusedError(400, "invalid_request", f"Payment {payment_id} not found")
        if payment["status"] != "succeeded":
            raise _RefusedError(
                400, "invalid_request", f"Payment {payment_id} is {payment['status']}"
            )
        amount = _amount(body.get("amount"), "amount")
        refunded = Decimal(payment.get("refunded_amount", {}).get("value", "0"))
        left = Decimal(payment["amount"]["value"]) - refunded
        if amount > left:
            raise _RefusedError(
                400, "invalid_request", f"Refund amount {amount} exceeds {left} left to refund"
            )
        refund: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "payment_id": payment_id,
            "status": "succeeded",
            "amount": copy.deepcopy(body["amount"]),
            "created_at": _now(),
        }
        if "description" in body:
            refund["description"] = body["description"]
        self._refunds.append(copy.deepcopy(refund))
        payment["refunded_amount"] = {"value": f"{refunded + amount:.2f}", "currency": "RUB"}
        return 200, refund


def _amount(amount: Any, name: str) -> Decimal:
    """The value of a `{"value": "2990.00", "currency": "RUB"}` amount, which must be > 0."""
    if not isinstance(amount, dict):
        raise _RefusedError(400, "invalid_request", f"{name} is required")
    value = amount.get("value")
    if not isinstance(value, str) or not _AMOUNT_VALUE.match(value):
        raise _RefusedError(400, "invalid_request", f"{name}.value must look like 2990.00")
    if Decimal(value) <= 0:
        raise _RefusedError(400, "invalid_request", f"{name}.value must be greater than 0")
    if amount.get("currency") != "RUB":
        raise _RefusedError(400, "invalid_request", f"{name}.currency must be RUB")
    return Decimal(value)


def _check_receipt(receipt: Any, total: Decimal) -> None:
    if not isinstance(receipt, dict):
        raise _RefusedError(400, "invalid_request", "receipt must be an object")
    customer = receipt.get("customer")
    if not isinstance(customer, dict) or not customer.get("email"):
        raise _RefusedError(400, "invalid_request", "receipt.customer.email is required")
    items = receipt.get("items")
    if not isinstance(items, list) or not items:
        raise _RefusedError(400, "invalid_request", "receipt.items must not be empty")
    items_total = Decimal(0)
    for index, item in enumerate(items):
        name = f"receipt.items[{index}]"
        if not isinstance(item, dict):
            raise _RefusedError(400, "invalid_request", f"{name} must be an object")
        vat_code = item.get("vat_code")
        if type(vat_code) is not int or not 1 <= vat_code <= 12:
            raise _RefusedError(400, "invalid_request", f"{name}.vat_code must be an integer 1..12")
        try:
            quantity = Decimal(str(item.get("quantity")))
        except InvalidOperation:
            raise _RefusedError(400, "invalid_request", f"{name}.quantity is invalid") from None
        if not quantity.is_finite() or quantity <= 0:
            raise _RefusedError(400, "invalid_request", f"{name}.quantity is invalid")
        items_total += _amount(item.get("amount"), f"{name}.amount") * quantity
    if items_total != total:
        raise _RefusedError(
            400,
            "invalid_request",
            f"Sum of receipt items {items_total} does not match payment amount {total}",
        )


def _error(code: str, description: str) -> dict[str, Any]:
    return {"type": "error", "id": str(uuid.uuid4()), "code": code, "description": description}


def _now() -> str:
    """The current time as YooKassa writes it: 2026-11-29T17:03:21.123Z."""
    now = datetime.now(UTC)
    return f"{now:%Y-%m-%dT%H:%M:%S}.{now.microsecond // 1000:03d}Z"


def _handler_for(fake: FakeYooKassa) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def answer(self) -> Response:
            raw = self.read_body()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            return fake.handle(
                RecordedRequest(
                    method=self.command,
                    path=urlsplit(self.path).path,
                    headers=self.lowered_headers(),
                    body=body,
                )
            )

    return Handler
