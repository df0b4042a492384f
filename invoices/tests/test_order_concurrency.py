"""Concurrent orders for the last unit in stock, on a real PostgreSQL server."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from accounts.tests.factories import CustomerFactory
from invoices import services
from invoices.errors import OutOfStock
from invoices.tests.factories import ProductPriceFactory
from provisioning.models import Service

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BUYERS = 6


def test_the_last_unit_is_sold_once():
    product = ProductPriceFactory().product
    product.stock_limit = 1
    product.save()
    customers = [CustomerFactory() for _ in range(BUYERS)]
    barrier = threading.Barrier(BUYERS)
    outcomes: list[str] = []

    def buy(customer) -> None:
        request = services.OrderRequest(product=product, cycle="monthly", currency="USD")
        try:
            barrier.wait()
            services.order_place(customer=customer, request=request)
            outcomes.append("sold")
        except OutOfStock:
            outcomes.append("sold out")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=buy, args=(customer,)) for customer in customers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["sold"] + ["sold out"] * (BUYERS - 1)
    assert Service.objects.count() == 1
