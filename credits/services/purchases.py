"""Buying account credit (what a paid purchase delivers; issuing the purchase invoice is
billing's, billing.services.purchases), and credit that arrives from overpayments.

A purchase is an invoice of kind `credit` with one untaxed line (tax is charged on the
invoices the credit later pays). It is paid like any invoice (Stripe, PayPal), so every way a
payment can be reported (the capture on the return page, the webhook, the reconciliation)
ends in `payment_record`, which applies it to the invoice once; the invoice becomes paid
exactly once and settlement (billing's invoice_settled, through `credits_on_invoice_paid`)
appends the credit under the idempotency key `invoice:<id>:purchase`, in the same
transaction. Whichever report comes first adds the
credit; the others find the payment recorded and change nothing.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from djmoney.money import Money

from accounts.models import Customer
from credits.audit import CreditAudit
from credits.models import CreditEntry
from credits.services.ledger import credit_add, credit_amount_parse
from credits.services.shortfalls import purchase_credit_key
from invoices.models import Invoice, InvoiceLine


def purchase_amount_parse(value: Any, *, currency: str) -> Money:
    """An amount a customer may buy at once (CREDITS_PURCHASE_MIN to _MAX), or
    InvalidCreditAmount saying what is wrong."""
    return credit_amount_parse(
        value,
        currency=currency,
        minimum=settings.CREDITS_PURCHASE_MIN,
        maximum=settings.CREDITS_PURCHASE_MAX,
    )


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


def credits_on_invoice_paid(invoice: Invoice) -> None:
    """Called by billing's invoice_settled (inside the paying transaction, invoice locked):
    deliver what a credit or token purchase bought."""
    if invoice.kind == Invoice.Kind.CREDIT_PURCHASE:
        _credit_bought(invoice)
    elif invoice.kind == Invoice.Kind.TOKEN_PURCHASE:
        from credits.services.tokens import token_purchase_paid

        token_purchase_paid(invoice)


def credit_overpayment_add(
    *, customer: Customer, amount: Money, payment_id: int, invoice: Invoice, reference: str
) -> CreditEntry:
    """The part of a payment above what its invoice asked for becomes account credit. The
    caller (payments.payment_record) holds the credit account's lock, taken first."""
    return credit_add(
        customer=customer,
        amount=amount,
        kind=CreditEntry.Kind.OVERPAYMENT,
        idempotency_key=f"payment:{payment_id}:overpayment",
        description=f"Overpayment of invoice {invoice.number}",
        payment_reference=reference,
        details={"source": "overpayment", "invoice": invoice.number},
    )
