"""Free trials: whether a customer may still take a product's trial, and the redemption
that uses it up. A trial is once per customer and product, and once per card: a card
(by its provider's fingerprint) that was saved on an account when it took the trial, or
is saved now on an account that took it, cannot start it again elsewhere. The cards are
payments'; billing, which places the order, passes their fingerprints and holders in.

The check runs under the product's row lock in order placement, and a unique constraint
on (customer, product) backs it."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from django.db.models import Q

from accounts.models import Customer
from catalogue.models import Order, Product, TrialCardFingerprint, TrialRedemption


def trial_available(
    *,
    customer: Customer,
    product: Product,
    card_fingerprints: Collection[str],
    card_holder_ids: Collection[int],
) -> bool:
    """May `customer` start `product`'s trial? `card_fingerprints` are the customer's saved
    cards', `card_holder_ids` the customers who have one of those cards saved now."""
    if product.trial_days <= 0:
        return False
    holders = {customer.pk, *card_holder_ids}
    taken = Q(customer_id__in=holders)
    if card_fingerprints:
        taken |= Q(card_fingerprints__fingerprint__in=list(card_fingerprints))
    return not TrialRedemption.objects.filter(taken, product=product).exists()


def trial_redemption_create(
    *, order: Order, product: Product, ends_on: date, card_fingerprints: Collection[str]
) -> TrialRedemption:
    """Use up the customer's trial of `product` on `order` (call inside order placement,
    after `trial_available` under the product's lock)."""
    redemption = TrialRedemption.objects.create(
        customer_id=order.customer_id,
        product=product,
        order=order,
        days=product.trial_days,
        ends_on=ends_on,
    )
    TrialCardFingerprint.objects.bulk_create(
        TrialCardFingerprint(redemption=redemption, fingerprint=fingerprint)
        for fingerprint in sorted(set(card_fingerprints))
    )
    return redemption
