"""The daily billing run: renewals, reminders, late fees, suspension, termination and the
cancellation of unpaid new orders, abandoned credit or token purchases and unpaid upgrades.

`manage.py billing_run` and the `invoices.billing_run` beat task both call `billing_run()`.
Every step selects what is due with one query, then handles each item in its own
transaction after locking it and checking again, so:
- one failing item is recorded on the BillingRun and never stops or rolls back the others;
- running twice, or two runs at once, changes nothing the second time: renewals are unique
  per (service, period start), notices per (invoice, kind), and state changes re-check the
  locked row's status.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from itertools import groupby
from typing import Any

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Sum
from django.utils import timezone
from djmoney.money import Money

from billing_portal.common.emails import email_send_on_commit
from catalogue.models import CYCLE_MONTHS, BillingCycle
from catalogue.selectors import product_price_find
from invoices.models import BillingRun, Invoice, InvoiceLine, InvoiceNotice, Order, UsageRecord
from invoices.pricing import percent_of
from invoices.services.invoices import (
    LineDraft,
    invoice_cancel,
    invoice_create_draft,
    invoice_issue,
)
from invoices.services.orders import coupon_apply, order_cancel
from provisioning.models import Service, ServiceChange
from provisioning.services import (
    plan_change_expire,
    service_has_suspendable_debt,
    service_period_end,
    service_suspend,
    service_terminate,
)

logger = logging.getLogger(__name__)

RENEWABLE = (Service.Status.ACTIVE, Service.Status.SUSPENDED)
# Credit and token purchases are offers the customer may walk away from: no reminders, no
# late fees; left unpaid, they are cancelled with the unpaid orders.
PURCHASE_KINDS = (Invoice.Kind.CREDIT_PURCHASE, Invoice.Kind.TOKEN_PURCHASE)
# Offers that simply lapse when unpaid: no reminders, no late fees.
NO_DUNNING_KINDS = (*PURCHASE_KINDS, Invoice.Kind.UPGRADE)


@dataclass
class RunContext:
    today: date
    counts: Counter = field(default_factory=Counter)
    errors: list[dict[str, str]] = field(default_factory=list)

    def each(self, step: str, items: Iterable[Any], handle: Callable[[Any], int]) -> None:
        """Handle items one transaction each; count what changed, record what failed."""
        self.counts[step] += 0
        for item in items:
            try:
                with transaction.atomic():
                    self.counts[step] += handle(item)
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
    orders_cancel_unpaid(context)
    purchases_cancel_abandoned(context)
    upgrades_expire(context)
    dns_subscriptions_renew(context)
    run.counts = dict(context.counts)
    run.errors = context.errors
    run.status = (
        BillingRun.Status.COMPLETED_WITH_ERRORS if context.errors else BillingRun.Status.COMPLETED
    )
    run.finished_at = timezone.now()
    run.save(update_fields=["counts", "errors", "status", "finished_at"])
    return run


# --- Renewals -----------------------------------------------------------------------------


def _renewal_billed(service_ref) -> Exists:
    return Exists(
        InvoiceLine.objects.filter(
            service=service_ref,
            kind=InvoiceLine.Kind.SERVICE,
            period_start=OuterRef("next_due_date"),
        )
    )


def renewal_candidates(*, today: date) -> QuerySet[Service]:
    horizon = today + timedelta(days=settings.BILLING_RENEWAL_DAYS_AHEAD)
    return (
        Service.objects.filter(status__in=RENEWABLE, next_due_date__lte=horizon)
        .exclude(cycle=BillingCycle.ONE_TIME)
        .exclude(_renewal_billed(OuterRef("pk")))
        .order_by("customer_id", "next_due_date", "currency", "pk")
    )


def _renewal_groups(today: date) -> Iterable[list[int]]:
    rows = renewal_candidates(today=today).values_list(
        "pk", "customer_id", "next_due_date", "currency"
    )
    if not settings.BILLING_COMBINE_RENEWALS:
        return ([pk] for pk, *_ in rows.iterator())
    keyed = groupby(rows.iterator(), key=lambda row: row[1:])
    return ([row[0] for row in group] for _key, group in keyed)


def _overage_line(service: Service) -> LineDraft | None:
    """Usage above the plan's included quantity during the period that just ended."""
    product = service.product
    if not product.usage_metric:
        return None
    start = service.next_due_date - relativedelta(months=CYCLE_MONTHS[service.cycle])
    used = UsageRecord.objects.filter(
        service=service,
        metric=product.usage_metric,
        recorded_at__date__gte=start,
        recorded_at__date__lt=service.next_due_date,
    ).aggregate(total=Sum("quantity"))["total"] or Decimal("0")
    extra = used - (product.usage_included or Decimal("0"))
    price = product_price_find(product=product, cycle=service.cycle, currency=service.currency)
    if extra <= 0 or price is None or price.overage_unit_price is None:
        return None
    return LineDraft(
        kind=InvoiceLine.Kind.OVERAGE,
        description=f"{product.name}: {product.usage_metric} above {product.usage_included or 0}",
        unit_price=price.overage_unit_price,
        quantity=extra,
        service_id=service.pk,
        period_start=start,
        period_end=service.next_due_date - timedelta(days=1),
    )


