"""Concurrent zone creations for one customer on PostgreSQL: the plan's domain limit holds."""

from __future__ import annotations

from decimal import Decimal

import pytest
from djmoney.money import Money

from accounts.tests.factories import CustomerFactory
from billing_portal.common.testing import errors_of, run_together
from credits.services import credit_entry_append
from dnszones import services
from dnszones.errors import LimitReached
from dnszones.models import Zone
from dnszones.tests.plans import buy, dns_seed

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_parallel_zone_creations_stop_at_the_domain_limit(monkeypatch):
    monkeypatch.setattr(services, "delegation_check", lambda name: None)
    dns_seed()
    customer = CustomerFactory()
    credit_entry_append(
        customer=customer,
        amount=Money(Decimal("5"), "USD"),
        kind="admin_add",
        idempotency_key="fund",
    )
    buy(customer)
    outcomes = run_together(
        lambda n=n: services.zone_create(customer=customer, name=f"site{n}.example")
        for n in range(6)
    )
    refused = [o for o in errors_of(outcomes) if isinstance(o, LimitReached)]
    assert errors_of(outcomes) == refused
    assert (Zone.objects.filter(customer=customer).count(), len(refused)) == (3, 3)


def test_two_first_plan_purchases_at_once_place_one_order():
    """Two confirmations of a first DNS plan at once (two tabs, a double click): the
    customer's lock makes the second see the first's service and refuse."""
    from billing.services import OrderRequest, order_place_sole
    from catalogue.errors import AlreadyHeld
    from catalogue.models import Product
    from dnszones.demo import dns_plan_slug
    from provisioning.models import Service

    dns_seed()
    customer = CustomerFactory()
    plan = Product.objects.get(slug=dns_plan_slug("Basic"))
    request = OrderRequest(product=plan, cycle="monthly", currency="USD")
    outcomes = run_together(
        lambda: order_place_sole(customer=customer, request=request) for _ in range(4)
    )
    refused = [o for o in errors_of(outcomes) if isinstance(o, AlreadyHeld)]
    assert errors_of(outcomes) == refused
    assert len(refused) == 3
    assert Service.objects.filter(customer=customer, product__module="dns").count() == 1
