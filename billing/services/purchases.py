"""Buying account credit or VirtFusion VPS tokens: a one-line invoice, issued (due now) and
reacted to (billing.services.issuing). What a paid purchase delivers is credits' own
(credits_on_invoice_paid, called by settlement)."""

from __future__ import annotations

from django.db import transaction
from djmoney.money import Money

from accounts.models import Customer, User
from billing.services.issuing import invoice_issue
from credits import services as credits
from invoices import services as invoices
from invoices.models import Invoice, InvoiceLine


def purchase_invoice_issue(
    *,
    customer: Customer,
    kind: str,
    line: invoices.LineDraft,
    actor: User | None,
    notes: str = "",
) -> Invoice:
    """The one-line invoice a credit or token purchase is paid through, issued (due now)."""
    draft = invoices.invoice_create_draft(
        customer=customer,
        currency=str(line.unit_price.currency),
        kind=kind,
        lines=[line],
        notes=notes,
    )
    return invoice_issue(invoice_id=draft.pk, actor=actor)


@transaction.atomic
def credit_purchase_start(*, customer: Customer, amount: Money, actor: User | None) -> Invoice:
    """Issue the invoice that buys `amount` of account credit; pay it to receive the credit."""
    line = invoices.LineDraft(
        kind=InvoiceLine.Kind.CREDIT,
        description=f"Account credit ({amount})",
        unit_price=amount,
        taxable=False,
    )
    return purchase_invoice_issue(
        customer=customer,
        kind=Invoice.Kind.CREDIT_PURCHASE,
        line=line,
        actor=actor,
        notes="Prepaid account credit: tax is charged on the invoices it pays.",
    )


@transaction.atomic
def token_purchase_start(*, customer: Customer, amount: Money, actor: User | None) -> Invoice:
    """Issue the invoice for `amount` worth of tokens; the tokens are added once it is paid."""
    tokens = credits.token_purchase_quote(amount)
    line = invoices.LineDraft(
        kind=InvoiceLine.Kind.TOKENS,
        description=f"{tokens.normalize():f} VirtFusion VPS tokens",
        unit_price=amount,
    )
    invoice = purchase_invoice_issue(
        customer=customer, kind=Invoice.Kind.TOKEN_PURCHASE, line=line, actor=actor
    )
    credits.token_purchase_await(customer=customer, invoice=invoice, tokens=tokens, amount=amount)
    return invoice
