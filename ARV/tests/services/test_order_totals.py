"""Order amounts: per line, rounded to the kopeck, and the order's as the sums of its lines;
refunds within what was paid."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.exceptions import RefundInvalidError
from app.models.billing import VatRate
from app.services.order_totals import Amounts, line_amounts, order_amounts, refund_amount

prices = st.integers(min_value=0, max_value=10**12)
quantities = st.integers(min_value=0, max_value=1000)
rates = st.sampled_from(list(VatRate))
lines = st.tuples(prices, quantities, rates, st.booleans())


@given(prices, quantities, rates, st.booleans())
def test_a_line_is_never_negative_and_adds_up(
    price: int, quantity: int, rate: VatRate, included: bool
) -> None:
    amounts = line_amounts(price, quantity, rate, included)
    assert min(amounts.net_kopecks, amounts.vat_kopecks, amounts.total_kopecks) >= 0
    assert amounts.net_kopecks + amounts.vat_kopecks == amounts.total_kopecks
    # What the customer is charged: the price when it holds the VAT, else price plus VAT.
    charged = amounts.total_kopecks if included else amounts.net_kopecks
    assert charged == price * quantity


@given(prices, quantities, rates, st.booleans())
def test_vat_is_the_rate_rounded_to_the_kopeck(
    price: int, quantity: int, rate: VatRate, included: bool
) -> None:
    amounts = line_amounts(price, quantity, rate, included)
    exact = amounts.net_kopecks * rate.percent / 100
    # Rounding the VAT (or the part of a price it is) moves it by at most half a kopeck of
    # the base it was computed on, plus the rate's share of that half when included.
    assert abs(amounts.vat_kopecks - exact) <= 1


@given(st.lists(lines, max_size=20))
def test_the_order_total_is_the_sum_of_its_lines(
    items: list[tuple[int, int, VatRate, bool]],
) -> None:
    each = [line_amounts(*item) for item in items]
    total = order_amounts(each)
    assert total.total_kopecks == sum(line.total_kopecks for line in each)
    assert total.net_kopecks == sum(line.net_kopecks for line in each)
    assert total.vat_kopecks == sum(line.vat_kopecks for line in each)
    assert total.net_kopecks + total.vat_kopecks == total.total_kopecks
    assert total.total_kopecks >= 0


@pytest.mark.parametrize(
    ("price", "quantity", "rate", "included", "expected"),
    [
        # 1,000.00 RUB holding 22% VAT: 180.33 of it is VAT (1000 x 22/122 = 180.327...).
        (100_000, 1, VatRate.VAT_22, True, Amounts(81_967, 18_033, 100_000)),
        # 10.00 RUB plus 20% on top.
        (1_000, 1, VatRate.VAT_20, False, Amounts(1_000, 200, 1_200)),
        # Rounded per line, halves up: 3 x 0.25 RUB at 10% on top is 7.5 kopecks of VAT.
        (25, 3, VatRate.VAT_10, False, Amounts(75, 8, 83)),
        (4_990, 2, VatRate.NONE, True, Amounts(9_980, 0, 9_980)),
    ],
)
def test_known_amounts(
    price: int, quantity: int, rate: VatRate, included: bool, expected: Amounts
) -> None:
    assert line_amounts(price, quantity, rate, included) == expected


def test_negative_prices_and_quantities_are_refused() -> None:
    with pytest.raises(ValueError, match="not negative"):
        line_amounts(-1, 1, VatRate.VAT_20, True)
    with pytest.raises(ValueError, match="not negative"):
        line_amounts(100, -1, VatRate.VAT_20, True)


@given(
    st.integers(min_value=0, max_value=10**12),
    st.lists(st.one_of(st.none(), st.integers(min_value=-10, max_value=10**12)), max_size=12),
)
def test_refunds_never_exceed_what_was_paid(paid: int, asks: list[int | None]) -> None:
    """Whatever is asked, in whatever order: each refund given is positive and at most what
    is left, their sum never exceeds what was paid, and a refusal changes nothing."""
    refunded = 0
    for asked in asks:
        left = paid - refunded
        if left <= 0 or (asked is not None and not 0 < asked <= left):
            with pytest.raises(RefundInvalidError) as refusal:
                refund_amount(paid, refunded, asked)
            assert refusal.value.details["refundable_kopecks"] == max(left, 0)
            continue
        amount = refund_amount(paid, refunded, asked)
        assert 0 < amount <= paid - refunded
        if asked is not None:
            assert amount == asked
        refunded += amount
        assert refunded <= paid
    if None in asks and paid > 0:
        assert refunded == paid  # "everything left" was asked at least once


def test_a_refund_of_everything_left_is_what_was_not_refunded_yet() -> None:
    assert refund_amount(299_000, 100_000, None) == 199_000
    with pytest.raises(RefundInvalidError, match="refunded already"):
        refund_amount(299_000, 299_000, None)
    with pytest.raises(RefundInvalidError, match="At most 199000"):
        refund_amount(299_000, 100_000, 199_001)
