"""VirtFusion VPS tokens: buying them, adding them in the panel, and staff resolution.

Tokens live in VirtFusion; the portal keeps a `TokenPurchase` row for every credit it makes.
The panel calls themselves (balance, add, take back) are provisioning's
(`provisioning.services.tokens`); this module decides when they are made. Moved here from
credits (issue 13): a purchase spans the invoice, the ledger and the panel.

Why tokens are never added twice. VirtFusion's credit call has no idempotency key,
so the portal makes sure it sends each credit at most once per *uncertain* outcome (the
operation kernel, `billing_portal.common.operations`, runs the delivery, TOKEN_DELIVERY, on
the purchase row itself: `TokenPurchase` is an `Operation`):
1. Before calling VirtFusion, `token_purchase_deliver` moves the row from `pending` to
   `sending` and commits, under the row's lock; a second worker (a duplicate task message,
   the sweeper) finds it `sending` and does nothing.
2. The call's outcome decides the next state:
   - 201 with a credit id: `delivered`, the id stored (unique).
   - The request never reached VirtFusion (connection refused, connect timeout) or
     VirtFusion answered that it did nothing (429, 502-504, other 4xx): nothing was added,
     so the row goes back to `pending` with a backoff and the call is repeated later.
   - The answer was lost (read timeout, connection dropped after sending, a 500): VirtFusion
     may have added the tokens. The row becomes `uncertain` and is *not* resent; staff are
     alerted, look for the credit in the panel (reference_1 = our row id, reference_2 =
     "portal-token-purchase-<id>"), and mark it delivered, retry it, convert it to account
     credit or refund it.
   - A worker that dies mid-call leaves the row `sending`; the sweeper treats a row stuck
     there as `uncertain` for the same reason.
The customer's money is safe throughout: the payment stays on the paid invoice until the
tokens are delivered, converted to account credit, or refunded.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from djmoney.money import Money

from accounts.models import Customer, User
from billing.audit import TokenAudit
from billing.locks import (
    token_purchase_lock,
    token_purchase_lock_first,
    token_purchase_lock_for_staff,
)
from billing.models import RefundShortfall, TokenPurchase
from billing.services.shortfalls import (
    converted_credit_key,
    credit_take_back,
    refund_shortfall_open,
)
from billing_portal.common.audit import audit_record
from billing_portal.common.emails import email_send_on_commit
from billing_portal.common.errors import ExternalServiceError
from billing_portal.common.locks import LockKind
from billing_portal.common.operations import (
    OperationKind,
    operation_queue,
    operation_requeue,
    operation_run,
    operations_sweep,
)
from credits.errors import CreditsError, InvalidCreditAmount
from credits.models import CreditEntry
from credits.services import credit_account_lock, credit_entry_append
from invoices.models import Invoice
from provisioning.errors import PanelError
from provisioning.services import tokens as virtfusion
from provisioning.services.tokens import TOKENS_QUANTUM

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8  # with the backoff of TOKEN_DELIVERY: about two hours of VirtFusion downtime


def _offered() -> None:
    """CreditsError unless VirtFusion is set up (staff and customers see the message)."""
    if not virtfusion.tokens_enabled():
        raise CreditsError(virtfusion.NOT_OFFERED)


def _balance_forget(customer_id: int) -> None:
    virtfusion.token_balance_forget(customer_id=customer_id)


# --- Buying -------------------------------------------------------------------------------


def token_purchase_quote(amount: Money) -> Decimal:
    """The tokens `amount` buys, when VirtFusion is set up (CreditsError otherwise) and the
    amount buys any (InvalidCreditAmount otherwise)."""
    _offered()
    tokens = virtfusion.tokens_for(amount)
    if tokens <= 0:
        raise InvalidCreditAmount("That amount buys no tokens.")
    return tokens


def token_purchase_await(
    *, customer: Customer, invoice: Invoice, tokens: Decimal, amount: Money
) -> TokenPurchase:
    """The purchase paid through `invoice`, awaiting its payment. Created in the invoice's
    transaction, so settlement (token_purchase_paid) always finds it."""
    return TokenPurchase.objects.create(
        customer=customer,
        source=TokenPurchase.Source.PURCHASE,
        invoice=invoice,
        status=TokenPurchase.Status.AWAITING_PAYMENT,
        tokens=tokens,
        rate=settings.VIRTFUSION_TOKENS_PER_UNIT,
        currency=str(amount.currency),
        amount=amount,
    )


def token_purchase_paid(invoice: Invoice) -> None:
    """A token purchase was paid (billing's invoice_settled): it is queued for delivery on
    commit."""
    credit = token_purchase_lock(invoice=invoice)
    if credit.status != TokenPurchase.Status.AWAITING_PAYMENT:
        return
    credit.status, credit.next_attempt_at = TokenPurchase.Status.PENDING, timezone.now()
    credit.save(update_fields=["status", "next_attempt_at", "updated_at"])
    operation_queue(TOKEN_DELIVERY, credit.pk)


@transaction.atomic
def tokens_add_by_staff(
    *, customer: Customer, tokens: Decimal, reason: str, staff: User
) -> TokenPurchase:
    """Grant tokens (goodwill, compensation): recorded and delivered like a purchase."""
    _offered()
    if not reason.strip():
        raise CreditsError("Give the reason: it is kept with the credit.")
    if tokens <= 0 or tokens != tokens.quantize(TOKENS_QUANTUM):
        raise InvalidCreditAmount("Tokens must be more than zero, with at most two decimals.")
    credit = TokenPurchase.objects.create(
        customer=customer,
        source=TokenPurchase.Source.STAFF,
        status=TokenPurchase.Status.PENDING,
        tokens=tokens,
        rate=settings.VIRTFUSION_TOKENS_PER_UNIT,
        currency=virtfusion.token_currency(),
        amount=Money(0, virtfusion.token_currency()),
        staff_user=staff,
        reason=reason.strip(),
        next_attempt_at=timezone.now(),
    )
    operation_queue(TOKEN_DELIVERY, credit.pk)
    return credit


# --- Delivery -----------------------------------------------------------------------------


def _deliver(credit: TokenPurchase) -> int:
    """The call: the customer's VirtFusion user, then the credit; VirtFusion's credit id."""
    return virtfusion.token_credit_add(
        customer=credit.customer,
        tokens=credit.tokens,
        reference_1=credit.pk,
        reference_2=f"portal-token-purchase-{credit.pk}",
    )


def _delivered(credit: TokenPurchase, virtfusion_credit_id: int, now: datetime) -> None:
    credit.virtfusion_credit_id, credit.delivered_at = virtfusion_credit_id, now
    audit_record(
        action=TokenAudit.TOKENS_ADDED,
        actor=credit.staff_user,
        customer=credit.customer,
        target=credit,
        details={
            "tokens": str(credit.tokens),
            "virtfusion_credit_id": virtfusion_credit_id,
            "source": credit.source,
        },
    )
    email_send_on_commit(
        to=[credit.customer.user.email],
        name="tokens_added",
        context={
            "customer_name": credit.customer.name,
            "tokens": f"{credit.tokens.normalize():f}",
            "billing_path": "/billing/",
        },
    )
    _balance_forget(credit.customer_id)


def _delivery_failed(credit: TokenPurchase, error: ExternalServiceError) -> None:
    """Failed for good, or uncertain: the purchase waits for staff."""
    audit_record(
        action=TokenAudit.TOKENS_DELIVERY_FAILED,
        customer=credit.customer,
        target=credit,
        details={"tokens": str(credit.tokens), "status": credit.status, "error": error.message},
    )


def _delivery_alert(credit: TokenPurchase, error: ExternalServiceError) -> tuple[str, str]:
    what = (
        "VirtFusion may have added these tokens but its answer was lost."
        if credit.status == TokenPurchase.Status.UNCERTAIN
        else "VirtFusion did not add these tokens."
    )
    message = (
        f"{what}\n\nToken purchase #{credit.pk}: {credit.tokens} tokens for {credit.customer} "
        f"(customer id {credit.customer_id}), attempts {credit.attempts}.\n"
        f"Last error: {credit.last_error}\n"
        f"Look for reference_1={credit.pk} / reference_2=portal-token-purchase-{credit.pk} in "
        "VirtFusion, then resolve it in the admin (Billing > Token purchases)."
    )
    return f"VPS tokens need attention (#{credit.pk})", message


_S = TokenPurchase.Status
BACKOFF_CAP = timedelta(hours=1)
NO_GRACE = timedelta(0)  # a due retry whose message was lost is queued at the next sweep
# VirtFusion's credit call has no idempotency key: a call that may have applied (and a
# worker killed mid-call) is never resent, it becomes `uncertain` for staff.
TOKEN_DELIVERY = OperationKind(
    model=TokenPurchase,
    task_name="credits.token_purchase_deliver",
    call=_deliver,
    on_success=_delivered,
    on_failure=_delivery_failed,
    alert=_delivery_alert,
    idempotent=False,
    pending=_S.PENDING,
    running=_S.SENDING,
    succeeded=_S.DELIVERED,
    failed=_S.FAILED,
    uncertain=_S.UNCERTAIN,
    interrupted_message="The call to VirtFusion was interrupted.",
    lock_kind=LockKind.TOKEN_PURCHASE,
    related=("customer__user",),
    max_attempts=MAX_ATTEMPTS,
    backoff_cap=BACKOFF_CAP,
    backoff_jitter=0.1,
    lost_grace=NO_GRACE,
)


def token_purchase_deliver(*, token_purchase_id: int, now: datetime | None = None) -> TokenPurchase:
    """Add a pending token purchase in VirtFusion: claim, call once, record the outcome."""
    return operation_run(TOKEN_DELIVERY, token_purchase_id, now=now)


def token_purchases_sweep(*, now: datetime | None = None) -> list[int]:
    """Every few minutes: rows stuck `sending` (a worker died mid-call) become uncertain;
    returns the pending rows that are due, for the caller to queue (lost broker messages)."""
    return operations_sweep(TOKEN_DELIVERY, now=now)


def token_removals_sweep(*, now: datetime | None = None) -> list[int]:
    """Every few minutes: removals a dead worker left `removing` go back to the queue (a
    cancel can be repeated safely); returns the due ones, for the caller to queue."""
    return operations_sweep(TOKEN_REMOVAL, now=now)


# --- Staff resolution ---------------------------------------------------------------------


def token_purchase_locked_for_staff(
    token_purchase_id: int, allowed: tuple[str, ...]
) -> TokenPurchase:
    credit = token_purchase_lock_for_staff(token_purchase_id)
    if credit.status not in allowed:
        raise CreditsError(
            f"This token purchase is {credit.get_status_display().lower()}: nothing to do."
        )
    return credit


def token_purchase_resolved(
    credit: TokenPurchase, *, staff: User, status: str, note: str, **details: Any
) -> None:
    credit.status, credit.resolution = status, note.strip()
    credit.save(update_fields=["status", "resolution", "updated_at"])
    audit_record(
        action=TokenAudit.TOKENS_RESOLVED,
        actor=staff,
        customer=credit.customer,
        target=credit,
        details={"status": status, "note": note.strip(), **details},
    )


def note_require(note: str) -> None:
    if not note.strip():
        raise CreditsError("Give the reason: it is kept with the token purchase.")


@transaction.atomic
def token_purchase_retry(*, token_purchase_id: int, staff: User, note: str) -> TokenPurchase:
    """Send again. For an uncertain credit, staff confirm first that VirtFusion does not
    have it (the note says so)."""
    note_require(note)
    credit = token_purchase_locked_for_staff(token_purchase_id, TokenPurchase.STAFF_RESOLVABLE)
    operation_requeue(TOKEN_DELIVERY, credit)
    token_purchase_resolved(credit, staff=staff, status=TokenPurchase.Status.PENDING, note=note)
    return credit


@transaction.atomic
def token_purchase_mark_delivered(
    *, token_purchase_id: int, virtfusion_credit_id: int, staff: User, note: str
) -> TokenPurchase:
    """Staff found the credit in VirtFusion (an uncertain call that did go through)."""
    note_require(note)
    credit = token_purchase_locked_for_staff(token_purchase_id, (TokenPurchase.Status.UNCERTAIN,))
    credit.virtfusion_credit_id, credit.delivered_at = virtfusion_credit_id, timezone.now()
    credit.save(update_fields=["virtfusion_credit_id", "delivered_at"])
    token_purchase_resolved(
        credit,
        staff=staff,
        status=TokenPurchase.Status.DELIVERED,
        note=note,
        virtfusion_credit_id=virtfusion_credit_id,
    )
    _balance_forget(credit.customer_id)
    return credit


@transaction.atomic
def token_purchase_convert_to_credit(
    *, token_purchase_id: int, staff: User, note: str
) -> CreditEntry:
    """Give the customer account credit for what they paid instead of the tokens."""
    note_require(note)
    credit = TokenPurchase.objects.select_related("customer", "invoice").get(pk=token_purchase_id)
    if credit.invoice is None:
        raise CreditsError("Only purchased tokens can be converted to account credit.")
    credit_account_lock(credit.customer, str(credit.invoice.currency))  # account first
    credit = token_purchase_locked_for_staff(token_purchase_id, TokenPurchase.STAFF_RESOLVABLE)
    invoice = credit.invoice
    if invoice is None:  # checked above; the row read again under its lock narrows anew
        raise CreditsError("Only purchased tokens can be converted to account credit.")
    entry = credit_entry_append(
        customer=credit.customer,
        amount=invoice.amount_paid,
        kind=CreditEntry.Kind.REFUND_TO_CREDIT,
        idempotency_key=converted_credit_key(credit.pk),
        description=f"VPS tokens of invoice {invoice.number} converted to credit",
        payment_reference=invoice.number or "",
        staff_user=staff,
        reason=note.strip(),
    )
    token_purchase_resolved(
        credit, staff=staff, status=TokenPurchase.Status.CONVERTED, note=note, credit_entry=entry.pk
    )
    return entry


def token_purchase_cancel(*, token_purchase_id: int, staff: User, reason: str) -> TokenPurchase:
    """Take delivered tokens back out of VirtFusion (a mistaken grant, a chargeback)."""
    note_require(reason)
    credit = TokenPurchase.objects.get(pk=token_purchase_id)
    if credit.status != TokenPurchase.Status.DELIVERED or not credit.virtfusion_credit_id:
        raise CreditsError("Only tokens that were added in VirtFusion can be cancelled.")
    _offered()
    try:
        virtfusion.token_credit_cancel(credit_id=credit.virtfusion_credit_id)
    except ExternalServiceError as error:
        raise CreditsError(f"VirtFusion did not cancel the credit: {error.message}") from error
    with transaction.atomic():
        credit = token_purchase_locked_for_staff(
            token_purchase_id, (TokenPurchase.Status.DELIVERED,)
        )
        credit.status, credit.resolution = TokenPurchase.Status.CANCELLED, reason.strip()
        credit.save(update_fields=["status", "resolution", "updated_at"])
        audit_record(
            action=TokenAudit.TOKENS_CANCELLED,
            actor=staff,
            customer=credit.customer,
            target=credit,
            details={
                "tokens": str(credit.tokens),
                "reason": reason.strip(),
                "virtfusion_credit_id": credit.virtfusion_credit_id,
            },
        )
        _balance_forget(credit.customer_id)
    return credit


# --- Refunds of token purchases -------------------------------------------------------------
#
# Called by the refund's booking (payments.payment_refund_record, through
# billing.services.refunds.purchase_refunded) in its transaction. What happens depends on
# where the tokens are:
# - not sent yet (pending), or known not to be in VirtFusion (failed): a full refund stops
#   them; a partial one lowers what will be sent;
# - delivered: a full refund takes the credit back out of VirtFusion, by the claim-call-
#   record cycle of a delivery (`token_purchase_remove`), after checking the customer still
#   has them; VirtFusion cancels whole credits only, so a partial refund is for staff;
# - converted to account credit: that credit is taken back from the ledger;
# - uncertain, or a call in flight: nobody knows yet whether VirtFusion has them, so staff
#   check (a shortfall item), and the purchase is stopped where that is still possible.
# Whatever cannot be taken back becomes a RefundShortfall.


def _refunded_tokens(credit: TokenPurchase, invoice: Invoice, amount: Money) -> Decimal:
    share = amount.amount / invoice.total.amount if invoice.total.amount else Decimal(1)
    return min(credit.tokens, (credit.tokens * share).quantize(TOKENS_QUANTUM))


def token_purchase_refunded(
    *,
    invoice: Invoice,
    amount: Money,
    refund_key: str,
    payment_reference: str,
    actor: User | None,
) -> RefundShortfall | None:
    credit = token_purchase_lock_first(invoice=invoice)
    if credit is None:
        return None
    full = invoice.status == Invoice.Status.REFUNDED
    tokens = _refunded_tokens(credit, invoice, amount)
    status = credit.status

    def shortfall(description: str) -> RefundShortfall:
        return refund_shortfall_open(
            invoice=invoice,
            kind=RefundShortfall.Kind.TOKENS,
            amount=amount,
            description=description,
            payment_reference=payment_reference,
            actor=actor,
            token_purchase=credit,
            tokens=tokens,
        )

    if status in (TokenPurchase.Status.PENDING, TokenPurchase.Status.FAILED):
        _stop_or_lower(credit, full=full, tokens=tokens, actor=actor)
        return None
    if status == TokenPurchase.Status.CONVERTED:
        return credit_take_back(
            invoice=invoice,
            amount=amount,
            delivered_key=converted_credit_key(credit.pk),
            refund_key=refund_key,
            payment_reference=payment_reference,
            actor=actor,
            token_purchase=credit,
        )
    if status == TokenPurchase.Status.DELIVERED and full:
        operation_requeue(TOKEN_REMOVAL, credit)
        return None
    if status == TokenPurchase.Status.DELIVERED:
        return shortfall(
            f"{tokens.normalize():f} of the {credit.tokens.normalize():f} tokens of invoice "
            f"{invoice.number} were refunded; VirtFusion takes back whole credits only, so "
            f"remove them by hand (VirtFusion credit {credit.virtfusion_credit_id})."
        )
    if status in (TokenPurchase.Status.UNCERTAIN, TokenPurchase.Status.SENDING):
        if full and status == TokenPurchase.Status.UNCERTAIN:
            _stop_or_lower(credit, full=True, tokens=tokens, actor=actor)
        return shortfall(
            f"The payment of invoice {invoice.number} was refunded while it was not known "
            f"whether VirtFusion had added its {credit.tokens.normalize():f} tokens. Look for "
            f"reference_1={credit.pk} in VirtFusion and take them back if they are there."
        )
    return None  # awaiting payment, already refunded, cancelled or being taken back


def _stop_or_lower(
    credit: TokenPurchase, *, full: bool, tokens: Decimal, actor: User | None
) -> None:
    """Tokens not in VirtFusion: a full refund stops them, a partial one sends fewer."""
    if full or tokens >= credit.tokens:
        credit.status, credit.resolution = TokenPurchase.Status.REFUNDED, "Payment refunded."
        credit.save(update_fields=["status", "resolution", "updated_at"])
    else:
        credit.tokens -= tokens
        credit.save(update_fields=["tokens", "updated_at"])
    audit_record(
        action=TokenAudit.TOKENS_CANCELLED,
        actor=actor,
        customer=credit.customer,
        target=credit,
        details={"tokens": str(tokens), "status": credit.status, "reason": "payment refunded"},
    )


def token_refund_preview(credit: TokenPurchase | None, invoice: Invoice, amount: Money) -> str:
    """In words, what a refund of `amount` does to the tokens it paid for (staff form)."""
    if credit is None:
        return ""
    tokens = _refunded_tokens(credit, invoice, amount)
    full = amount >= invoice.total - invoice.amount_refunded
    if credit.status == TokenPurchase.Status.DELIVERED and full:
        return (
            f"Takes the {credit.tokens.normalize():f} tokens back out of VirtFusion; if the "
            "customer has used some, they stay and the refund is listed for staff."
        )
    if credit.status == TokenPurchase.Status.DELIVERED:
        return (
            f"{tokens.normalize():f} tokens cannot be taken back automatically (VirtFusion "
            "takes back whole credits only): the refund is listed for staff."
        )
    if credit.status in (TokenPurchase.Status.PENDING, TokenPurchase.Status.FAILED):
        return "Fewer tokens will be sent." if not full else "The tokens will not be sent."
    return f"The tokens are {credit.get_status_display().lower()}: staff check VirtFusion."


def _remove(credit: TokenPurchase) -> str:
    """The call: check that the customer still has the tokens, cancel the credit. Returns
    why they cannot be taken back ("" when they were)."""
    try:
        balance = virtfusion.token_balance_read(customer_id=credit.customer_id)
        if balance is None or balance < credit.tokens:
            return f"the customer has {balance or 0} tokens left"
        if credit.virtfusion_credit_id is None:  # delivered tokens carry VirtFusion's credit id
            raise PanelError("VirtFusion's credit id of these tokens is not known.")
        virtfusion.token_credit_cancel(credit_id=credit.virtfusion_credit_id)
    except PanelError as error:
        if error.status == 404 and credit.attempts > 1:
            # the credit id was VirtFusion's own; gone after an earlier try whose answer we
            # did not get, it is that try that cancelled it
            return ""
        raise
    return ""


def _removed(credit: TokenPurchase, refused: str, now: datetime) -> None:
    if refused:
        _removal_refused(credit, refused)
        return
    audit_record(
        action=TokenAudit.TOKENS_REMOVED,
        customer=credit.customer,
        target=credit,
        details={"tokens": str(credit.tokens), "virtfusion_credit_id": credit.virtfusion_credit_id},
    )
    _balance_forget(credit.customer_id)


def _removal_failed(credit: TokenPurchase, error: ExternalServiceError) -> None:
    _removal_refused(credit, f"VirtFusion answered: {error.message}")


def _removal_refused(credit: TokenPurchase, why: str) -> None:
    """The tokens cannot be taken back: they stay delivered and staff settle the refund."""
    credit.status, credit.last_error = TokenPurchase.Status.DELIVERED, f"Not taken back: {why}."
    invoice = credit.invoice
    if invoice is None:  # only purchased tokens are taken back after a refund
        raise ValueError(f"Token purchase {credit.pk} has no invoice to refund.")
    refund_shortfall_open(
        invoice=invoice,
        kind=RefundShortfall.Kind.TOKENS,
        amount=invoice.amount_refunded,
        token_purchase=credit,
        tokens=credit.tokens,
        description=(
            f"Invoice {invoice.number} was refunded, but its {credit.tokens.normalize():f} "
            f"tokens could not be taken back out of VirtFusion ({why}; VirtFusion credit "
            f"{credit.virtfusion_credit_id})."
        ),
    )


# Taking refunded tokens back: cancelling a credit twice cannot take twice, so unlike a
# delivery an interrupted call is simply made again. When it cannot be done, the tokens
# stay delivered (`failed` is that state) and the refund becomes a shortfall for staff.
TOKEN_REMOVAL = OperationKind(
    model=TokenPurchase,
    task_name="credits.token_purchase_remove",
    lock_kind=LockKind.TOKEN_PURCHASE,
    call=_remove,
    on_success=_removed,
    on_failure=_removal_failed,
    pending=_S.REMOVAL_PENDING,
    running=_S.REMOVING,
    succeeded=_S.REMOVED,
    failed=_S.DELIVERED,
    related=("customer", "invoice"),
    max_attempts=MAX_ATTEMPTS,
    backoff_cap=BACKOFF_CAP,
    backoff_jitter=0.1,
    lost_grace=NO_GRACE,
)


def token_purchase_remove(*, token_purchase_id: int, now: datetime | None = None) -> TokenPurchase:
    """Take refunded tokens back out of VirtFusion: claim, check that the customer still
    has them, cancel the credit, record the outcome."""
    return operation_run(TOKEN_REMOVAL, token_purchase_id, now=now)
