"""Free trials ordered at the same moment, on a real PostgreSQL server: the same customer
twice and another account with the same card get one trial between them (the check runs
under the product's row lock); the other orders are ordinary, unpaid ones."""

from __future__ import annotations

import pytest

from accounts.tests.factories import CustomerFactory
from billing import services as billing_services
from billing_portal.common.testing import errors_of, run_together, usd
from catalogue.models import Order, TrialRedemption
from catalogue.tests.factories import ProductFactory, ProductPriceFactory
from payments.gateways.base import SavedCard
from payments.services.cards import card_store

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_racing_trial_orders_start_one_trial():
    product = ProductFactory(slug="rust", trial_days=14)
    ProductPriceFactory(product=product, cycle="monthly", price=usd("10.00"))
    first, second = CustomerFactory(), CustomerFactory()
    for customer, reference in ((first, "pm_1"), (second, "pm_2")):
        card = SavedCard(reference, "visa", "4242", 4, 2030, fingerprint="fp_shared")
        card_store(customer=customer, gateway="stripe", card=card)
    request = billing_services.OrderRequest(product=product, cycle="monthly", currency="USD")

    outcomes = run_together(
        [
            lambda customer=customer: billing_services.order_place(
                customer=customer, request=request
            )
            for customer in (first, first, second, second)
        ]
    )
    assert errors_of(outcomes) == []
    assert TrialRedemption.objects.count() == 1
    statuses = sorted(Order.objects.values_list("status", flat=True))
    assert statuses == ["completed", "pending", "pending", "pending"]
