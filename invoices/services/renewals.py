"""The renewal invoice of a service: its lines (the next period, the recurring coupon, usage
above the plan's included quantity in the period just ended, the customer's client group
discount as the group is when the renewal is issued) and the invoice issued from them.

The billing run (billing/services/run.py) passes the services, locked by provisioning, and
asks for the lines here; payments reuses the service line for gateway subscriptions.

The run works in chunks of hundreds of renewals, so the chunk's reads and writes are set
based: `RenewalUsage.load` reads the usage and overage prices of a chunk's services in two
queries (and their customers' group discounts in two more), and `renewal_invoices_issue`
issues a chunk's invoices with one statement per table (numbers, invoices, lines, audit
events, emails), priced exactly as `invoice_issue` prices one (the same `lines_price`, the
tax rules of `tax_treatment_for` on rates read once).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db.models import Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import Customer
from billing_portal.common.audit import AuditEvent, audit_event, audit_record_many
from billing_portal.common.locks import rows_created
from billing_portal.common.outbox import outbox_enqueue_many
from billing_portal.common.webhooks import Event, WebhookEventType, webhook_emit_many
from catalogue.models import CYCLE_MONTHS, BillingCycle, ProductPrice
from catalogue.selectors import (
    GroupDiscounts,
    client_group_discounts_for,
    client_group_discounts_of,
)
from invoices.audit import InvoiceAudit
from invoices.models import Invoice, InvoiceLine, UsageRecord, seller_details_from_settings
from invoices.services.group_discounts import group_discount_apply
from invoices.services.invoices import (
    INVOICE_SERIES,
    LineDraft,
    buyer_details,
    coupon_apply,
    invoice_create_draft,
    invoice_email_context,
    invoice_issue,
    invoice_numbers_allocate,
    invoice_webhook_fields,
    lines_price,
)
from invoices.tax import TaxRates, tax_rates_load
from provisioning.models import Service
from provisioning.services import service_period_end


def _usage_window(service: Service, due: date) -> tuple[str, date] | None:
    """(metric, first day) of the period just ended whose usage a renewal bills, if any."""
    months = CYCLE_MONTHS[service.cycle]
    if not service.product.usage_metric or months is None:
        return None
    return service.product.usage_metric, due - relativedelta(months=months)


@dataclass
class RenewalUsage:
    """What the overage lines of a chunk of renewals need, read in two queries instead of
    two per service: the usage per (service, metric, day) and the products' prices."""

    daily: dict[tuple[int, str], list[tuple[date, Decimal]]] = field(default_factory=dict)
    prices: dict[tuple[int, str, str], ProductPrice] = field(default_factory=dict)
    # The chunk's customers' client group discounts (two queries; absent: in no group).
    group_discounts: dict[int, GroupDiscounts] = field(default_factory=dict)

    @classmethod
    def load(cls, services: Iterable[Service]) -> RenewalUsage:
        services = list(services)
        windows = {
            s.pk: (s, window)
            for s in services
            if s.next_due_date and (window := _usage_window(s, s.next_due_date))
        }
        usage = cls(
            group_discounts=client_group_discounts_of(
                customer_ids={s.customer_id for s in services}
            )
        )
        if not windows:
            return usage
        first = min(start for _s, (_m, start) in windows.values())
        last = max(s.next_due_date for s, _w in windows.values() if s.next_due_date)
        rows = (
            UsageRecord.objects.filter(
                service_id__in=windows, recorded_at__date__gte=first, recorded_at__date__lt=last
            )
            .annotate(day=TruncDate("recorded_at"))
            .values_list("service_id", "metric", "day")
            .annotate(total=Sum("quantity"))
            .order_by()
        )
        for service_id, metric, day, total in rows:
            usage.daily.setdefault((service_id, metric), []).append((day, total))
        for price in ProductPrice.objects.filter(
            product_id__in={s.product_id for s, _w in windows.values()}
        ):
            # the first in the model's ordering wins, as `.first()` did
            usage.prices.setdefault((price.product_id, price.cycle, price.currency), price)
        return usage

    def used(self, service: Service, metric: str, start: date, due: date) -> Decimal:
        days = self.daily.get((service.pk, metric), [])
        return sum((total for day, total in days if start <= day < due), Decimal("0"))

    def price(self, service: Service) -> ProductPrice | None:
        return self.prices.get((service.product_id, service.cycle, str(service.currency)))


