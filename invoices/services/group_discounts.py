"""Client group discounts on invoice lines: the customer's group takes a percentage off the
lines of one product (orders, renewals, plan changes), shown as its own negative line.

Order of application, the same on every invoice: the coupon first, on the list prices (as
`coupon_apply` sets each line's discount), then the group discount on what is left of each
line after the coupon. Taking the group's percentage of the already-couponed amount makes
the two compound (20% and 10% off: 28% off), so together they never exceed the price, and a
fixed coupon is worth exactly its face value whatever group the customer is in.

Rounding: the group's percentage of each discounted line is rounded half-up to the
currency's minor unit (cents), per line; the group line is the sum of those parts, taxed
like the lines it reduces (a negative tax). The discount is read when the invoice is priced,
so a customer moved to another group (or out of one) pays the new price from the next
invoice on; issued invoices are never repriced.
"""

from __future__ import annotations

from djmoney.money import Money

from billing_portal.common.money import money_quantize, money_zero
from catalogue.models import ClientGroupDiscount
from catalogue.selectors import GroupDiscounts
from invoices.models import InvoiceLine
from invoices.pricing import percent_of
from invoices.services.invoices import LineDraft

# What a client group discount reduces: the product's own price, its add-ons, their usage
# and a plan change's difference; setup fees only where the discount says so.
DISCOUNTED_KINDS = frozenset(
    {
        InvoiceLine.Kind.SERVICE,
        InvoiceLine.Kind.OPTION,
        InvoiceLine.Kind.OVERAGE,
        InvoiceLine.Kind.PLAN_CHANGE,
    }
)


def _discounted_kinds(rule: ClientGroupDiscount) -> frozenset[str]:
    if rule.includes_setup_fees:
        return DISCOUNTED_KINDS | {InvoiceLine.Kind.SETUP_FEE}
    return DISCOUNTED_KINDS


def _after_coupon(line: LineDraft) -> Money:
    listed = money_quantize(line.unit_price * line.quantity)
    if line.discount is None:
        return listed
    return listed - min(money_quantize(line.discount), listed)


def group_discount_of(
    *, amounts: list[tuple[str, Money]], rule: ClientGroupDiscount, currency: str
) -> Money:
    """The group's discount on lines of these (kind, amount after coupon): its percentage of
    each line it applies to, rounded half-up to cents per line, summed."""
    kinds = _discounted_kinds(rule)
    parts = [percent_of(amount, rule.percent) for kind, amount in amounts if kind in kinds]
    return sum(parts, money_zero(currency))


def _label(discounts: GroupDiscounts, rule: ClientGroupDiscount) -> str:
    percent = f"{rule.percent.normalize():f}"
    return f"{discounts.group_name} discount ({percent}%)"


def group_discount_apply(
    *,
    lines: list[LineDraft],
    discounts: GroupDiscounts | None,
    product_group_id: int | None,
    currency: str,
    service_id: int | None = None,
) -> list[LineDraft]:
    """The lines (of one product, coupon already applied) followed by the customer's group
    discount line, when the group has a discount for the product's group (or everything)."""
    rule = discounts.for_product_group(product_group_id) if discounts else None
    if discounts is None or rule is None:
        return lines
    amounts = [(line.kind, _after_coupon(line)) for line in lines]
    off = group_discount_of(amounts=amounts, rule=rule, currency=currency)
    if not off.amount:
        return lines
    line = LineDraft(
        kind=InvoiceLine.Kind.GROUP_DISCOUNT,
        description=_label(discounts, rule),
        unit_price=-off,
        service_id=service_id,
    )
    return [*lines, line]


def group_discounted(
    *, amount: Money, discounts: GroupDiscounts | None, product_group_id: int | None
) -> Money:
    """`amount` (a recurring price or a plan change's difference) less the customer's group
    discount on it, rounded as an invoice line would be."""
    rule = discounts.for_product_group(product_group_id) if discounts else None
    if rule is None:
        return amount
    return amount - percent_of(amount, rule.percent)
