"""The daily billing run: renewals, reminders, late fees, suspension, termination and the
end of services cancelled at the end of their period, and the cancellation of unpaid new
orders, abandoned credit or token purchases and unpaid upgrades. DNS plans are products like
any other (the `dns` provisioning module): they renew, suspend and end through these steps.

`manage.py billing_run` and the `billing.billing_run` beat task both call `billing_run()`.
The run orchestrates; it judges and locks nothing itself. Each step asks the owning app for
what is due (one query), then hands each item to that app's own rule in its own
transaction, and counts what changed:
- renewals: provisioning selects and locks the services due; invoices builds the lines and
  issues the renewal invoice;
- reminders, late fees and unpaid purchases: invoices' dunning rules; unpaid orders:
  billing's ordering flow (it cancels the invoice and the services);
- suspension and termination: provisioning's overdue rules, told what is unpaid by invoices;
  the renewals left billing a terminated service are cancelled by invoices;
- services cancelled at the end of their period: provisioning ends them on their day, and
  invoices cancels their unpaid renewals;
- upgrades not paid in time: billing's plan changes.
So:
- one failing item is recorded on the BillingRun and never stops or rolls back the others;
- running twice, or two runs at once, changes nothing the second time: renewals are unique
  per (service, period start), notices per (invoice, kind), and each rule re-checks the
  locked row.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import groupby
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from billing.models import BillingRun
from billing.services.changes import plan_change_expire, plan_changes_expiring
from billing.services.issuing import invoice_issued
from billing.services.ordering import order_cancel_if_pending, orders_unpaid_due
from invoices.locks import invoices_lock_unpaid_renewals_of
from invoices.selectors import service_next_period_billed, service_period_billed
from invoices.selectors import unpaid_service_bills as bills
from invoices.services.dunning import (
    invoice_late_fee_charge,
    invoice_late_fees_due,
    invoice_remind_if_due,
    invoice_reminders_due,
    purchase_cancel_if_unpaid,
    purchases_abandoned_due,
    renewals_cancel_for_ended_service,
)
from invoices.services.renewals import invoice_renewal_issue, renewal_lines
from provisioning.models import Service
from provisioning.services import (
    service_end_if_due,
    service_suspend_if_overdue,
    service_terminate_if_overdue,
    services_due_for_renewal,
    services_ending,
    services_lock_for_renewal,
    services_overdue_for_suspension,
    services_overdue_for_termination,
)

logger = logging.getLogger(__name__)


@dataclass
class RunContext:
    today: date
    counts: Counter[str] = field(default_factory=Counter)
    errors: list[dict[str, str]] = field(default_factory=list)

    def each(self, step: str, items: Iterable[Any], handle: Callable[[Any], int | bool]) -> None:
        """Handle items one transaction each; count what changed, record what failed."""
        self.counts[step] += 0
        for item in items:
            try:
                with transaction.atomic():
                    self.counts[step] += int(handle(item))
            except Exception as exc:  # one bad item must not stop the run
                logger.exception("billing run step %s failed for %r", step, item)
                self.errors.append(
                    {"step": step, "item": repr(item), "error": f"{type(exc).__name__}: {exc}"}
                )


def billing_run(*, today: date | None = None) -> BillingRun:
    today = today or timezone.localdate()
    run = BillingRun.objects.create(as_of=today)
    context = RunContext(today=today)
    renewals_issue(context)
    reminders_send(context)
    late_fees_charge(context)
    services_suspend_overdue(context)
    services_terminate_overdue(context)
    services_end_due(context)
    orders_cancel_unpaid(context)
    purchases_cancel_abandoned(context)
    upgrades_expire(context)
    run.counts = dict(context.counts)
    run.errors = context.errors
    run.status = (
        BillingRun.Status.COMPLETED_WITH_ERRORS if context.errors else BillingRun.Status.COMPLETED
    )
    run.finished_at = timezone.now()
    run.save(update_fields=["counts", "errors", "status", "finished_at"])
    return run


# --- Renewals -----------------------------------------------------------------------------


def renewal_candidates(*, today: date) -> QuerySet[Service]:
    """Services due within the renewal horizon whose next period is not billed yet."""
    horizon = today + timedelta(days=settings.BILLING_RENEWAL_DAYS_AHEAD)
    return services_due_for_renewal(by=horizon).exclude(service_next_period_billed())


def _renewal_groups(today: date) -> Iterable[list[int]]:
    rows = renewal_candidates(today=today).values_list(
        "pk", "customer_id", "next_due_date", "currency"
    )
    if not settings.BILLING_COMBINE_RENEWALS:
        return ([pk] for pk, *_ in rows.iterator())
    keyed = groupby(rows.iterator(), key=lambda row: row[1:])
    return ([row[0] for row in group] for _key, group in keyed)


def _renew(service_ids: list[int]) -> int:
    # Lock first, then check for an existing renewal in a new statement: under READ
    # COMMITTED a filter in the locking query itself is evaluated on the snapshot taken
    # before waiting for the lock, so it would miss a renewal a concurrent run just committed.
    services = [
        service
        for service in services_lock_for_renewal(service_ids=service_ids)
        if not service_period_billed(service_id=service.pk, period_start=service.next_due_date)
    ]
    if not services:
        return 0
    first = services[0]
    invoice = invoice_renewal_issue(
        customer=first.customer,
        currency=first.currency,
        lines=[line for service in services for line in renewal_lines(service)],
        due_date=first.next_due_date,
    )
    invoice_issued(invoice)  # paid from credit after commit, when the customer allows it
    return len(services)


def renewals_issue(context: RunContext) -> None:
    context.each("renewals", list(_renewal_groups(context.today)), _renew)


# --- Reminders and late fees --------------------------------------------------------------


def reminders_send(context: RunContext) -> None:
    context.each(
        "reminders",
        invoice_reminders_due(today=context.today),
        lambda item: invoice_remind_if_due(invoice_id=item[0], kind=item[1]),
    )


def late_fees_charge(context: RunContext) -> None:
    if settings.BILLING_LATE_FEE_AFTER_DAYS <= 0:
        return  # late fees are off: not even a zero count
    context.each(
        "late_fees",
        invoice_late_fees_due(today=context.today),
        lambda pk: invoice_late_fee_charge(invoice_id=pk, today=context.today),
    )


# --- Suspension, termination, unpaid orders -----------------------------------------------


def services_suspend_overdue(context: RunContext) -> None:
    today = context.today
    context.each(
        "suspended",
        services_overdue_for_suspension(today=today, bills=bills),
        lambda pk: service_suspend_if_overdue(service_id=pk, today=today, bills=bills),
    )


def _terminate(service_id: int, today: date) -> bool:
    invoices_lock_unpaid_renewals_of(service_id=service_id)  # before the service (lock order)
    if not service_terminate_if_overdue(service_id=service_id, today=today, bills=bills):
        return False
    # Its unpaid renewals bill a service that no longer exists.
    renewals_cancel_for_ended_service(service_id=service_id)
    return True


def services_terminate_overdue(context: RunContext) -> None:
    today = context.today
    context.each(
        "terminated",
        services_overdue_for_termination(today=today, bills=bills),
        lambda pk: _terminate(pk, today),
    )


def _end(service_id: int, today: date) -> bool:
    invoices_lock_unpaid_renewals_of(service_id=service_id)  # before the service (lock order)
    if not service_end_if_due(service_id=service_id, today=today):
        return False
    # A renewal issued before the customer cancelled bills a period that never comes.
    renewals_cancel_for_ended_service(service_id=service_id)
    return True


def services_end_due(context: RunContext) -> None:
    """Services cancelled at the end of their period are terminated on their end day."""
    today = context.today
    context.each("ended", services_ending(today=today), lambda pk: _end(pk, today))


def orders_cancel_unpaid(context: RunContext) -> None:
    context.each(
        "orders_cancelled",
        orders_unpaid_due(today=context.today),
        lambda pk: order_cancel_if_pending(order_id=pk),
    )


def purchases_cancel_abandoned(context: RunContext) -> None:
    context.each(
        "purchases_cancelled",
        purchases_abandoned_due(today=context.today),
        lambda pk: purchase_cancel_if_unpaid(invoice_id=pk),
    )


def upgrades_expire(context: RunContext) -> None:
    context.each(
        "upgrades_expired",
        plan_changes_expiring(today=context.today),
        lambda pk: plan_change_expire(change_id=pk),
    )
