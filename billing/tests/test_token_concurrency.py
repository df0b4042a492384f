"""Duplicate delivery tasks for one token purchase at the same moment (a redelivered broker
message, the sweeper), on a real PostgreSQL server: VirtFusion is called once."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
from djmoney.money import Money

from accounts.tests.factories import CustomerFactory
from billing import services as billing_services
from billing.models import TokenPurchase
from billing_portal.common.testing import VIRTFUSION_API as VF
from billing_portal.common.testing import errors_of, run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WORKERS = 6


def test_concurrent_deliveries_call_virtfusion_once(virtfusion_settings, mocked):
    customer = CustomerFactory()
    credit = TokenPurchase.objects.create(
        customer=customer,
        source="staff",
        status="pending",
        tokens=Decimal("300"),
        rate=100,
        currency="USD",
        amount=Money(0, "USD"),
        reason="Goodwill",
    )
    mocked.get(
        f"{VF}/users/{customer.pk}/byExtRelation",
        json={"data": {"id": 5, "extRelationId": customer.pk, "email": "a@b.c"}},
    )

    def slow_credit(request):
        time.sleep(0.3)  # the call is in flight while the other workers arrive
        return 201, {}, json.dumps({"data": {"id": 808}})

    url = f"{VF}/selfService/credit/byUserExtRelationId/{customer.pk}"
    mocked.add_callback("POST", url, callback=slow_credit)

    def deliver() -> TokenPurchase:
        return billing_services.token_purchase_deliver(token_purchase_id=credit.pk)

    assert errors_of(run_together([deliver] * WORKERS)) == []
    assert sum(1 for call in mocked.calls if call.request.url == url) == 1
    credit.refresh_from_db()
    assert (credit.status, credit.virtfusion_credit_id, credit.attempts) == ("delivered", 808, 1)
