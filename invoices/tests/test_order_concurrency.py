"""Concurrent orders for the last unit in stock, on a real PostgreSQL server."""

from __future__ import annotations

import pytest

from accounts.tests.factories import CustomerFactory
from billing import services as billing_services
from billing_portal.common.testing import run_together
from catalogue.errors import OutOfStock
from catalogue.tests.factories import ProductPriceFactory
from provisioning.models import Service

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BUYERS = 6


def test_the_last_unit_is_sold_once():
    product = ProductPriceFactory().product
    product.stock_limit = 1
    product.save()
    customers = [CustomerFactory() for _ in range(BUYERS)]
    request = billing_services.OrderRequest(product=product, cycle="monthly", currency="USD")

    def buy(customer) -> str:
        billing_services.order_place(customer=customer, request=request)
        return "sold"

    results = run_together(lambda c=customer: buy(c) for customer in customers)
    outcomes = ["sold out" if isinstance(r, OutOfStock) else r for r in results]
    assert sorted(outcomes) == ["sold"] + ["sold out"] * (BUYERS - 1)
    assert Service.objects.count() == 1