def renewal_lines(service: Service) -> list[LineDraft]:
    start = service.next_due_date
    label = service.domain or service.hostname
    description = f"{service.product.name} ({BillingCycle(service.cycle).label})"
    line = LineDraft(
        kind=InvoiceLine.Kind.SERVICE,
        description=f"{description}: {label}" if label else description,
        unit_price=service.recurring_amount,
        service_id=service.pk,
        period_start=start,
        period_end=service_period_end(start=start, cycle=service.cycle),
    )
    lines = coupon_apply([line], service.recurring_coupon)
    overage = _overage_line(service)
    return [*lines, overage] if overage else lines


def _renew(service_ids: list[int]) -> int:
    # Lock first, then check for an existing renewal in a new statement: under READ
    # COMMITTED a filter in the locking query itself is evaluated on the snapshot taken
    # before waiting for the lock, so it would miss a renewal a concurrent run just committed.
    # of=("self",): PostgreSQL cannot lock the nullable side of the coupon outer join.
    locked = (
        Service.objects.select_for_update(of=("self",))
        .filter(pk__in=service_ids, status__in=RENEWABLE)
        .select_related("customer__user", "product", "recurring_coupon")
        .order_by("pk")
    )
    services = [
        service
        for service in locked
        if not InvoiceLine.objects.filter(
            service=service, kind=InvoiceLine.Kind.SERVICE, period_start=service.next_due_date
        ).exists()
    ]
    if not services:
        return 0
    first = services[0]
    lines = [line for service in services for line in renewal_lines(service)]
    draft = invoice_create_draft(
        customer=first.customer,
        currency=first.currency,
        lines=lines,
        kind=Invoice.Kind.RENEWAL,
        due_date=first.next_due_date,
    )
    invoice_issue(invoice_id=draft.pk)
    return len(services)


def renewals_issue(context: RunContext) -> None:
    context.each("renewals", list(_renewal_groups(context.today)), _renew)


# --- Reminders and late fees --------------------------------------------------------------


def reminder_kind(*, due: date, today: date) -> str | None:
    """The one notice an unpaid invoice should have received by `today`, if any. After a
    missed day only the latest notice goes out, never a burst of older ones."""
    first, second, final = settings.BILLING_OVERDUE_REMINDER_DAYS
    overdue = (today - due).days
    for days, kind in (
        (final, InvoiceNotice.Kind.OVERDUE_3),
        (second, InvoiceNotice.Kind.OVERDUE_2),
        (first, InvoiceNotice.Kind.OVERDUE_1),
        (0, InvoiceNotice.Kind.DUE),
    ):
        if overdue >= days:
            return kind
    if -overdue <= settings.BILLING_REMINDER_DAYS_BEFORE:
        return InvoiceNotice.Kind.UPCOMING
    return None


def _notice_once(invoice: Invoice, kind: str, fee_invoice: Invoice | None = None) -> bool:
    """Record the notice; False when this (invoice, kind) was already recorded."""
    try:
        with transaction.atomic():
            InvoiceNotice.objects.create(invoice=invoice, kind=kind, fee_invoice=fee_invoice)
    except IntegrityError:
        return False
    return True


def _locked_unpaid(invoice_id: int) -> Invoice | None:
    return (
        Invoice.objects.select_for_update(of=("self",))
        .select_related("customer__user")
        .filter(pk=invoice_id, status=Invoice.Status.UNPAID)
        .first()
    )


