"""Refunds of what the customer bought into the wallet: account credit and VPS tokens.

When the payment of a credit purchase is refunded (by staff through the gateway or recorded
only, or reported by Stripe or PayPal, or found by reconciliation), every path books it in
`payments.payment_refund_record`, which calls `purchase_refunded` in the same transaction
as the credit note. The credit the refund paid for is taken back from the ledger; if the
customer has already spent some of it, the ledger takes what is there (it never goes
negative) and the rest becomes a `RefundShortfall`: listed in the admin, mailed to staff,
audited. Token purchases are handled in `credits.services.tokens`: tokens not yet sent are
not sent, delivered ones are taken back out of VirtFusion by the same claimed, retried
cycle as a delivery, and what cannot be taken back becomes a shortfall too.

Lock order: the caller locked the credit account first (then invoice, then payment).
"""

from __future__ import annotations

from dataclasses import dataclass

from djmoney.money import Money

from accounts.models import User
from credits.models import CreditEntry, RefundShortfall, TokenPurchase
from credits.services.ledger import credit_balance
from credits.services.shortfalls import (
    converted_credit_key,
    credit_take_back,
    purchase_credit_key,
)
from credits.services.tokens import token_purchase_refunded, token_refund_preview
from invoices.models import Invoice


def locks_credit_on_refund(invoice: Invoice) -> bool:
    """Whether refunding a payment of this invoice may take credit back, so the refund must
    lock the credit account before the invoice (the lock order)."""
    return invoice.kind in (Invoice.Kind.CREDIT_PURCHASE, Invoice.Kind.TOKEN_PURCHASE)


def purchase_refunded(
    *,
    invoice: Invoice,
    amount: Money,
    refund_key: str,
    payment_reference: str,
    actor: User | None,
) -> RefundShortfall | None:
    """Take back what a refund of `amount` on this (credited, locked) invoice paid for.
    Returns the shortfall opened for what could not be taken back, if any."""
    if invoice.kind == Invoice.Kind.CREDIT_PURCHASE:
        return credit_take_back(
            invoice=invoice,
            amount=amount,
            delivered_key=purchase_credit_key(invoice),
            refund_key=refund_key,
            payment_reference=payment_reference,
            actor=actor,
        )
    if invoice.kind == Invoice.Kind.TOKEN_PURCHASE:
        return token_purchase_refunded(
            invoice=invoice,
            amount=amount,
            refund_key=refund_key,
            payment_reference=payment_reference,
            actor=actor,
        )
    return None


@dataclass(frozen=True)
class RefundPreview:
    """What a refund of a purchase would take back, shown to staff before they confirm."""

    take_back: str  # what is taken back, in words ("" when the invoice bought nothing)
    shortfall: Money | None  # the part known now not to be recoverable

    @property
    def needs_confirmation(self) -> bool:
        return self.shortfall is not None and self.shortfall.amount > 0


def purchase_refund_preview(*, invoice: Invoice, amount: Money) -> RefundPreview:
    """For the admin refund form: how much credit (or which tokens) a refund of `amount`
    takes back, and the part that cannot be (credit already spent)."""
    if invoice.kind == Invoice.Kind.CREDIT_PURCHASE:
        key = purchase_credit_key(invoice)
    elif invoice.kind == Invoice.Kind.TOKEN_PURCHASE:
        purchase = TokenPurchase.objects.filter(invoice=invoice).first()
        if purchase is None or purchase.status != TokenPurchase.Status.CONVERTED:
            return RefundPreview(token_refund_preview(purchase, invoice, amount), None)
        key = converted_credit_key(purchase.pk)
    else:
        return RefundPreview("", None)
    if not CreditEntry.objects.filter(
        account__customer=invoice.customer, idempotency_key=key
    ).exists():
        return RefundPreview(
            "No credit was given for this invoice yet: nothing to take back.", None
        )
    balance = credit_balance(customer=invoice.customer, currency=str(amount.currency))
    taken = min(amount, balance)
    return RefundPreview(
        f"Takes back {taken} of account credit (the balance is {balance}).", amount - taken
    )
