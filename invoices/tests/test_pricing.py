"""Line arithmetic: exclusive and inclusive prices, discounts, allocation. Decimal only."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing_portal.common.testing import usd
from invoices.pricing import allocate, line_amounts, totals_of
from invoices.tax import TaxTreatment

VAT19 = TaxTreatment("VAT", Decimal("19"), Decimal("19"))
EXEMPT19 = TaxTreatment("VAT", Decimal("0"), Decimal("19"))
NONE = TaxTreatment("Tax", Decimal("0"), Decimal("0"))


def _line(price, qty="1", discount="0", tax=VAT19, inclusive=False):
    return line_amounts(
        quantity=Decimal(qty),
        unit_price=usd(price),
        discount=usd(discount),
        tax=tax,
        prices_include_tax=inclusive,
    )


def _adds_up(line) -> bool:
    return line.total == line.amount - line.discount + line.tax


def test_exclusive_prices_add_tax_after_discount():
    line = _line("10.00", qty="3", discount="5.00")
    assert (line.amount, line.discount, line.tax, line.total) == (
        usd("30.00"),
        usd("5.00"),
        usd("4.75"),
        usd("29.75"),
    )


def test_inclusive_prices_charge_the_list_price_to_a_taxable_buyer():
    line = _line("11.90", inclusive=True)
    assert (line.amount, line.tax, line.total) == (usd("10.00"), usd("1.90"), usd("11.90"))
    assert _adds_up(line)


def test_inclusive_prices_charge_the_net_to_an_exempt_buyer():
    line = _line("11.90", tax=EXEMPT19, inclusive=True)
    assert (line.amount, line.tax, line.total) == (usd("10.00"), usd("0.00"), usd("10.00"))


@pytest.mark.parametrize("inclusive", [True, False])
@pytest.mark.parametrize("tax", [VAT19, EXEMPT19, NONE])
@pytest.mark.parametrize(
    ("price", "qty", "discount"),
    [("9.99", "1", "0"), ("0.01", "7", "0.03"), ("19.95", "2.5", "4.99"), ("100", "1", "150")],
)
def test_every_line_adds_up_and_never_goes_negative(price, qty, discount, tax, inclusive):
    line = _line(price, qty=qty, discount=discount, tax=tax, inclusive=inclusive)
    assert _adds_up(line)
    assert min(line.amount, line.discount, line.tax, line.total) >= usd("0")
    assert line.discount <= line.amount
    for value in (line.amount, line.discount, line.tax, line.total):
        assert isinstance(value.amount, Decimal)
        assert value.amount == value.amount.quantize(Decimal("0.01"))


def test_totals_sum_the_lines():
    lines = [_line("10.00"), _line("5.00", discount="1.00")]
    totals = totals_of(lines, "USD")
    assert totals.subtotal == usd("15.00")
    assert totals.discount_total == usd("1.00")
    assert totals.tax_total == usd("2.66")
    assert totals.total == usd("16.66")


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [
        ("10.00", ["30.00", "10.00"], ["7.50", "2.50"]),
        ("10.00", ["10.00", "10.00", "10.00"], ["3.33", "3.33", "3.34"]),
        ("50.00", ["20.00", "10.00"], ["20.00", "10.00"]),  # capped at the lines' sum
        ("5.00", ["0.00", "0.00"], ["0.00", "0.00"]),
    ],
)
def test_allocate_splits_exactly(total, weights, expected):
    assert allocate(usd(total), [usd(w) for w in weights]) == [usd(e) for e in expected]