def _remind(item: tuple[int, str]) -> int:
    invoice_id, kind = item
    invoice = _locked_unpaid(invoice_id)
    if invoice is None or not _notice_once(invoice, kind):
        return 0
    email_send_on_commit(
        to=[invoice.customer.user.email],
        name="invoice_reminder",
        context={
            "customer_name": invoice.customer.name,
            "number": invoice.number,
            "amount_due": str(invoice.amount_due),
            "due_date": invoice.due_date.isoformat(),
            "invoice_path": f"/invoices/{invoice.pk}/",
            "due_today": kind == InvoiceNotice.Kind.DUE,
            "overdue": kind.startswith("overdue"),
            "final": kind == InvoiceNotice.Kind.OVERDUE_3,
        },
    )
    return 1


def reminders_send(context: RunContext) -> None:
    today = context.today
    horizon = today + timedelta(days=settings.BILLING_REMINDER_DAYS_BEFORE)
    unpaid = Invoice.objects.filter(status=Invoice.Status.UNPAID, due_date__lte=horizon).exclude(
        kind__in=NO_DUNNING_KINDS
    )
    wanted = {
        (invoice_id, kind)
        for invoice_id, due_date in unpaid.values_list("pk", "due_date").iterator()
        if (kind := reminder_kind(due=due_date, today=today)) is not None
    }
    sent = set(InvoiceNotice.objects.filter(invoice__in=unpaid).values_list("invoice_id", "kind"))
    context.each("reminders", sorted(wanted - sent), _remind)


def _charge_late_fee(invoice_id: int, today: date) -> int:
    invoice = _locked_unpaid(invoice_id)
    if invoice is None or invoice.notices.filter(kind=InvoiceNotice.Kind.LATE_FEE).exists():
        return 0
    fee = percent_of(invoice.total, settings.BILLING_LATE_FEE_PERCENT)
    if fee.amount <= 0:
        return 0
    draft = invoice_create_draft(
        customer=invoice.customer,
        currency=str(invoice.currency),
        lines=[
            LineDraft(
                kind=InvoiceLine.Kind.LATE_FEE,
                description=f"Late fee for invoice {invoice.number}",
                unit_price=Money(fee.amount, fee.currency),
            )
        ],
        kind=Invoice.Kind.LATE_FEE,
        due_date=today,
    )
    fee_invoice = invoice_issue(invoice_id=draft.pk)
    return int(_notice_once(invoice, InvoiceNotice.Kind.LATE_FEE, fee_invoice=fee_invoice))


def late_fees_charge(context: RunContext) -> None:
    days = settings.BILLING_LATE_FEE_AFTER_DAYS
    if days <= 0:
        return
    charged = InvoiceNotice.objects.filter(invoice=OuterRef("pk"), kind=InvoiceNotice.Kind.LATE_FEE)
    overdue = (
        Invoice.objects.filter(
            status=Invoice.Status.UNPAID, due_date__lte=context.today - timedelta(days=days)
        )
        .exclude(kind__in=(Invoice.Kind.LATE_FEE, *NO_DUNNING_KINDS))
        .exclude(Exists(charged))
        .values_list("pk", flat=True)
    )
    context.each("late_fees", list(overdue), lambda pk: _charge_late_fee(pk, context.today))


# --- Suspension, termination, unpaid orders -----------------------------------------------


def _unpaid_since(cutoff: date) -> Exists:
    return Exists(
        InvoiceLine.objects.filter(
            service=OuterRef("pk"),
            invoice__status=Invoice.Status.UNPAID,
            invoice__due_date__lte=cutoff,
        )
    )


def _suspend(service_id: int, today: date) -> int:
    service = Service.objects.select_for_update().get(pk=service_id)
    held = service.suspension_hold_until and service.suspension_hold_until >= today
    if service.status != Service.Status.ACTIVE or held:
        return 0
    if not service_has_suspendable_debt(service=service, today=today):
        return 0
    service_suspend(service_id=service.pk, reason="overdue invoice")
    return 1


