"""The amounts of an order, in kopecks: each line's net, VAT and total, rounded per line to
the kopeck (half up), and the order's as the sums of its lines. The one place they are
computed."""

from collections.abc import Iterable
from dataclasses import dataclass

from app.core.exceptions import RefundInvalidError
from app.models.billing import VatRate


@dataclass(frozen=True, slots=True)
class Amounts:
    net_kopecks: int
    vat_kopecks: int
    total_kopecks: int

    def __add__(self, other: "Amounts") -> "Amounts":
        return Amounts(
            self.net_kopecks + other.net_kopecks,
            self.vat_kopecks + other.vat_kopecks,
            self.total_kopecks + other.total_kopecks,
        )


ZERO = Amounts(0, 0, 0)


def line_amounts(
    unit_price_kopecks: int, quantity: int, vat_rate: VatRate, vat_included: bool
) -> Amounts:
    """A price that includes VAT holds `price x rate / (100 + rate)` of it; a price without
    has `price x rate / 100` added. Negative prices and quantities are refused."""
    if unit_price_kopecks < 0 or quantity < 0:
        raise ValueError("prices and quantities are not negative")
    price = unit_price_kopecks * quantity
    percent = vat_rate.percent
    if vat_included:
        vat = _divide_half_up(price * percent, 100 + percent)
        return Amounts(price - vat, vat, price)
    vat = _divide_half_up(price * percent, 100)
    return Amounts(price, vat, price + vat)


def order_amounts(lines: Iterable[Amounts]) -> Amounts:
    return sum(lines, ZERO)


def _divide_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded to the nearest integer, halves up (both >= 0)."""
    return (2 * numerator + denominator) // (2 * denominator)


def refund_amount(paid_kopecks: int, refunded_kopecks: int, asked_kopecks: int | None) -> int:
    """What a refund gives back: `asked_kopecks`, or everything not yet refunded when None.
    Refuses nothing, and more than was paid and not yet refunded, so the refunds of an
    order never add up to more than it was paid."""
    refundable = paid_kopecks - refunded_kopecks
    amount = refundable if asked_kopecks is None else asked_kopecks
    if refundable <= 0:
        raise RefundInvalidError(
            "Everything paid for this order was refunded already.",
            details={"reason": "nothing_to_refund", "refundable_kopecks": 0},
        )
    if not 0 < amount <= refundable:
        raise RefundInvalidError(
            f"At most {refundable} kopecks can be refunded for this order.",
            details={"reason": "over_refundable", "refundable_kopecks": refundable},
        )
    return amount
