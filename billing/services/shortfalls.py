"""What a refund of a wallet purchase could not take back, and taking credit back.

A `RefundShortfall` is the staff item for the part of a refund that the ledger or
VirtFusion could not take back (see billing.services.refunds). Moved from credits (issue 13):
the ledger only keeps the entries; taking credit back for a refunded invoice is billing's."""

from __future__ import annotations

import logging
from decimal import Decimal

from django.core.mail import mail_admins
from django.db import transaction
from django.utils import timezone
from djmoney.money import Money

from accounts.models import User
from billing.audit import RefundAudit
from billing.locks import refund_shortfall_lock
from billing.models import RefundShortfall, TokenPurchase
from billing_portal.common.audit import audit_record
from credits.audit import CreditAudit
from credits.errors import CreditsError
from credits.models import CreditEntry
from credits.services import credit_account_lock, credit_entry_append
from invoices.models import Invoice

logger = logging.getLogger(__name__)


def purchase_credit_key(invoice: Invoice) -> str:
    """The ledger key of the credit an invoice delivered (see billing.services.purchases)."""
    return f"invoice:{invoice.pk}:purchase"


def converted_credit_key(token_purchase_id: int) -> str:
    """The ledger key of account credit given instead of undelivered tokens."""
    return f"token-purchase:{token_purchase_id}:convert"


def credit_take_back(
    *,
    invoice: Invoice,
    amount: Money,
    delivered_key: str,
    refund_key: str,
    payment_reference: str,
    actor: User | None,
    token_purchase: TokenPurchase | None = None,
) -> RefundShortfall | None:
    """Debit up to `amount` of the credit the ledger entry `delivered_key` gave; nothing if
    that credit was never given (the invoice was not fully paid yet)."""
    customer = invoice.customer
    account = credit_account_lock(customer, str(amount.currency))
    if not account.entries.filter(idempotency_key=delivered_key).exists():
        return None
    key = f"refund:{refund_key}:take-back"
    if account.entries.filter(idempotency_key=key).exists():
        return None  # this refund was handled already
    taken = min(amount, account.balance)
    if taken.amount > 0:
        entry = credit_entry_append(
            customer=customer,
            amount=-taken,
            kind=CreditEntry.Kind.PURCHASE_REFUNDED,
            idempotency_key=key,
            description=f"Refund of invoice {invoice.number}",
            payment_reference=payment_reference,
            staff_user=actor,
        )
        audit_record(
            action=CreditAudit.CREDIT_REMOVED,
            actor=actor,
            customer=customer,
            target=entry,
            details={"amount": str(taken), "source": "refund", "invoice": invoice.number},
        )
    short = amount - taken
    if short.amount <= 0:
        return None
    return refund_shortfall_open(
        invoice=invoice,
        kind=RefundShortfall.Kind.CREDIT,
        amount=short,
        payment_reference=payment_reference,
        actor=actor,
        token_purchase=token_purchase,
        description=(
            f"A refund of {amount} on invoice {invoice.number} took back {taken} of account "
            f"credit; the customer had already spent the other {short}."
        ),
    )


# --- Staff items --------------------------------------------------------------------------


def refund_shortfall_open(
    *,
    invoice: Invoice,
    kind: str,
    amount: Money,
    description: str,
    payment_reference: str = "",
    actor: User | None = None,
    token_purchase: TokenPurchase | None = None,
    tokens: Decimal | None = None,
) -> RefundShortfall:
    """List what a refund could not take back for staff: recorded, audited, mailed."""
    shortfall = RefundShortfall.objects.create(
        customer=invoice.customer,
        invoice=invoice,
        token_purchase=token_purchase,
        payment_reference=payment_reference,
        kind=kind,
        currency=str(amount.currency),
        amount=amount,
        tokens=tokens,
        description=description,
    )
    audit_record(
        action=RefundAudit.REFUND_SHORTFALL,
        actor=actor,
        customer=invoice.customer,
        target=shortfall,
        details={
            "invoice": invoice.number,
            "kind": kind,
            "amount": str(amount),
            **({"tokens": str(tokens)} if tokens is not None else {}),
        },
    )
    message = (
        f"{description}\n\nCustomer: {invoice.customer} (id {invoice.customer_id})\n"
        f"Invoice: {invoice.number}\nPayment: {payment_reference}\n\n"
        "Settle it, then mark it resolved in the admin (Billing > Refund shortfalls)."
    )
    transaction.on_commit(
        lambda: mail_admins(f"A refund could not take everything back (#{shortfall.pk})", message)
    )
    logger.warning("refund shortfall %s: %s", shortfall.pk, description)
    return shortfall


@transaction.atomic
def refund_shortfall_resolve(*, shortfall_id: int, staff: User, note: str) -> RefundShortfall:
    """Staff settled it (recovered the money, wrote it off): say how; it leaves the list."""
    if not note.strip():
        raise CreditsError("Say how it was settled: the note is kept with it.")
    shortfall = refund_shortfall_lock(shortfall_id)
    if shortfall.status != RefundShortfall.Status.OPEN:
        raise CreditsError("This shortfall is already resolved.")
    shortfall.status, shortfall.resolution = RefundShortfall.Status.RESOLVED, note.strip()
    shortfall.resolved_by, shortfall.resolved_at = staff, timezone.now()
    shortfall.save(update_fields=["status", "resolution", "resolved_by", "resolved_at"])
    audit_record(
        action=RefundAudit.REFUND_SHORTFALL_RESOLVED,
        actor=staff,
        customer=shortfall.customer,
        target=shortfall,
        details={"note": note.strip()},
    )
    return shortfall
