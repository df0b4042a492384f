"""Line and invoice arithmetic: Decimal only, one rounding rule, no database access.

Every line is reduced to four stored amounts that always satisfy
`total = amount - discount + tax` (the same CHECK the database enforces):
- exclusive prices: amount is the list price; tax is added on (amount - discount);
- inclusive prices: the list price contains the buyer's location tax, so amount is the list
  price without it; a taxable buyer pays exactly the list price minus the discount, while an
  exempt or reverse-charge buyer pays the net.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from djmoney.money import Money

from billing_portal.common.money import money_quantize, money_zero
from invoices.tax import TaxTreatment

HUNDRED = Decimal("100")


@dataclass(frozen=True)
class LineAmounts:
    amount: Money
    discount: Money
    tax: Money
    total: Money


@dataclass(frozen=True)
class Totals:
    subtotal: Money
    discount_total: Money
    tax_total: Money
    total: Money


def line_amounts(
    *,
    quantity: Decimal,
    unit_price: Money,
    discount: Money,
    tax: TaxTreatment,
    prices_include_tax: bool,
) -> LineAmounts:
    """Amounts of one line; `discount` is on the same (list price) basis as `unit_price`."""
    listed = money_quantize(unit_price * quantity)
    # A negative line (a client group discount) is all discount already: none on top.
    discount = max(min(money_quantize(discount), listed), money_zero(str(listed.currency)))
    if prices_include_tax:
        divisor = 1 + tax.location_rate / HUNDRED
        amount = money_quantize(listed / divisor)
        net = money_quantize((listed - discount) / divisor)
        paid_gross = listed - discount
        line_tax = paid_gross - net if tax.rate else money_zero(str(listed.currency))
        return LineAmounts(amount, amount - net, line_tax, net + line_tax)
    line_tax = money_quantize((listed - discount) * (tax.rate / HUNDRED))
    return LineAmounts(listed, discount, line_tax, listed - discount + line_tax)


def totals_of(lines: Iterable[LineAmounts], currency: str) -> Totals:
    zero = money_zero(currency)
    lines = list(lines)
    subtotal = sum((line.amount for line in lines), zero)
    discount = sum((line.discount for line in lines), zero)
    tax = sum((line.tax for line in lines), zero)
    return Totals(subtotal, discount, tax, subtotal - discount + tax)


def percent_of(amount: Money, percent: Decimal) -> Money:
    return money_quantize(amount * (percent / HUNDRED))


def allocate(total: Money, weights: list[Money]) -> list[Money]:
    """Split `total` across lines in proportion to `weights`, capped at their sum, so the
    parts add up to exactly the (capped) total; the last line takes the rounding rest."""
    currency = str(total.currency)
    whole = sum(weights, money_zero(currency))
    if whole.amount <= 0:
        return [money_zero(currency) for _ in weights]
    total = min(total, whole)
    parts = [money_quantize(total * (weight.amount / whole.amount)) for weight in weights[:-1]]
    return [*parts, total - sum(parts, money_zero(currency))]
