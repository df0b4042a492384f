"""Provisioning's own rules for services whose bills fall due: which are due for renewal, and
when a service is overdue enough to suspend or to terminate.

The billing run (billing/services/run.py) asks; these lock and judge the Service rows. What
is unpaid is the invoices' knowledge: the run passes it as an `UnpaidBills` (invoices'
`unpaid_service_bills`), so provisioning never imports invoices. Each rule locks the service
first and asks about its bills after the lock: a payment committed meanwhile counts, and a
payment waiting on the lock finds the new status (and lifts a suspension).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Protocol

from django.conf import settings
from django.db.models import F, Q, QuerySet

from provisioning.locks import service_lock, services_lock
from provisioning.models import Service
from provisioning.services.lifecycle import service_suspend, service_terminate

RENEWABLE = (Service.Status.ACTIVE, Service.Status.SUSPENDED)
# The catalogue's BillingCycle.ONE_TIME: bought once, never renewed. Spelled out because the
# cycles live in invoices (above provisioning) until the catalogue app takes them (issue 13).
ONE_TIME = "one_time"


class UnpaidBills(Protocol):
    """What the rules need to know of a service's unpaid bills."""

    def service_ids_unpaid_since(self, *, cutoff: date) -> QuerySet[Any]:
        """A subquery of the ids of services with a bill unpaid since `cutoff` or earlier."""
        ...

    def service_unpaid_since(self, *, service_id: int, cutoff: date) -> bool: ...


def services_due_for_renewal(*, by: date) -> QuerySet[Service]:
    """Running recurring services whose next period starts on or before `by`, grouped by
    customer, due date and currency (the order renewals may be combined in)."""
    return (
        Service.objects.filter(status__in=RENEWABLE, next_due_date__lte=by)
        .exclude(cycle=ONE_TIME)
        .exclude(ending_by_due_date())
        .order_by("customer_id", "next_due_date", "currency", "pk")
    )


def ending_by_due_date() -> Q:
    """Services cancelled at the end of their period: their next period is never billed."""
    return Q(ends_on__isnull=False, ends_on__lte=F("next_due_date"))


def services_lock_for_renewal(*, service_ids: list[int]) -> list[Service]:
    """Lock these services, in id order, and return those still renewable."""
    # of=("self",): PostgreSQL cannot lock the nullable side of the coupon outer join.
    related = ("customer__user", "product", "recurring_coupon")
    locked = services_lock(service_ids=service_ids, statuses=RENEWABLE, related=related)
    # Re-checked on the locked rows: the customer may have cancelled at period end meanwhile.
    return [
        s for s in locked if not (s.ends_on and s.next_due_date and s.ends_on <= s.next_due_date)
    ]


def _ends_by_due_date(service: Service) -> bool:
    due, ends = service.next_due_date, service.ends_on
    return bool(due and ends and ends <= due)


# --- Suspension ---------------------------------------------------------------------------


def _suspend_cutoff(today: date) -> date:
    return today - timedelta(days=settings.BILLING_SUSPEND_AFTER_DAYS)


def services_overdue_for_suspension(*, today: date, bills: UnpaidBills) -> list[int]:
    """Active services, not on a suspension hold, with a bill unpaid past the grace days."""
    return list(
        Service.objects.filter(status=Service.Status.ACTIVE)
        .filter(pk__in=bills.service_ids_unpaid_since(cutoff=_suspend_cutoff(today)))
        .exclude(suspension_hold_until__gte=today)
        .values_list("pk", flat=True)
    )


def service_suspend_if_overdue(*, service_id: int, today: date, bills: UnpaidBills) -> bool:
    """Suspend the service if it is active, not on hold and still overdue. True if done."""
    service = service_lock(service_id)
    held = service.suspension_hold_until and service.suspension_hold_until >= today
    if service.status != Service.Status.ACTIVE or held:
        return False
    if not bills.service_unpaid_since(service_id=service.pk, cutoff=_suspend_cutoff(today)):
        return False
    service_suspend(service_id=service.pk, reason="overdue invoice")
    return True


# --- Termination --------------------------------------------------------------------------


def _terminate_cutoff(today: date) -> date:
    return today - timedelta(days=settings.BILLING_TERMINATE_AFTER_DAYS)


def services_overdue_for_termination(*, today: date, bills: UnpaidBills) -> list[int]:
    """Running services with a bill unpaid long enough to end them."""
    return list(
        Service.objects.filter(status__in=RENEWABLE)
        .filter(pk__in=bills.service_ids_unpaid_since(cutoff=_terminate_cutoff(today)))
        .values_list("pk", flat=True)
    )


def service_terminate_if_overdue(*, service_id: int, today: date, bills: UnpaidBills) -> bool:
    """Terminate the service if it still runs and is still that long overdue. True if done."""
    service = service_lock(service_id)
    if service.status not in RENEWABLE:
        return False
    if not bills.service_unpaid_since(service_id=service.pk, cutoff=_terminate_cutoff(today)):
        return False
    service_terminate(service_id=service.pk, reason="invoice unpaid")
    return True
