"""Issuing an invoice, and the reaction to a newly issued one.

`invoice_issued` is called inside the issuing transaction by every billing flow that issues
an invoice (the billing run's renewals, order placement, credit and token purchases, plan
changes, staff issuing a draft): a zero-total invoice is paid as it is
issued, so it is settled there; any other is offered to the account credit once the issuing
transaction commits (`credit_auto_apply`: a renewal is paid from credit when the site and
the customer allow it; it takes its own locks, in the lock order credit account, invoice,
payment). The late fee invoices invoices' dunning issues need neither: their total is
never zero and they are not renewals.
"""

from __future__ import annotations

from datetime import date, datetime

from django.db import transaction

from accounts.models import Customer, User
from billing.services.credit import credit_auto_apply
from billing.services.settlement import invoice_settled
from invoices import services as invoices
from invoices.errors import InvoicesError
from invoices.models import Invoice


def invoice_issued(invoice: Invoice) -> None:
    """The invoice has just been issued (inside the issuing transaction)."""
    if invoice.status == Invoice.Status.PAID:  # zero total: paid as it was issued
        invoice_settled(invoice)
        return
    invoice_id = invoice.pk
    transaction.on_commit(lambda: credit_auto_apply(invoice_id), robust=True)


@transaction.atomic
def invoice_issue(
    *, invoice_id: int, actor: User | None = None, now: datetime | None = None
) -> Invoice:
    """Issue a draft (invoices.invoice_issue) and react to it (`invoice_issued`)."""
    invoice = invoices.invoice_issue(invoice_id=invoice_id, actor=actor, now=now)
    invoice_issued(invoice)
    return invoice


@transaction.atomic
def invoice_create_manual(
    *,
    customer: Customer,
    currency: str,
    lines: list[invoices.LineDraft],
    due_date: date | None = None,
    notes: str = "",
    issue: bool = True,
    actor: User | None = None,
) -> Invoice:
    """A manual invoice (staff work: consulting, a setup fee): priced as a draft, then
    issued at once unless `issue` is False (staff who may not issue leave a draft)."""
    if not lines:
        raise InvoicesError("A manual invoice needs at least one line.")
    invoice = invoices.invoice_create_draft(
        customer=customer, currency=currency, lines=lines, due_date=due_date, notes=notes
    )
    if issue:
        invoice = invoice_issue(invoice_id=invoice.pk, actor=actor)
    return invoice
