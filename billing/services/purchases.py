"""Buying account credit or VirtFusion VPS tokens: a one-line invoice, issued (due now) and
reacted to (billing.services.issuing); what the paid invoice delivers is in
billing.services.delivery (`purchases_on_invoice_paid`, called by settlement).

A credit purchase is an invoice of kind `credit` with one untaxed line (tax is charged on the
invoices the credit later pays). It is paid like any invoice (Stripe, PayPal), so every way a
payment can be reported (the capture on the return page, the webhook, the reconciliation)
ends in `payment_record`, which applies it to the invoice once; the invoice becomes paid
exactly once and settlement (`invoice_settled`) delivers what it bought, in the same
transaction. Whichever report comes first delivers it; the others find the payment recorded
and change nothing.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from djmoney.money import Money

from accounts.models import Customer, User
from billing.services.issuing import invoice_issue
from billing.services.tokens import token_purchase_await, token_purchase_quote
from credits.services import credit_amount_parse
from invoices import services as invoices
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
    tokens = token_purchase_quote(amount)
    line = invoices.LineDraft(
        kind=InvoiceLine.Kind.TOKENS,
        description=f"{tokens.normalize():f} VirtFusion VPS tokens",
        unit_price=amount,
    )
    invoice = purchase_invoice_issue(
        customer=customer, kind=Invoice.Kind.TOKEN_PURCHASE, line=line, actor=actor
    )
    token_purchase_await(customer=customer, invoice=invoice, tokens=tokens, amount=amount)
    return invoice
