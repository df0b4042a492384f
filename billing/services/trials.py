"""Free trials in order placement (billing/services/ordering.py).

A product's trial is offered on a customer's first order of it (catalogue/trials.py: once
per customer and per saved card) on a recurring cycle. The trial's order invoice prices the
service and its options at zero for the trial's days and waives setup fees, so it is paid
as it is issued and settlement activates (provisions) the service at once, with its period
ending on the trial's last day. From there it is any service: the billing run issues its
first real invoice as a renewal ahead of the due date, reminds, and suspends it if it is
still unpaid, exactly as for any overdue renewal. No second path exists for trials.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from djmoney.money import Money

from accounts.models import Customer
from catalogue.errors import CouponInvalid
from catalogue.models import BillingCycle, Coupon, Product
from catalogue.trials import trial_available
from invoices.models import InvoiceLine
from invoices.services.invoices import LineDraft
from payments.selectors import card_fingerprints_of, card_holders_of

# How "then X per cycle" reads for each recurring cycle.
PER_CYCLE: dict[str, str] = {
    BillingCycle.MONTHLY: "per month",
    BillingCycle.QUARTERLY: "per quarter",
    BillingCycle.SEMIANNUAL: "every 6 months",
    BillingCycle.ANNUAL: "per year",
    BillingCycle.BIENNIAL: "every 2 years",
}


@dataclass(frozen=True)
class TrialOffer:
    """The trial an order starts: its days, its last free day, and the fingerprints of the
    customer's saved cards (kept with the redemption)."""

    days: int
    ends_on: date
    card_fingerprints: list[str]


def trial_offer(
    *, customer: Customer, product: Product, cycle: str, today: date
) -> TrialOffer | None:
    """The trial this order would start, or None (no trial, a one-time cycle, or the customer
    or one of their cards has had this product's trial)."""
    if product.trial_days <= 0 or cycle == BillingCycle.ONE_TIME:
        return None
    fingerprints = card_fingerprints_of(customer=customer)
    holders = card_holders_of(fingerprints=fingerprints)
    if not trial_available(
        customer=customer,
        product=product,
        card_fingerprints=fingerprints,
        card_holder_ids=holders,
    ):
        return None
    return TrialOffer(
        days=product.trial_days,
        ends_on=today + timedelta(days=product.trial_days - 1),
        card_fingerprints=fingerprints,
    )


def trial_coupon_check(coupon: Coupon | None) -> None:
    """A first-invoice coupon would be used up on the free invoice: refuse it rather than
    let it count for nothing (a recurring coupon applies to the renewals, as usual)."""
    if coupon is not None and coupon.applies == Coupon.Applies.FIRST_INVOICE:
        raise CouponInvalid(
            "This coupon discounts a first invoice, and a free trial's first invoice is "
            "free. Order without it."
        )


def trial_lines(lines: list[LineDraft], trial: TrialOffer, currency: str) -> list[LineDraft]:
    """The order's lines for a trial: service and options free for the trial's days, no
    setup fees."""
    free = Money(0, currency)
    result = []
    for line in lines:
        if line.kind == InvoiceLine.Kind.SETUP_FEE:
            continue
        description = line.description
        if line.kind == InvoiceLine.Kind.SERVICE:
            description = f"{description}: {trial.days}-day free trial"
        period = {"period_start": line.period_start, "period_end": trial.ends_on}
        result.append(
            LineDraft(**{**line.__dict__, **period, "description": description, "unit_price": free})
        )
    return result


def trial_summary(*, days: int, then: Money | None, cycle: str) -> str:
    """How the order page and the API say it: "14 days free, then $10.00 per month"."""
    per = PER_CYCLE.get(cycle, "")
    return f"{days} days free, then {then} {per}".strip()
