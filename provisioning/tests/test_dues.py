"""Provisioning's own rules for services whose bills fall due (provisioning/services/dues.py):
told only what is unpaid, they lock and judge the service themselves."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db.models import QuerySet
from djmoney.money import Money

from catalogue.tests.factories import ProductPriceFactory
from provisioning.models import Service
from provisioning.services import (
    service_suspend_if_overdue,
    service_terminate_if_overdue,
    services_due_for_renewal,
    services_lock_for_renewal,
    services_overdue_for_suspension,
    services_overdue_for_termination,
)

pytestmark = pytest.mark.django_db

TODAY = date(2026, 3, 10)


class Bills:
    """Unpaid bills as a test states them: service id -> the oldest unpaid due date."""

    def __init__(self, oldest_unpaid: dict[int, date]) -> None:
        self.oldest_unpaid = oldest_unpaid

    def service_ids_unpaid_since(self, *, cutoff: date) -> QuerySet:
        ids = [pk for pk, due in self.oldest_unpaid.items() if due <= cutoff]
        return Service.objects.filter(pk__in=ids).values("pk")

    def service_unpaid_since(self, *, service_id: int, cutoff: date) -> bool:
        due = self.oldest_unpaid.get(service_id)
        return due is not None and due <= cutoff


def _service(customer, status: str = "active", **extra) -> Service:
    return Service.objects.create(
        customer=customer,
        product=ProductPriceFactory().product,
        cycle=extra.pop("cycle", "monthly"),
        currency="USD",
        recurring_amount=Money(Decimal("10.00"), "USD"),
        status=status,
        next_due_date=extra.pop("next_due_date", date(2026, 3, 1)),
        **extra,
    )


def test_overdue_past_the_grace_days_is_suspended(customer, settings):
    settings.BILLING_SUSPEND_AFTER_DAYS = 3
    late = _service(customer)
    within_grace = _service(customer)
    held = _service(customer, suspension_hold_until=TODAY)
    paid = _service(customer)
    bills = Bills(
        {late.pk: TODAY - timedelta(days=3), within_grace.pk: TODAY - timedelta(days=2)}
        | {held.pk: TODAY - timedelta(days=9)}
    )

    assert services_overdue_for_suspension(today=TODAY, bills=bills) == [late.pk]
    results = {
        service.pk: service_suspend_if_overdue(service_id=service.pk, today=TODAY, bills=bills)
        for service in (late, within_grace, held, paid)
    }

    assert results == {late.pk: True, within_grace.pk: False, held.pk: False, paid.pk: False}
    statuses = dict(Service.objects.values_list("pk", "status"))
    assert statuses == {late.pk: "suspended", within_grace.pk: "active"} | {
        held.pk: "active",
        paid.pk: "active",
    }
    # Asked again, the rule sees the suspended service and changes nothing.
    assert not service_suspend_if_overdue(service_id=late.pk, today=TODAY, bills=bills)


def test_long_overdue_running_services_are_terminated(customer, settings):
    settings.BILLING_TERMINATE_AFTER_DAYS = 30
    suspended = _service(customer, status="suspended")
    active = _service(customer)
    recent = _service(customer, status="suspended")
    cancelled = _service(customer, status="cancelled")
    long_ago = TODAY - timedelta(days=30)
    bills = Bills(
        {suspended.pk: long_ago, active.pk: long_ago, cancelled.pk: long_ago}
        | {recent.pk: TODAY - timedelta(days=29)}
    )

    assert sorted(services_overdue_for_termination(today=TODAY, bills=bills)) == sorted(
        [suspended.pk, active.pk]
    )
    for service in (suspended, active, recent, cancelled):
        service_terminate_if_overdue(service_id=service.pk, today=TODAY, bills=bills)

    statuses = dict(Service.objects.values_list("pk", "status"))
    assert statuses == {suspended.pk: "terminated", active.pk: "terminated"} | {
        recent.pk: "suspended",
        cancelled.pk: "cancelled",
    }


def test_due_for_renewal_are_the_running_recurring_services(customer):
    due = _service(customer, next_due_date=TODAY)
    suspended = _service(customer, status="suspended", next_due_date=TODAY)
    _service(customer, next_due_date=TODAY + timedelta(days=1))  # later
    _service(customer, cycle="one_time", next_due_date=TODAY)
    _service(customer, status="pending", next_due_date=TODAY)
    ended = _service(customer, status="terminated", next_due_date=TODAY)

    assert list(services_due_for_renewal(by=TODAY)) == [due, suspended]
    locked = services_lock_for_renewal(service_ids=[suspended.pk, ended.pk, due.pk])
    assert locked == [due, suspended]
