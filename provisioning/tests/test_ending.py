"""Cancellation at the end of the paid period (`Service.ends_on`): the service is not
renewed and is terminated on its end day through the normal lifecycle; paying the next
period anyway withdraws the cancellation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from djmoney.money import Money

from billing_portal.common.audit import AuditEvent
from catalogue.tests.factories import ProductPriceFactory
from provisioning import services
from provisioning.errors import ProvisioningError
from provisioning.models import Service

pytestmark = pytest.mark.django_db
DUE = date(2026, 4, 10)


def _service(customer, **extra) -> Service:
    values = {"status": "active", "next_due_date": DUE, **extra}
    return Service.objects.create(
        customer=customer,
        product=ProductPriceFactory().product,
        cycle="monthly",
        currency="USD",
        recurring_amount=Money(Decimal("10.00"), "USD"),
        **values,
    )


def test_ending_at_period_end_sets_the_day_once_and_is_audited(customer):
    service = _service(customer)
    assert services.service_end_at_period_end(service_id=service.pk).ends_on == DUE
    Service.objects.filter(pk=service.pk).update(next_due_date=date(2026, 5, 10))
    assert services.service_end_at_period_end(service_id=service.pk).ends_on == DUE  # kept
    assert AuditEvent.objects.filter(action="service.ending").count() == 1
    pending = _service(customer, status="pending", next_due_date=None)
    with pytest.raises(ProvisioningError, match="running service"):
        services.service_end_at_period_end(service_id=pending.pk)


def test_an_ending_service_is_not_renewed_and_ends_on_its_day(customer):
    ending = _service(customer, ends_on=DUE)
    running = _service(customer)
    due = services.services_due_for_renewal(by=DUE)
    assert list(due) == [running]
    assert services.services_lock_for_renewal(service_ids=[ending.pk, running.pk]) == [running]
    assert services.services_ending(today=date(2026, 4, 9)) == []
    assert not services.service_end_if_due(service_id=ending.pk, today=date(2026, 4, 9))
    assert services.services_ending(today=DUE) == [ending.pk]
    assert services.service_end_if_due(service_id=ending.pk, today=DUE)
    ending.refresh_from_db()
    assert ending.status == "terminated"
    assert not services.service_end_if_due(service_id=ending.pk, today=DUE)  # once
