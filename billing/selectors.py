"""Billing reads for views and the API, always scoped by the caller; and the customer summary
for staff, which reads every app's selectors (so it lives at the top layer)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Generic, TypeVar

from django.db.models import DecimalField, Model, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from djmoney.money import Money

from accounts.models import Customer, StaffNote
from accounts.selectors import audit_events_about_customer, staff_notes_for_customer
from billing.models import TokenPurchase
from billing_portal.common.audit import AuditEvent
from credits.selectors import credit_accounts_for_customer
from invoices.models import Invoice
from invoices.selectors import AmountDue, amounts_due_for_customer, invoice_list_for_customer
from payments.models import Payment
from payments.selectors import payment_list_for_customer
from provisioning.models import Service
from provisioning.selectors import service_list_for_customer

T = TypeVar("T")
M = TypeVar("M", bound=Model)
TP = TokenPurchase.Status


def token_purchases_for_customer(*, customer: Customer) -> QuerySet[TokenPurchase]:
    """Token purchases the customer has paid for or been given (not unpaid purchases)."""
    return (
        TokenPurchase.objects.filter(customer=customer)
        .exclude(status=TokenPurchase.Status.AWAITING_PAYMENT)
        .select_related("invoice")
        .order_by("-created_at", "-id")
    )


# --- VPS tokens from the portal's own records ----------------------------------------------

# What each figure of TokenTotals sums, by purchase status. Tokens being taken back are still
# in VirtFusion until the removal is confirmed.
TOKEN_TOTALS = {
    "added": (TP.DELIVERED, TP.REMOVAL_PENDING, TP.REMOVING),
    "in_progress": (TP.PENDING, TP.SENDING),
    "needs_checking": (TP.UNCERTAIN, TP.FAILED),
    "taking_back": (TP.REMOVAL_PENDING, TP.REMOVING),
    "taken_back": (TP.REMOVED,),
}


@dataclass(frozen=True)
class TokenTotals:
    """VPS tokens the portal has sent to the customer's VirtFusion account, from its records
    of each credit (TokenPurchase). Not the panel's balance: the customer spends tokens in
    VirtFusion, which the portal is not told about."""

    added: Decimal
    in_progress: Decimal
    needs_checking: Decimal
    taking_back: Decimal
    taken_back: Decimal

    @property
    def any(self) -> bool:
        return any((self.added, self.in_progress, self.needs_checking, self.taken_back))


def token_totals_for_customer(*, customer: Customer) -> TokenTotals:
    """The customer's token figures (TokenTotals), summed by the database in one query."""
    zero = Value(Decimal(0), output_field=DecimalField())
    sums = {
        name: Coalesce(Sum("tokens", filter=Q(status__in=statuses)), zero)
        for name, statuses in TOKEN_TOTALS.items()
    }
    return TokenTotals(**TokenPurchase.objects.filter(customer=customer).aggregate(**sums))


# --- The customer summary (staff) -----------------------------------------------------------

SUMMARY_LIST_LENGTH = 10
SUMMARY_SECTIONS = frozenset(
    {"services", "invoices", "credit", "tokens", "payments", "events", "notes"}
)


@dataclass(frozen=True)
class Latest(Generic[T]):
    """The first rows of a list, and whether it has more than those."""

    rows: list[T]
    more: bool


def _latest(queryset: QuerySet[M], length: int) -> Latest[M]:
    rows = list(queryset[: length + 1])  # one more than shown tells whether there are more
    return Latest(rows[:length], len(rows) > length)


@dataclass(frozen=True)
class CustomerSummary:
    """What staff see of a customer on one screen. A section the caller did not ask for (the
    staff user may not view its model) is None."""

    customer: Customer
    services: Latest[Service] | None = None
    unpaid_invoices: Latest[Invoice] | None = None
    amounts_due: list[AmountDue] | None = None
    credit_balances: list[Money] | None = None
    tokens: TokenTotals | None = None
    payments: Latest[Payment] | None = None
    events: Latest[AuditEvent] | None = None
    notes: Latest[StaffNote] | None = None


def customer_summary(
    *, customer: Customer, sections: Collection[str], length: int = SUMMARY_LIST_LENGTH
) -> CustomerSummary:
    """The summary of `customer` with the `sections` asked for (of SUMMARY_SECTIONS): a fixed
    number of queries however many rows each has (the latest `length` of each list; notes
    pinned first). Tokens come from the portal's records, never from VirtFusion."""
    unknown = set(sections) - SUMMARY_SECTIONS
    if unknown:
        raise ValueError(f"Unknown summary sections: {sorted(unknown)}")
    summary = CustomerSummary(customer=customer)
    if "services" in sections:
        services = _latest(service_list_for_customer(customer=customer), length)
        summary = replace(summary, services=services)
    if "invoices" in sections:
        unpaid = invoice_list_for_customer(customer=customer, status=Invoice.Status.UNPAID)
        summary = replace(
            summary,
            unpaid_invoices=_latest(unpaid, length),
            amounts_due=amounts_due_for_customer(customer=customer),
        )
    if "credit" in sections:
        accounts = credit_accounts_for_customer(customer=customer)
        summary = replace(summary, credit_balances=[account.balance for account in accounts])
    if "tokens" in sections:
        summary = replace(summary, tokens=token_totals_for_customer(customer=customer))
    if "payments" in sections:
        payments = _latest(payment_list_for_customer(customer=customer), length)
        summary = replace(summary, payments=payments)
    if "events" in sections:
        events = _latest(audit_events_about_customer(customer=customer), length)
        summary = replace(summary, events=events)
    if "notes" in sections:
        summary = replace(
            summary, notes=_latest(staff_notes_for_customer(customer=customer), length)
        )
    return summary


# --- Staff (the staff API; the role's permission is the caller's to check) -------------------


def token_purchase_list_for_staff() -> QuerySet[TokenPurchase]:
    """Every token purchase and staff grant, newest first (on the created-at index)."""
    return TokenPurchase.objects.select_related("customer").order_by("-created_at", "-id")
