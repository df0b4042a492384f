"""Invoice reads for views and the API, always scoped by the caller."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import (
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    Min,
    OuterRef,
    Prefetch,
    QuerySet,
    Sum,
)
from djmoney.money import Money

from accounts.models import Customer
from catalogue.models import Order
from invoices.models import Invoice, InvoiceLine, UsageRecord
from provisioning.models import Service

CUSTOMER_VISIBLE_STATUSES = [status for status in Invoice.Status.values if status != "draft"]


def invoice_list_for_customer(
    *, customer: Customer, status: str | None = None
) -> QuerySet[Invoice]:
    """The customer's issued invoices (drafts are staff work in progress), newest first."""
    invoices = Invoice.objects.filter(customer=customer, status__in=CUSTOMER_VISIBLE_STATUSES)
    if status:
        invoices = invoices.filter(status=status)
    return invoices.order_by("-issued_at", "-id")


def invoice_get_for_customer(*, customer: Customer, invoice_id: int) -> Invoice:
    """One issued invoice of this customer with its lines; Invoice.DoesNotExist otherwise."""
    lines = InvoiceLine.objects.order_by("position", "id")
    return (
        invoice_list_for_customer(customer=customer)
        .prefetch_related(Prefetch("lines", queryset=lines), "credit_notes", "payments")
        .get(pk=invoice_id)
    )


@dataclass(frozen=True)
class AmountDue:
    """What a customer owes in one currency: the sum still due on their unpaid invoices."""

    amount: Money
    invoices: int
    next_due_date: date | None


def amounts_due_for_customer(*, customer: Customer) -> list[AmountDue]:
    """The amount due per currency over the customer's unpaid invoices; one query."""
    due = ExpressionWrapper(F("total") - F("amount_paid"), output_field=DecimalField())
    rows = (
        Invoice.objects.filter(customer=customer, status=Invoice.Status.UNPAID)
        .order_by("currency")
        .values("currency")
        .annotate(due=Sum(due), invoices=Count("id"), next_due_date=Min("due_date"))
    )
    return [
        AmountDue(Money(row["due"], row["currency"]), row["invoices"], row["next_due_date"])
        for row in rows
    ]


def invoice_next_due_for_customer(*, customer: Customer) -> Invoice | None:
    """The unpaid invoice to pay first: the earliest due (undated ones last)."""
    unpaid = invoice_list_for_customer(customer=customer, status=Invoice.Status.UNPAID)
    return unpaid.order_by(F("due_date").asc(nulls_last=True), "id").first()


def invoice_ids_by_number_for_customer(*, customer: Customer, numbers: list[str]) -> dict[str, int]:
    """{number: id} of the customer's issued invoices among `numbers`; one query."""
    if not numbers:
        return {}
    invoices = invoice_list_for_customer(customer=customer).filter(number__in=numbers)
    # number__in never matches a draft's null number; the test only narrows the type.
    rows = invoices.values_list("number", "pk")
    return {number: pk for number, pk in rows if number is not None}


def order_invoice(order: Order) -> Invoice | None:
    """The invoice an order was placed with (None once none is left to show)."""
    return order.invoices.filter(kind=Invoice.Kind.ORDER).first()


# --- For the billing run ------------------------------------------------------------------


class UnpaidServiceBills:
    """What "unpaid since" means for a service's bills: an unpaid invoice with a line for the
    service, due on or before the cutoff. Provisioning's overdue rules ask it (as their
    `UnpaidBills`); the billing run passes `unpaid_service_bills`."""

    def _unpaid_since(self, cutoff: date) -> QuerySet[InvoiceLine]:
        return InvoiceLine.objects.filter(
            invoice__status=Invoice.Status.UNPAID, invoice__due_date__lte=cutoff
        )

    def service_ids_unpaid_since(self, *, cutoff: date) -> QuerySet[InvoiceLine, Any]:
        """The ids of those services, as a subquery."""
        return self._unpaid_since(cutoff).filter(service__isnull=False).values("service_id")

    def service_unpaid_since(self, *, service_id: int, cutoff: date) -> bool:
        return self._unpaid_since(cutoff).filter(service_id=service_id).exists()