def _used(service: Service, metric: str, start: date, due: date) -> Decimal:
    return UsageRecord.objects.filter(
        service=service,
        metric=metric,
        recorded_at__date__gte=start,
        recorded_at__date__lt=due,
    ).aggregate(total=Sum("quantity"))["total"] or Decimal("0")


def _overage_line(
    service: Service, due: date, usage: RenewalUsage | None = None
) -> LineDraft | None:
    """Usage above the plan's included quantity during the period that just ended."""
    product = service.product
    window = _usage_window(service, due)
    if window is None:
        return None
    metric, start = window
    if usage is not None:
        used, price = usage.used(service, metric, start, due), usage.price(service)
    else:
        used = _used(service, metric, start, due)
        price = ProductPrice.objects.filter(
            product=product, cycle=service.cycle, currency=service.currency
        ).first()
    extra = used - (product.usage_included or Decimal("0"))
    if extra <= 0 or price is None or price.overage_unit_price is None:
        return None
    return LineDraft(
        kind=InvoiceLine.Kind.OVERAGE,
        description=f"{product.name}: {product.usage_metric} above {product.usage_included or 0}",
        unit_price=price.overage_unit_price,
        quantity=extra,
        service_id=service.pk,
        period_start=start,
        period_end=due - timedelta(days=1),
    )


def renewal_lines(service: Service, usage: RenewalUsage | None = None) -> list[LineDraft]:
    """The lines that bill `service`'s next period (from its next due date); `usage`: the
    chunk's usage read by `RenewalUsage.load` (else it is read for this service)."""
    start = service.next_due_date
    if start is None:
        raise ValueError(f"{service} has no next due date to renew from.")
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
    overage = _overage_line(service, start, usage)
    lines = [*lines, overage] if overage else lines
    if usage is not None:
        discounts = usage.group_discounts.get(service.customer_id)
    else:
        discounts = client_group_discounts_for(customer=service.customer)
    return group_discount_apply(
        lines=lines,
        discounts=discounts,
        product_group_id=service.product.group_id,
        currency=str(service.currency),
        service_id=service.pk,
    )


def invoice_renewal_issue(
    *, customer: Customer, currency: str, lines: list[LineDraft], due_date: date | None
) -> Invoice:
    """Issue one renewal invoice of these lines (the caller's transaction)."""
    draft = invoice_create_draft(
        customer=customer,
        currency=currency,
        lines=lines,
        kind=Invoice.Kind.RENEWAL,
        due_date=due_date,
    )
    return invoice_issue(invoice_id=draft.pk)


@dataclass(frozen=True)
class RenewalBill:
    """One renewal invoice to issue: a customer's lines in one currency, due on one day."""

    customer: Customer
    currency: str
    due_date: date
    lines: list[LineDraft]


def _issued_invoice(
    bill: RenewalBill, numbered: tuple[int, str], *, tax_rates: TaxRates, now: datetime
) -> tuple[Invoice, list[InvoiceLine]]:
    customer, currency = bill.customer, bill.currency
    tax = tax_rates.treatment_for(customer)
    priced = lines_price(customer=customer, currency=currency, lines=bill.lines, tax=tax)
    zero = priced.totals.total.amount == 0  # fully discounted: nothing to pay, so it is paid now
    invoice = Invoice(
        customer=customer,
        kind=Invoice.Kind.RENEWAL,
        status=Invoice.Status.PAID if zero else Invoice.Status.UNPAID,
        series=INVOICE_SERIES,
        sequence_number=numbered[0],
        number=numbered[1],
        due_date=bill.due_date or now.date(),
        created_at=now,
        issued_at=now,
        paid_at=now if zero else None,
        buyer_details=buyer_details(customer),
        **priced.invoice_fields(currency),
    )
    return invoice, priced.invoice_lines(invoice, bill.lines, currency)


