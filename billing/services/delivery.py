"""What a paid purchase delivers, called by settlement (`invoice_settled`) inside the paying
transaction: account credit, appended to the ledger under the idempotency key
`invoice:<id>:purchase` (so a second report of the payment adds nothing), or VPS tokens,
queued for delivery through the operation kernel (billing.services.tokens). Moved from
credits (issue 13): the ledger does not read invoices."""

from __future__ import annotations

from djmoney.money import Money

from billing.services.shortfalls import purchase_credit_key
from billing.services.tokens import token_purchase_paid
from credits.audit import CreditAudit
from credits.models import CreditEntry
from credits.services import credit_add
from invoices.models import Invoice, InvoiceLine


def _credit_bought(invoice: Invoice) -> CreditEntry:
    lines = invoice.lines.filter(kind=InvoiceLine.Kind.CREDIT)
    amount = sum((line.total for line in lines), Money(0, invoice.currency))
    return credit_add(
        customer=invoice.customer,
        amount=amount,
        kind=CreditEntry.Kind.PURCHASE,
        idempotency_key=purchase_credit_key(invoice),
        description=f"Credit bought with invoice {invoice.number}",
        payment_reference=invoice.number or "",
        action=CreditAudit.CREDIT_PURCHASED,
        details={"invoice": invoice.number},
    )


def purchases_on_invoice_paid(invoice: Invoice) -> None:
    """Called by invoice_settled (inside the paying transaction, invoice locked): deliver
    what a credit or token purchase bought."""
    if invoice.kind == Invoice.Kind.CREDIT_PURCHASE:
        _credit_bought(invoice)
    elif invoice.kind == Invoice.Kind.TOKEN_PURCHASE:
        token_purchase_paid(invoice)
