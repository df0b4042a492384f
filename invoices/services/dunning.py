"""The invoices' own rules for unpaid bills, as the billing run asks them one item at a time:
reminders (each notice once), late fees, the cancellation of abandoned purchases, and of the
renewals left billing a terminated service (unpaid new orders are cancelled by billing's
ordering flow, which cancels their services too).

Each `*_due` read selects what is due with one query; each rule locks its own row, checks
again and returns whether it changed anything (the run counts that), in the caller's
transaction: running twice, or two runs at once, changes nothing the second time. Reminders
also go in batches (`invoice_reminders_send`: the same rule for many invoices in four
statements), the run falling back to `invoice_remind_if_due` one by one if a batch fails.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from djmoney.money import Money

from billing_portal.common.emails import email_send_on_commit
from billing_portal.common.outbox import outbox_enqueue_many
from invoices.locks import invoice_lock_first, invoices_lock_unpaid
from invoices.models import Invoice, InvoiceLine, InvoiceNotice
from invoices.pricing import percent_of
from invoices.services.invoices import (
    LineDraft,
    invoice_cancel,
    invoice_create_draft,
    invoice_issue,
)
from provisioning.models import Service

# Credit and token purchases are offers the customer may walk away from: no reminders, no
# late fees; left unpaid, they are cancelled with the unpaid orders.
PURCHASE_KINDS = (Invoice.Kind.CREDIT_PURCHASE, Invoice.Kind.TOKEN_PURCHASE)
# Offers that simply lapse when unpaid: no reminders, no late fees.
NO_DUNNING_KINDS = (*PURCHASE_KINDS, Invoice.Kind.UPGRADE)
# A renewal still bills something while one of its services may yet run.
STILL_BILLED = (Service.Status.ACTIVE, Service.Status.SUSPENDED, Service.Status.PENDING)


def _locked_unpaid(invoice_id: int) -> Invoice | None:
    return invoice_lock_first(
        related=("customer__user",), pk=invoice_id, status=Invoice.Status.UNPAID
    )


def _notice_once(invoice: Invoice, kind: str, fee_invoice: Invoice | None = None) -> bool:
    """Record the notice; False when this (invoice, kind) was already recorded."""
    try:
        with transaction.atomic():
            InvoiceNotice.objects.create(invoice=invoice, kind=kind, fee_invoice=fee_invoice)
    except IntegrityError:
        return False
    return True


# --- Reminders ----------------------------------------------------------------------------


def reminder_sequence() -> list[tuple[int, str]]:
    """(days relative to the due date, notice kind) of each reminder of INVOICE_REMINDER_DAYS,
    in order. Kinds are named by position so a sequence keeps the names the fixed one had:
    before the due date `upcoming`, `upcoming_2`, ...; on it `due`; after it `overdue_1`,
    `overdue_2`, ... (the default -3,0,1,3,7 gives exactly the former five kinds)."""
    days = settings.INVOICE_REMINDER_DAYS
    before = [d for d in days if d < 0]
    after = [d for d in days if d > 0]
    sequence = [(d, "upcoming" if n == 1 else f"upcoming_{n}") for n, d in enumerate(before, 1)]
    sequence += [(0, InvoiceNotice.Kind.DUE)] if 0 in days else []
    sequence += [(d, f"overdue_{n}") for n, d in enumerate(after, 1)]
    return sequence


def reminder_kind(*, due: date, today: date) -> str | None:
    """The one notice an unpaid invoice should have received by `today`, if any. After a
    missed day only the latest notice goes out, never a burst of older ones."""
    overdue = (today - due).days
    came = [kind for days, kind in reminder_sequence() if overdue >= days]
    return str(came[-1]) if came else None


def _final_kind() -> str:
    after = [kind for days, kind in reminder_sequence() if days > 0]
    return after[-1] if after else ""


def _reminder_horizon() -> int:
    """Days before the due date that the earliest reminder goes out (0: none before)."""
    days: list[int] = settings.INVOICE_REMINDER_DAYS
    return max(0, -min(days))


def invoice_reminders_due(*, today: date) -> list[tuple[int, str]]:
    """(invoice id, notice kind) of each reminder due today and not sent yet, in id order."""
    horizon = today + timedelta(days=_reminder_horizon())
    unpaid = Invoice.objects.filter(status=Invoice.Status.UNPAID, due_date__lte=horizon).exclude(
        kind__in=NO_DUNNING_KINDS
    )
    wanted = {
        (invoice_id, kind)
        for invoice_id, due_date in unpaid.values_list("pk", "due_date").iterator()
        if due_date is not None and (kind := reminder_kind(due=due_date, today=today))
    }
    sent = set(InvoiceNotice.objects.filter(invoice__in=unpaid).values_list("invoice_id", "kind"))
    return sorted(wanted - sent)


def _reminder_context(invoice: Invoice, kind: str) -> dict[str, object]:
    return {
        "customer_name": invoice.customer.name,
        "number": invoice.number,
        "amount_due": str(invoice.amount_due),
        "due_date": invoice.due_date.isoformat() if invoice.due_date else "",
        "invoice_path": f"/invoices/{invoice.pk}/",
        "due_today": kind == InvoiceNotice.Kind.DUE,
        "overdue": kind.startswith("overdue"),
        "final": kind == _final_kind(),
    }


def invoice_remind_if_due(*, invoice_id: int, kind: str) -> bool:
    """Send the `kind` reminder of a still unpaid invoice, unless it was sent already."""
    invoice = _locked_unpaid(invoice_id)
    if invoice is None or not _notice_once(invoice, kind):
        return False
    email_send_on_commit(
        to=[invoice.customer.user.email],
        name="invoice_reminder",
        context=_reminder_context(invoice, kind),
    )
    return True


def invoice_reminders_send(*, items: list[tuple[int, str]]) -> int:
    """`invoice_remind_if_due` for a batch of (invoice id, kind), in four statements for
    any number: lock the still unpaid invoices (id order), read their notices again under
    the lock (a concurrent run's are committed by then), record the missing ones and queue
    their emails. Returns how many were sent. The (invoice, kind) constraint still stands
    behind it: a duplicate fails the batch, which the run then retries an item at a time."""
    kinds = dict(items)  # one reminder kind per invoice a day (`reminder_kind`)
    invoices = invoices_lock_unpaid(invoice_ids=list(kinds), related=("customer__user",))
    sent = set(InvoiceNotice.objects.filter(invoice__in=invoices).values_list("invoice_id", "kind"))
    due = [(invoice, kinds[invoice.pk]) for invoice in invoices]
    due = [(invoice, kind) for invoice, kind in due if (invoice.pk, kind) not in sent]
    InvoiceNotice.objects.bulk_create(InvoiceNotice(invoice=i, kind=kind) for i, kind in due)
    outbox_enqueue_many(
        "common.email_send",
        [
            {
                "to": [invoice.customer.user.email],
                "name": "invoice_reminder",
                "context": _reminder_context(invoice, kind),
            }
            for invoice, kind in due
        ],
    )
    return len(due)


# --- Late fees ----------------------------------------------------------------------------


def invoice_late_fees_due(*, today: date) -> list[int]:
    """Unpaid invoices overdue long enough for a late fee and not charged one yet (none when
    late fees are off)."""
    days = settings.BILLING_LATE_FEE_AFTER_DAYS
    if days <= 0:
        return []
    charged = InvoiceNotice.objects.filter(invoice=OuterRef("pk"), kind=InvoiceNotice.Kind.LATE_FEE)
    return list(
        Invoice.objects.filter(
            status=Invoice.Status.UNPAID, due_date__lte=today - timedelta(days=days)
        )
        .exclude(kind__in=(Invoice.Kind.LATE_FEE, *NO_DUNNING_KINDS))
        .exclude(Exists(charged))
        .values_list("pk", flat=True)
    )


def invoice_late_fee_charge(*, invoice_id: int, today: date) -> bool:
    """Issue the late fee invoice of a still unpaid invoice, once."""
    invoice = _locked_unpaid(invoice_id)
    if invoice is None or invoice.notices.filter(kind=InvoiceNotice.Kind.LATE_FEE).exists():
        return False
    fee = percent_of(invoice.total, settings.BILLING_LATE_FEE_PERCENT)
    if fee.amount <= 0:
        return False
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
    return _notice_once(invoice, InvoiceNotice.Kind.LATE_FEE, fee_invoice=fee_invoice)


# --- Unpaid purchases -------------------------------------------------------------------


def _unpaid_order_cutoff(today: date) -> date:
    return today - timedelta(days=settings.BILLING_CANCEL_UNPAID_ORDERS_AFTER_DAYS)


def purchases_abandoned_due(*, today: date) -> list[int]:
    """Credit and token purchase invoices left unpaid too long."""
    return list(
        Invoice.objects.filter(
            kind__in=PURCHASE_KINDS,
            status=Invoice.Status.UNPAID,
            due_date__lte=_unpaid_order_cutoff(today),
        ).values_list("pk", flat=True)
    )


def purchase_cancel_if_unpaid(*, invoice_id: int) -> bool:
    if _locked_unpaid(invoice_id) is None:
        return False
    invoice_cancel(invoice_id=invoice_id, reason="Purchase not paid in time.")
    return True


# --- Renewals of an ended service ---------------------------------------------------------


def renewals_cancel_for_ended_service(*, service_id: int) -> int:
    """Cancel the unpaid renewals that bill a service that no longer runs, unless they still
    bill another service that may; returns how many."""
    still_billed = InvoiceLine.objects.filter(
        invoice=OuterRef("pk"), service__status__in=STILL_BILLED
    )
    invoice_ids = list(
        Invoice.objects.filter(
            status=Invoice.Status.UNPAID, kind=Invoice.Kind.RENEWAL, lines__service=service_id
        )
        .exclude(Exists(still_billed))
        .values_list("pk", flat=True)
        .distinct()
    )
    for invoice_id in invoice_ids:
        invoice_cancel(invoice_id=invoice_id, reason="service terminated")
    return len(invoice_ids)


def renewals_cancel_for_cancellation(
    *, service_id: int, from_date: date | None = None
) -> list[int]:
    """Cancel the unpaid renewals billing this service's periods from `from_date` (its end
    day; None: any period), which the cancelled service will not have, even where they
    bill other services too (not one with a part payment on it: `invoice_cancel` refuses
    those, staff settle them). Their lines give their periods back (`period_released`),
    so a withdrawn request, or another service of a combined renewal, is billed again.
    Call with the invoices locked (`invoices_lock_unpaid_renewals_of`). Returns the ids of
    the other services those invoices billed, for the caller to bill again."""
    lines = InvoiceLine.objects.filter(service=service_id, kind=InvoiceLine.Kind.SERVICE)
    if from_date is not None:
        lines = lines.filter(period_start__gte=from_date)
    invoice_ids = list(
        Invoice.objects.filter(
            status=Invoice.Status.UNPAID,
            kind=Invoice.Kind.RENEWAL,
            pk__in=lines.values("invoice_id"),
        )
        .exclude(amount_paid__gt=0)  # part paid: staff refund or credit it, never lost here
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for invoice_id in invoice_ids:
        invoice_cancel(invoice_id=invoice_id, reason="service cancelled by the customer")
    released = InvoiceLine.objects.filter(
        invoice__in=invoice_ids, kind=InvoiceLine.Kind.SERVICE, service__isnull=False
    )
    others = set(released.exclude(service=service_id).values_list("service_id", flat=True))
    released.update(period_released=True)
    return sorted(others)
