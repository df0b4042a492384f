"""Money helpers: one rounding rule, exact minor-unit conversion."""

from decimal import Decimal

import pytest
from djmoney.money import Money

from billing_portal.common.money import (
    money_from_minor_units,
    money_quantize,
    money_to_minor_units,
)


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [("10.005", "USD", "10.01"), ("10.004", "USD", "10.00"), ("99.5", "JPY", "100")],
)
def test_quantize_rounds_half_up_to_the_minor_unit(amount, currency, expected):
    assert money_quantize(Money(Decimal(amount), currency)) == Money(Decimal(expected), currency)


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [("12.34", "USD", 1234), ("0.01", "EUR", 1), ("500", "JPY", 500), ("1.234", "KWD", 1234)],
)
def test_minor_units_round_trip(amount, currency, minor):
    money = Money(Decimal(amount), currency)
    assert money_to_minor_units(money) == minor
    assert money_from_minor_units(minor, currency) == money


def test_minor_units_refuse_lossy_conversion():
    with pytest.raises(ValueError, match="more precision"):
        money_to_minor_units(Money(Decimal("1.001"), "USD"))
