"""The renewal invoice of a service: its lines (the next period, the recurring coupon, usage
above the plan's included quantity in the period just ended) and the invoice issued from them.

The billing run (billing/services/run.py) passes the services, locked by provisioning, and
asks for the lines here; payments reuses the service line for gateway subscriptions.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.db.models import Sum

from accounts.models import Customer
from catalogue.models import CYCLE_MONTHS, BillingCycle, ProductPrice
from invoices.models import Invoice, InvoiceLine, UsageRecord
from invoices.services.invoices import LineDraft, coupon_apply, invoice_create_draft, invoice_issue
from provisioning.models import Service
from provisioning.services import service_period_end


def _overage_line(service: Service, due: date) -> LineDraft | None:
    """Usage above the plan's included quantity during the period that just ended."""
    product = service.product
    months = CYCLE_MONTHS[service.cycle]
    if not product.usage_metric or months is None:
        return None
    start = due - relativedelta(months=months)
    used = UsageRecord.objects.filter(
        service=service,
        metric=product.usage_metric,
        recorded_at__date__gte=start,
        recorded_at__date__lt=due,
    ).aggregate(total=Sum("quantity"))["total"] or Decimal("0")
    extra = used - (product.usage_included or Decimal("0"))
    price = ProductPrice.objects.filter(
        product=product, cycle=service.cycle, currency=service.currency
    ).first()
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


def renewal_lines(service: Service) -> list[LineDraft]:
    """The lines that bill `service`'s next period (from its next due date)."""
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
    overage = _overage_line(service, start)
    return [*lines, overage] if overage else lines


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
