"""Settlement: what happens when an invoice becomes paid, and when one is issued.

`invoice_settled` is the one reaction to payment. Every flow that can make an invoice paid
(a recorded payment, paying with account credit, a zero-total invoice, staff marking it
paid) calls it exactly once, inside the paying transaction, with the invoice row locked: the
effects commit or roll back with the payment, and network calls are scheduled with
`transaction.on_commit` by the services it calls. The order below is the order the effects
happen in.

The flows that make an invoice paid: billing.services.payments (every recorded payment:
gateways, staff, reconciliation), billing.services.credit (paying with account credit),
billing.services.issuing (a zero-total invoice is paid when issued) and `invoice_mark_paid`
/ `invoice_apply_payment` below.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from djmoney.money import Money

from accounts.models import User
from billing.services.changes import plan_changes_on_invoice_paid
from billing.services.delivery import purchases_on_invoice_paid
from catalogue.services import order_mark_completed
from invoices import services as invoices
from invoices.locks import invoice_lock
from invoices.models import Invoice, InvoiceLine
from invoices.selectors import unpaid_service_bills
from provisioning import services as provisioning


def invoice_settled(invoice: Invoice) -> None:
    """The invoice has just become paid (inside the paying transaction, invoice locked)."""
    order_mark_completed_for(invoice)  # catalogue: a paid order invoice completes its order
    purchases_on_invoice_paid(invoice)  # billing: deliver the credit or tokens it bought
    services_on_invoice_paid(invoice)  # provisioning: activate, renew, unsuspend services
    plan_changes_on_invoice_paid(invoice)  # billing: apply the upgrade it paid for


def order_mark_completed_for(invoice: Invoice) -> None:
    """A paid order invoice completes its order (the catalogue's order_mark_completed)."""
    if invoice.kind == Invoice.Kind.ORDER and invoice.order_id is not None:
        order_mark_completed(order_id=invoice.order_id)


def services_on_invoice_paid(invoice: Invoice) -> None:
    """Provisioning's reaction to the invoice's service lines, in period order; what is still
    unpaid (may a suspension be lifted?) it asks invoices' `unpaid_service_bills`."""
    lines = invoice.lines.filter(service__isnull=False).order_by("period_start", "pk")
    provisioning.services_on_invoice_paid(
        invoice_number=invoice.number or "",
        lines=[
            provisioning.PaidServiceLine(
                service_id=line.service_id,
                line_id=line.pk,
                is_period=line.kind == InvoiceLine.Kind.SERVICE,
                period_start=line.period_start,
                period_end=line.period_end,
            )
            for line in lines
            if line.service_id is not None  # filtered out above; this narrows the type
        ],
        bills=unpaid_service_bills,
    )


@transaction.atomic
def invoice_mark_paid(
    *,
    invoice_id: int,
    paid_at: datetime | None = None,
    actor: User | None = None,
    reference: str = "",
) -> Invoice:
    """Pay what is due in full (invoices.invoice_mark_paid) and settle it; an invoice that
    was paid already is returned unchanged and not settled again."""
    was_paid = _locked_status(invoice_id) == Invoice.Status.PAID
    invoice = invoices.invoice_mark_paid(
        invoice_id=invoice_id, paid_at=paid_at, actor=actor, reference=reference
    )
    if not was_paid and invoice.status == Invoice.Status.PAID:
        invoice_settled(invoice)
    return invoice


@transaction.atomic
def invoice_apply_payment(
    *,
    invoice_id: int,
    amount: Money,
    paid_at: datetime | None = None,
    actor: User | None = None,
    reference: str = "",
) -> Invoice:
    """Add a payment to an unpaid invoice (invoices.invoice_apply_payment); the payment that
    completes the total settles it, exactly once."""
    invoice = invoices.invoice_apply_payment(
        invoice_id=invoice_id, amount=amount, paid_at=paid_at, actor=actor, reference=reference
    )
    if invoice.status == Invoice.Status.PAID:  # it was unpaid: the payment completed it
        invoice_settled(invoice)
    return invoice


def _locked_status(invoice_id: int) -> str:
    return invoice_lock(invoice_id).status