def _audit_events(invoice: Invoice) -> list[AuditEvent]:
    events = [
        audit_event(
            action=InvoiceAudit.INVOICE_ISSUED,
            customer=invoice.customer,
            target=invoice,
            details={"number": invoice.number, "total": str(invoice.total)},
        )
    ]
    if invoice.status == Invoice.Status.PAID:
        details = {"number": invoice.number, "total": str(invoice.total), "reference": "zero total"}
        events.append(
            audit_event(
                action=InvoiceAudit.INVOICE_PAID,
                customer=invoice.customer,
                target=invoice,
                details=details,
            )
        )
    return events


def _webhook_events(invoice: Invoice) -> list[Event]:
    fields = invoice_webhook_fields(invoice)
    events: list[Event] = [(WebhookEventType.INVOICE_ISSUED, invoice, fields)]
    if invoice.status == Invoice.Status.PAID:
        events.append((WebhookEventType.INVOICE_PAID, invoice, fields))
    return events


def renewal_invoices_issue(
    *, bills: list[RenewalBill], tax_rates: TaxRates | None = None, now: datetime | None = None
) -> list[Invoice]:
    """Issue one renewal invoice per bill, as `invoice_renewal_issue` issues one (numbered,
    frozen seller and buyer details, audited, emailed; a zero total paid at once: the caller
    settles the invoices it gets back paid), with a constant number of statements for any
    number of bills. The caller's transaction, with the billed services locked."""
    if not bills:
        return []
    now = now or timezone.now()
    tax_rates = tax_rates or tax_rates_load()
    seller = seller_details_from_settings()
    numbers = invoice_numbers_allocate(
        series=INVOICE_SERIES,
        number_format=settings.INVOICE_NUMBER_FORMAT,
        on=now.date(),
        count=len(bills),
    )
    built = [
        _issued_invoice(bill, numbered, tax_rates=tax_rates, now=now)
        for bill, numbered in zip(bills, numbers, strict=True)
    ]
    invoices = [invoice for invoice, _lines in built]
    for invoice in invoices:
        invoice.seller_details = seller
    Invoice.objects.bulk_create(invoices)
    rows_created(invoices)  # settling a zero total locks its invoice again: allowed
    InvoiceLine.objects.bulk_create(line for _invoice, lines in built for line in lines)
    audit_record_many([event for invoice in invoices for event in _audit_events(invoice)])
    webhook_emit_many([event for invoice in invoices for event in _webhook_events(invoice)])
    outbox_enqueue_many(
        "common.email_send",
        [
            {
                "to": [invoice.customer.user.email],
                "name": "invoice_issued",
                "context": invoice_email_context(invoice),
            }
            for invoice in invoices
        ],
    )
    return invoices


def services_billed_of(services: Iterable[Service]) -> set[int]:
    """Those of these services whose next period is on an invoice already (one query). Call
    it after locking them: under READ COMMITTED this new statement sees a renewal another
    run committed while this one waited for the lock."""
    wanted = {(s.pk, s.next_due_date) for s in services}
    if not wanted:
        return set()
    billed = InvoiceLine.objects.filter(
        kind=InvoiceLine.Kind.SERVICE,
        period_released=False,
        service_id__in={pk for pk, _due in wanted},
        period_start__in={due for _pk, due in wanted},
    ).values_list("service_id", "period_start")
    return {pk for pk, start in billed if (pk, start) in wanted}
