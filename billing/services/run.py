"""The daily billing run: renewals, reminders, late fees, suspension, termination and the
end of services cancelled at the end of their period, and the cancellation of unpaid new
orders, abandoned credit or token purchases and unpaid upgrades. DNS plans are products like
any other (the `dns` provisioning module): they renew, suspend and end through these steps.

`manage.py billing_run` calls `billing_run()`, which does everything in its own process; the
`billing.billing_run` beat task calls `billing_run(fan_out=True)`, which publishes the
renewal chunks to the queue for any number of workers. Either way the same functions run:
- renewals, in chunks (`BillingRunChunk`): the due services are scanned a page at a time
  (keyset by customer, so a customer's combined renewals never straddle two chunks) into
  chunks of about BILLING_RUN_CHUNK_SIZE services. A chunk is one transaction with a
  constant number of statements whatever its size: provisioning locks its services in id
  order, invoices re-reads which periods are billed already (after the lock), reads the
  usage for overage lines, and issues all the chunk's invoices at once
  (`renewal_invoices_issue`: one statement each for the numbers, invoices, lines, audit
  events and emails); zero totals are settled, and the credit is offered only to the
  customers who hold some. A chunk that fails is done again a renewal group per
  transaction, so the bad item is isolated and recorded while the rest are issued.
  The last chunk to finish runs the remaining steps (`billing_run_finish`).
- reminders: invoices' dunning sends them in batches (`invoice_reminders_send`), one
  transaction each, again an item at a time if a batch fails;
- late fees and unpaid purchases: invoices' dunning rules; unpaid orders: billing's
  ordering flow (it cancels the invoice and the services);
- suspension and termination: provisioning's overdue rules, told what is unpaid by invoices;
  the renewals left billing a terminated service are cancelled by invoices;
- services cancelled at the end of their period: provisioning ends them on their day, and
  invoices cancels their unpaid renewals;
- upgrades not paid in time: billing's plan changes.
So:
- one failing item is recorded on the BillingRun and never stops or rolls back the others;
- running twice, or two runs at once, or one chunk twice, changes nothing the second time:
  renewals are unique per (service, period start), notices per (invoice, kind), and each
  rule re-checks the locked rows.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import groupby
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from billing.models import BillingRun, BillingRunChunk
from billing.services.changes import plan_change_expire, plan_changes_expiring
from billing.services.credit import credit_auto_apply_many
from billing.services.issuing import invoice_issued
from billing.services.ordering import order_cancel_if_pending, orders_unpaid_due
from billing.services.settlement import invoice_settled
from invoices.locks import invoices_lock_unpaid_renewals_of
from invoices.models import Invoice
from invoices.selectors import service_next_period_billed, service_period_billed
from invoices.selectors import unpaid_service_bills as bills
from invoices.services.dunning import (
    invoice_late_fee_charge,
    invoice_late_fees_due,
    invoice_remind_if_due,
    invoice_reminders_due,
    invoice_reminders_send,
    purchase_cancel_if_unpaid,
    purchases_abandoned_due,
    renewals_cancel_for_ended_service,
)
from invoices.services.renewals import (
    RenewalBill,
    RenewalUsage,
    invoice_renewal_issue,
    renewal_invoices_issue,
    renewal_lines,
    services_billed_of,
)
from invoices.tax import tax_rates_load
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

# Due services read per page of the scan (ids and grouping keys only).
SCAN_PAGE = 5_000


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

    def batch(
        self,
        step: str,
        items: list[Any],
        handle_all: Callable[[list[Any]], int],
        handle: Callable[[Any], int | bool],
    ) -> None:
        """Handle items in one transaction; if that fails, one transaction each (`each`),
        so what failed is isolated and recorded and the rest is done."""
        self.counts[step] += 0
        if not items:
            return
        try:
            with transaction.atomic():
                self.counts[step] += handle_all(items)
        except Exception:
            logger.warning("billing run step %s: a batch failed, retried item by item", step)
            self.each(step, items, handle)

    def batches(
        self,
        step: str,
        items: list[Any],
        handle_all: Callable[[list[Any]], int],
        handle: Callable[[Any], int | bool],
    ) -> None:
        self.counts[step] += 0
        size = settings.BILLING_RUN_CHUNK_SIZE
        for start in range(0, len(items), size):
            self.batch(step, items[start : start + size], handle_all, handle)


def billing_run(
    *, today: date | None = None, fan_out: bool = False, queue: str | None = None
) -> BillingRun:
    """The daily run. In this process, or with `fan_out` the renewal chunks go to the
    broker (to `queue`, else where the task routes send them) for any worker, and the last
    one to finish completes the run: the record returned is then still running unless the
    chunks ran in-process (eager tasks). A chunk is published once as it is recorded (a
    fan-out inside a task publishes directly); one that is never taken stays pending on
    the run's record, and the next day's run renews what it left."""
    today = today or timezone.localdate()
    run = BillingRun.objects.create(as_of=today)
    if fan_out:
        from billing.tasks import billing_run_chunk_task  # the task calls these services

        def dispatch(chunk: BillingRunChunk) -> None:
            billing_run_chunk_task.apply_async([chunk.pk], queue=queue)
    else:

        def dispatch(chunk: BillingRunChunk) -> None:
            billing_run_chunk(chunk_id=chunk.pk)

    total = 0
    for number, groups in enumerate(renewal_chunks(today=today), start=1):
        dispatch(BillingRunChunk.objects.create(run=run, number=number, groups=groups))
        total = number
    BillingRun.objects.filter(pk=run.pk).update(chunks_total=total)
    finished = _finish_if_last(run.pk)
    if finished is None:  # the last chunk finished it (or the workers are still at it)
        run.refresh_from_db()
        return run
    return finished  # its counts in step order (the database's JSON keeps no key order)


# --- Renewals -----------------------------------------------------------------------------


def renewal_candidates(*, today: date) -> QuerySet[Service]:
    """Services due within the renewal horizon whose next period is not billed yet."""
    horizon = today + timedelta(days=settings.BILLING_RENEWAL_DAYS_AHEAD)
    return services_due_for_renewal(by=horizon).exclude(service_next_period_billed())


def _due_rows(today: date) -> Iterator[tuple[int, int, date | None, str]]:
    """(id, customer, due date, currency) of each due service, in the candidates' order
    (customer first), a page at a time: keyset by customer, and a page never ends inside a
    customer, so groups stay whole; memory holds one page whatever the number of services."""
    rows = renewal_candidates(today=today).values_list(
        "pk", "customer_id", "next_due_date", "currency"
    )
    after = 0
    while True:
        page = list(rows.filter(customer_id__gt=after)[:SCAN_PAGE])
        if len(page) < SCAN_PAGE:
            yield from page
            return
        last = page[-1][1]
        whole = [row for row in page if row[1] != last]
        if not whole:  # one customer has a page of renewals due: all of theirs at once
            whole = list(rows.filter(customer_id=last))
        after = whole[-1][1]
        yield from whole


def _renewal_groups(today: date) -> Iterator[list[int]]:
    return _grouped(_due_rows(today))


def _grouped(rows: Iterable[tuple[int, int, date | None, str]]) -> Iterator[list[int]]:
    """(id, customer, due date, currency) rows in that order -> the renewal groups: one
    service each, or (combined renewals) those of a customer, due date and currency."""
    if not settings.BILLING_COMBINE_RENEWALS:
        return ([pk] for pk, *_ in rows)
    keyed = groupby(rows, key=lambda row: row[1:])
    return ([row[0] for row in group] for _key, group in keyed)


def renewal_chunks(*, today: date, size: int | None = None) -> Iterator[list[list[int]]]:
    """The renewal groups due, in chunks of about `size` services (a group is never split)."""
    size = size or settings.BILLING_RUN_CHUNK_SIZE
    chunk: list[list[int]] = []
    services = 0
    for group in _renewal_groups(today):
        chunk.append(group)
        services += len(group)
        if services >= size:
            yield chunk
            chunk, services = [], 0
    if chunk:
        yield chunk


def _renew(service_ids: list[int]) -> int:
    """One renewal group in the caller's transaction (a failed chunk's items, one each)."""
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


def renewals_issue_now(*, service_ids: list[int], today: date) -> int:
    """Bill at once the next period of those of these services due within the renewal
    horizon and not billed (a cancellation withdrawn after its renewal was cancelled, the
    other services of a combined renewal cancelled with it), as the run would, a group of
    the same due date and currency per invoice, in the caller's transaction. Returns how
    many services were renewed (0: the run will, when they come due)."""
    rows = (
        renewal_candidates(today=today)
        .filter(pk__in=service_ids)
        .values_list("pk", "customer_id", "next_due_date", "currency")
    )
    return sum(_renew(group) for group in _grouped(rows))


def renewals_renew(groups: list[list[int]]) -> int:
    """Renew a chunk of groups in the caller's transaction, with a constant number of
    statements: lock every service of the chunk (id order), re-check what is billed (after
    the lock, see `_renew`), and issue the invoices together."""
    locked = services_lock_for_renewal(service_ids=[pk for group in groups for pk in group])
    billed = services_billed_of(locked)
    renewable = {service.pk: service for service in locked if service.pk not in billed}
    usage = RenewalUsage.load(renewable.values())
    bills, renewed = [], 0
    for group in groups:
        services = [renewable[pk] for pk in group if pk in renewable]
        if not services:
            continue
        renewed += len(services)
        first = services[0]
        lines = [line for service in services for line in renewal_lines(service, usage)]
        bills.append(
            RenewalBill(
                customer=first.customer,
                currency=str(first.currency),
                due_date=first.next_due_date or timezone.localdate(),
                lines=lines,
            )
        )
    invoices = renewal_invoices_issue(bills=bills, tax_rates=tax_rates_load())
    for invoice in invoices:
        if invoice.status == Invoice.Status.PAID:  # zero total: paid as it was issued
            invoice_settled(invoice)
    credit_auto_apply_many(invoices)
    return renewed


def billing_run_chunk(*, chunk_id: int) -> bool:
    """Run one renewal chunk (a worker's task, or the run's own process): claim it, renew
    its groups in one transaction (one each if that fails), record what it did, and finish
    the run if it was the last. A chunk already done is left alone; returns whether it ran."""
    claimed = (
        BillingRunChunk.objects.filter(pk=chunk_id)
        .exclude(status__in=BillingRunChunk.FINISHED)
        .update(
            status=BillingRunChunk.Status.RUNNING,
            attempts=F("attempts") + 1,
            started_at=timezone.now(),
        )
    )
    if not claimed:
        return False
    chunk = BillingRunChunk.objects.get(pk=chunk_id)
    context = RunContext(today=timezone.localdate())
    try:
        context.batch("renewals", chunk.groups, renewals_renew, _renew)
    except Exception as exc:  # the database went away: the chunk failed, the run goes on
        logger.exception("billing run chunk %s failed", chunk_id)
        error = {"step": "renewals", "item": f"chunk {chunk.number}", "error": repr(exc)}
        context.errors.append(error)
        status = BillingRunChunk.Status.FAILED
    else:
        status = BillingRunChunk.Status.DONE
    BillingRunChunk.objects.filter(pk=chunk_id, status=BillingRunChunk.Status.RUNNING).update(
        status=status,
        renewed=context.counts["renewals"],
        errors=context.errors,
        finished_at=timezone.now(),
    )
    _finish_if_last(chunk.run_id)
    return True


def _finish_if_last(run_id: int) -> BillingRun | None:
    """Once every chunk of the run has finished (and the scan is over), the one caller that
    claims it runs the remaining steps and completes the run (returned)."""
    run = BillingRun.objects.get(pk=run_id)
    if run.chunks_total is None or run.renewals_done_at is not None:
        return None
    if run.chunks.filter(status__in=BillingRunChunk.FINISHED).count() < run.chunks_total:
        return None
    claimed = BillingRun.objects.filter(pk=run_id, renewals_done_at__isnull=True).update(
        renewals_done_at=timezone.now()
    )
    if not claimed:
        return None
    billing_run_finish(run=run)
    return run


def billing_run_finish(*, run: BillingRun) -> None:
    """The steps after the renewals, and the run's record (counts and errors of every
    step, the chunks' first)."""
    context = RunContext(today=run.as_of)
    chunks = list(run.chunks.values_list("renewed", "errors"))
    context.counts["renewals"] = sum(renewed for renewed, _errors in chunks)
    context.errors = [error for _renewed, errors in chunks for error in errors]
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


# --- Reminders and late fees --------------------------------------------------------------


def reminders_send(context: RunContext) -> None:
    context.batches(
        "reminders",
        invoice_reminders_due(today=context.today),
        lambda items: invoice_reminders_send(items=items),
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
