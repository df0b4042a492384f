"""Refunds of what the customer bought into the wallet: account credit and VPS tokens.

When the payment of a credit purchase is refunded (by staff through the gateway or recorded
only, or reported by Stripe or PayPal, or found by reconciliation), every path books it in
`payments.payment_refund_record`, which calls what billing hands it as `take_back`
(`purchase_refunded`; payments cannot import the layer above it) in the same transaction as
the credit note: every refund flow is called through billing.services, which binds it (the
functions at the end of this module). The credit the refund paid for is taken back from the
ledger; if the customer has already spent some of it, the ledger takes what is there (it
never goes negative) and the rest becomes a `RefundShortfall`: listed in the admin, mailed to staff,
audited. Token purchases are handled in `billing.services.tokens`: tokens not yet sent are
not sent, delivered ones are taken back out of VirtFusion by the same claimed, retried
cycle as a delivery, and what cannot be taken back becomes a shortfall too.

Lock order: the caller locked the credit account first (then invoice, then payment).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import transaction
from djmoney.money import Money

from accounts.models import User
from billing.models import RefundShortfall, TokenPurchase
from billing.services.shortfalls import (
    converted_credit_key,
    credit_take_back,
    purchase_credit_key,
)
from billing.services.tokens import (
    note_require,
    token_purchase_locked_for_staff,
    token_purchase_refunded,
    token_purchase_resolved,
    token_refund_preview,
)
from billing_portal.common.db import retry_on_conflict
from credits.errors import CreditsError
from credits.models import CreditEntry
from credits.services import credit_account_lock, credit_add, credit_balance
from invoices.models import Invoice
from payments import services as payments
from payments.models import Payment, RefundRequest


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


# --- Refunds booked here --------------------------------------------------------------------
# Each payments refund flow, bound to `purchase_refunded` (what the refund takes back). Every
# refund goes through one of these, so none can forget what the purchase delivered.


def payment_refund_record(
    *, payment_id: int, amount: Money, reason: str, actor: User | None = None, via: str = "record"
) -> Payment:
    """Book a refund that already happened (payments.payment_refund_record)."""
    return payments.payment_refund_record(
        payment_id=payment_id,
        amount=amount,
        reason=reason,
        actor=actor,
        via=via,
        take_back=purchase_refunded,
    )


def payment_refund_sync(
    *, payment_id: int, refunded_total: Money, reason: str, via: str
) -> Payment:
    """Book up to the provider's cumulative refunded total (payments.payment_refund_sync)."""
    return payments.payment_refund_sync(
        payment_id=payment_id,
        refunded_total=refunded_total,
        reason=reason,
        via=via,
        take_back=purchase_refunded,
    )


def payment_refund_book_once(
    *,
    payment_id: int,
    reference: str,
    amount: Money,
    reason: str,
    via: str,
    request_id: int | None = None,
) -> bool:
    """Book one provider refund once (payments.payment_refund_book_once)."""
    return payments.payment_refund_book_once(
        payment_id=payment_id,
        reference=reference,
        amount=amount,
        reason=reason,
        via=via,
        request_id=request_id,
        take_back=purchase_refunded,
    )


def payment_refund_via_gateway(
    *, payment_id: int, amount: Money, reason: str, actor: User | None = None
) -> RefundRequest:
    """Ask the payment's provider to return money, then book it
    (payments.payment_refund_via_gateway)."""
    return payments.payment_refund_via_gateway(
        payment_id=payment_id,
        amount=amount,
        reason=reason,
        actor=actor,
        take_back=purchase_refunded,
    )


@retry_on_conflict
@transaction.atomic
def credit_refund_payment(
    *,
    payment_id: int,
    amount: Money,
    reason: str,
    actor: User | None = None,
    request_key: str = "",
) -> CreditEntry:
    """Refund (part of) a payment to account credit instead of to the card or PayPal: the
    refund is booked (a credit note on its invoice) and the credit added in one transaction.
    `request_key` (the staff form's nonce) makes a double submission one refund."""
    if not reason.strip():
        raise CreditsError("Give the reason for the refund.")
    payment = Payment.objects.select_related("customer", "invoice").get(pk=payment_id)
    if payment.invoice.kind == Invoice.Kind.CREDIT_PURCHASE:
        raise CreditsError(
            "A credit purchase cannot be refunded to account credit: refund it to the card or "
            "PayPal, or record a refund made another way."
        )
    account = credit_account_lock(payment.customer, str(payment.currency))  # account first
    key = f"payment:{payment.pk}:refund-to-credit:{request_key or uuid.uuid4().hex}"
    existing = account.entries.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    payment_refund_record(
        payment_id=payment.pk, amount=amount, reason=reason, actor=actor, via="credit"
    )
    return credit_add(
        customer=payment.customer,
        amount=amount,
        kind=CreditEntry.Kind.REFUND_TO_CREDIT,
        idempotency_key=key,
        description=f"Refund of a payment on invoice {payment.invoice.number}",
        payment_reference=f"{payment.gateway}:{payment.reference}",
        staff_user=actor,
        reason=reason.strip(),
        details={"source": "refund", "payment": payment.pk},
    )


def token_purchase_refund(*, token_purchase_id: int, staff: User, note: str) -> TokenPurchase:
    """Return the money through the payment's provider (or book a refund made elsewhere)."""
    note_require(note)
    # Not `pending`: a queued delivery could add the tokens while the money goes back.
    refundable = (TokenPurchase.Status.UNCERTAIN, TokenPurchase.Status.FAILED)
    credit = TokenPurchase.objects.select_related("invoice").get(pk=token_purchase_id)
    if credit.status not in refundable or credit.invoice is None:
        raise CreditsError(
            "Only paid token purchases that failed or need checking can be refunded."
        )
    for payment in Payment.objects.filter(invoice=credit.invoice, status=Payment.Status.APPLIED):
        refund = (
            credit_refund_payment
            if payment.method == Payment.Method.CREDIT
            else payment_refund_via_gateway
        )
        refund(
            payment_id=payment.pk,
            amount=payment.amount - payment.amount_refunded,
            reason=note,
            actor=staff,
        )
    with transaction.atomic():
        # booking the refund already stopped the tokens (token_purchase_refunded)
        credit = token_purchase_locked_for_staff(
            token_purchase_id, (*refundable, TokenPurchase.Status.REFUNDED)
        )
        token_purchase_resolved(
            credit, staff=staff, status=TokenPurchase.Status.REFUNDED, note=note
        )
    return credit