unpaid_service_bills = UnpaidServiceBills()


def service_period_billed(*, service_id: int, period_start: date | None) -> bool:
    """Whether the service's period from `period_start` is on an invoice already (a
    released period, of a renewal cancelled for a cancellation, is not)."""
    return InvoiceLine.objects.filter(
        service_id=service_id,
        kind=InvoiceLine.Kind.SERVICE,
        period_start=period_start,
        period_released=False,
    ).exists()


def service_next_period_billed() -> Exists:
    """To exclude from a queryset of services those whose next period is billed already."""
    return Exists(
        InvoiceLine.objects.filter(
            service=OuterRef("pk"),
            kind=InvoiceLine.Kind.SERVICE,
            period_start=OuterRef("next_due_date"),
            period_released=False,
        )
    )


# The lines that pay for a service's period itself (not its setup fees or usage).
PERIOD_LINE_KINDS = (InvoiceLine.Kind.SERVICE, InvoiceLine.Kind.OPTION)
PAID_STATUSES = (Invoice.Status.PAID, Invoice.Status.PARTIALLY_REFUNDED)


def service_period_paid_share(*, service_id: int, period_end: date) -> Decimal | None:
    """The part of its catalogued price the customer actually paid for the service's
    period ending on `period_end`: what its paid order or renewal lines total (net of
    their discounts, with the tax charged), less what a credit note gave back, divided by
    their catalogued price (unit price x quantity). 0.9 with a 10% recurring coupon and no
    tax, 1.2 with 20% tax added to the price; None when that period was not paid."""
    lines = InvoiceLine.objects.filter(
        service_id=service_id,
        kind__in=PERIOD_LINE_KINDS,
        period_end=period_end,
        period_released=False,
        invoice__status__in=PAID_STATUSES,
    ).select_related("invoice")
    paid = gross = Decimal(0)
    for line in lines:
        invoice = line.invoice
        kept = Decimal(1)
        if invoice.total.amount > 0:  # a credit note took part of the invoice back
            kept -= invoice.amount_refunded.amount / invoice.total.amount
        paid += line.total.amount * kept
        gross += line.unit_price.amount * line.quantity
    if gross <= 0 or paid <= 0:
        return None
    return paid / gross


def service_unpaid_invoices(*, customer: Customer, service_id: int) -> list[Invoice]:
    """The customer's unpaid invoices billing this service, oldest due first (what a
    suspended service's page offers to pay)."""
    billing = InvoiceLine.objects.filter(service_id=service_id).values("invoice_id")
    return list(
        Invoice.objects.filter(
            customer=customer, status=Invoice.Status.UNPAID, pk__in=billing
        ).order_by("due_date", "pk")
    )


# --- Staff (the staff API; the role's permission is the caller's to check) -------------------


def invoice_list_for_staff() -> QuerySet[Invoice]:
    """Every invoice, drafts included, newest first (the staff list's index)."""
    return Invoice.objects.select_related("customer").order_by("-created_at", "-id")


def invoice_get_for_staff(*, invoice_id: int) -> Invoice:
    """One invoice (any status) with its lines; Invoice.DoesNotExist for an unknown id."""
    lines = InvoiceLine.objects.order_by("position", "id")
    return (
        Invoice.objects.select_related("customer")
        .prefetch_related(Prefetch("lines", queryset=lines))
        .get(pk=invoice_id)
    )


def usage_records_for_service(*, service_id: int) -> QuerySet[UsageRecord]:
    """A service's usage records, newest first (on the service's recent-usage index);
    Service.DoesNotExist for an unknown service (an empty list would hide a wrong id)."""
    if not Service.objects.filter(pk=service_id).exists():
        raise Service.DoesNotExist(f"No service {service_id}.")
    return UsageRecord.objects.filter(service_id=service_id).order_by("-recorded_at", "-id")