def services_suspend_overdue(context: RunContext) -> None:
    cutoff = context.today - timedelta(days=settings.BILLING_SUSPEND_AFTER_DAYS)
    overdue = (
        Service.objects.filter(status=Service.Status.ACTIVE)
        .filter(_unpaid_since(cutoff))
        .exclude(suspension_hold_until__gte=context.today)
        .values_list("pk", flat=True)
    )
    context.each("suspended", list(overdue), lambda pk: _suspend(pk, context.today))


def _terminate(service_id: int, today: date) -> int:
    cutoff = today - timedelta(days=settings.BILLING_TERMINATE_AFTER_DAYS)
    service = Service.objects.select_for_update().get(pk=service_id)
    if service.status not in RENEWABLE:
        return 0
    if not InvoiceLine.objects.filter(
        service=service, invoice__status=Invoice.Status.UNPAID, invoice__due_date__lte=cutoff
    ).exists():
        return 0
    service_terminate(service_id=service.pk, reason="invoice unpaid")
    # Its unpaid renewals bill a service that no longer exists: cancel those that bill
    # nothing else still running.
    still_running = InvoiceLine.objects.filter(
        invoice=OuterRef("pk"), service__status__in=(*RENEWABLE, Service.Status.PENDING)
    )
    for invoice_id in (
        Invoice.objects.filter(
            status=Invoice.Status.UNPAID, kind=Invoice.Kind.RENEWAL, lines__service=service
        )
        .exclude(Exists(still_running))
        .values_list("pk", flat=True)
        .distinct()
    ):
        invoice_cancel(invoice_id=invoice_id, reason="service terminated")
    return 1


def services_terminate_overdue(context: RunContext) -> None:
    cutoff = context.today - timedelta(days=settings.BILLING_TERMINATE_AFTER_DAYS)
    overdue = (
        Service.objects.filter(status__in=RENEWABLE)
        .filter(_unpaid_since(cutoff))
        .values_list("pk", flat=True)
    )
    context.each("terminated", list(overdue), lambda pk: _terminate(pk, context.today))


def _cancel_order(order_id: int) -> int:
    order = Order.objects.select_for_update().get(pk=order_id)
    if order.status != Order.Status.PENDING:
        return 0
    order_cancel(order_id=order.pk)
    return 1


def orders_cancel_unpaid(context: RunContext) -> None:
    cutoff = context.today - timedelta(days=settings.BILLING_CANCEL_UNPAID_ORDERS_AFTER_DAYS)
    stale = (
        Order.objects.filter(status=Order.Status.PENDING)
        .filter(
            Q(invoices__kind=Invoice.Kind.ORDER)
            & Q(invoices__status=Invoice.Status.UNPAID)
            & Q(invoices__due_date__lte=cutoff)
        )
        .values_list("pk", flat=True)
        .distinct()
    )
    context.each("orders_cancelled", list(stale), _cancel_order)


def _cancel_purchase(invoice_id: int) -> int:
    if _locked_unpaid(invoice_id) is None:
        return 0
    invoice_cancel(invoice_id=invoice_id, reason="Purchase not paid in time.")
    return 1


def purchases_cancel_abandoned(context: RunContext) -> None:
    cutoff = context.today - timedelta(days=settings.BILLING_CANCEL_UNPAID_ORDERS_AFTER_DAYS)
    stale = Invoice.objects.filter(
        kind__in=PURCHASE_KINDS, status=Invoice.Status.UNPAID, due_date__lte=cutoff
    ).values_list("pk", flat=True)
    context.each("purchases_cancelled", list(stale), _cancel_purchase)


def upgrades_expire(context: RunContext) -> None:
    cutoff = context.today - timedelta(days=settings.BILLING_UPGRADE_INVOICE_EXPIRY_DAYS)
    stale = ServiceChange.objects.filter(
        status=ServiceChange.Status.AWAITING_PAYMENT, invoice__due_date__lte=cutoff
    ).values_list("pk", flat=True)
    context.each("upgrades_expired", list(stale), lambda pk: int(plan_change_expire(change_id=pk)))


def dns_subscriptions_renew(context: RunContext) -> None:
    """DNS plans renew from account credit (grace, then suspension, when it is short)."""
    from dnszones.services import dns_subscription_renew, dns_subscriptions_due

    due = dns_subscriptions_due(today=context.today)
    context.each(
        "dns_renewed",
        due,
        lambda pk: int(
            dns_subscription_renew(subscription_id=pk, today=context.today) == "renewed"
        ),
    )
