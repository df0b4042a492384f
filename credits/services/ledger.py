"""Account-credit ledger writes.

`credit_entry_append` is the only function that writes ledger entries. It locks the
account row first, so concurrent writers queue on it, and it is idempotent: a retry with the
same key (derived from the source, e.g. `invoice:42:auto-apply`) returns the first entry
instead of writing a second. Lock order across apps: credit account, then invoice, then
payment (DESIGN.md), which paying with credit (billing.services.credit) follows. The ledger
knows no invoice or payment: callers name the source in the key and the description.
"""

from __future__ import annotations

import logging
import re
from decimal import Decimal
from typing import Any

from django.core.mail import mail_admins
from django.db import transaction
from django.db.models import Sum
from djmoney.money import Money

from accounts.models import Customer, User
from billing_portal.common.audit import audit_record
from billing_portal.common.db import retry_on_conflict
from billing_portal.common.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from credits.audit import CreditAudit
from credits.errors import CreditsError, InsufficientCredit, InvalidCreditAmount
from credits.locks import credit_account_lock
from credits.models import CreditAccount, CreditEntry

logger = logging.getLogger(__name__)
CENT = Decimal("0.01")
AMOUNT = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
AMOUNT_LIMIT = Decimal(10) ** (MONEY_MAX_DIGITS - MONEY_DECIMAL_PLACES)  # what a column holds


def credit_amount_parse(
    value: Any,
    *,
    currency: str,
    minimum: Decimal | None = None,
    maximum: Decimal | None = None,
) -> Money:
    """A positive amount in ASCII digits with at most two decimals (within `minimum` and
    `maximum`), or InvalidCreditAmount saying what is wrong. Decimal() would also read
    exponents ("1e308"), other scripts' digits, NaN and Infinity: none is an amount here."""
    text = str(value).strip()
    if not AMOUNT.fullmatch(text):
        raise InvalidCreditAmount("That is not an amount: enter a number such as 25 or 12.50.")
    amount = Decimal(text)
    if amount <= 0:
        raise InvalidCreditAmount("The amount must be more than zero.")
    if maximum is not None and amount > maximum:
        raise InvalidCreditAmount(f"The amount can be at most {maximum} {currency}.")
    if amount >= AMOUNT_LIMIT:
        raise InvalidCreditAmount(f"The amount must be less than {AMOUNT_LIMIT} {currency}.")
    if amount != amount.quantize(CENT):
        raise InvalidCreditAmount("The amount can have at most two decimals.")
    if minimum is not None and amount < minimum:
        raise InvalidCreditAmount(f"The amount must be at least {minimum} {currency}.")
    return Money(amount, currency)


@retry_on_conflict
@transaction.atomic
def credit_entry_append(
    *,
    customer: Customer,
    amount: Money,
    kind: str,
    idempotency_key: str,
    description: str = "",
    payment_reference: str = "",
    staff_user: User | None = None,
    reason: str = "",
    metadata: dict[str, Any] | None = None,
) -> CreditEntry:
    """Append one signed entry to the customer's ledger in `amount`'s currency."""
    if amount.amount == 0:
        raise InvalidCreditAmount("A credit entry cannot be zero.")
    if amount.amount != amount.amount.quantize(CENT):
        raise InvalidCreditAmount("The amount can have at most two decimals.")
    currency = str(amount.currency)
    account = credit_account_lock(customer, currency)
    existing = account.entries.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    after = account.balance + amount
    if after.amount < 0:
        raise InsufficientCredit(
            f"Not enough credit: {-amount} needed, {account.balance} available."
        )
    sequence = account.last_sequence + 1
    entry = CreditEntry.objects.create(
        account=account,
        sequence=sequence,
        kind=kind,
        currency=currency,
        amount=amount,
        balance_before=account.balance,
        balance_after=after,
        description=description,
        payment_reference=payment_reference,
        staff_user=staff_user,
        reason=reason,
        metadata=metadata or {},
        idempotency_key=idempotency_key,
    )
    account.balance, account.last_sequence = after, sequence
    account.save(update_fields=["balance", "last_sequence", "updated_at"])
    return entry


@retry_on_conflict
@transaction.atomic
def credit_add(
    *,
    customer: Customer,
    amount: Money,
    kind: str,
    idempotency_key: str,
    description: str,
    details: dict[str, Any],
    payment_reference: str = "",
    staff_user: User | None = None,
    reason: str = "",
    action: CreditAudit = CreditAudit.CREDIT_ADDED,
) -> CreditEntry:
    """Credit from one source (a purchase, an overpayment, a refund, a downgrade), with its
    audit event: a retry with the same key returns the first entry and records nothing."""
    account = credit_account_lock(customer, str(amount.currency))
    existing = account.entries.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    entry = credit_entry_append(
        customer=customer,
        amount=amount,
        kind=kind,
        idempotency_key=idempotency_key,
        description=description,
        payment_reference=payment_reference,
        staff_user=staff_user,
        reason=reason,
    )
    audit_record(
        action=action,
        actor=staff_user,
        customer=customer,
        target=entry,
        details={"amount": str(amount), **details},
    )
    return entry


# --- Staff --------------------------------------------------------------------------------


def _staff_change(
    *, customer: Customer, amount: Money, reason: str, staff: User, request_key: str, add: bool
) -> CreditEntry:
    if not reason.strip():
        raise CreditsError("Give the reason: it is kept with the entry.")
    with transaction.atomic():
        entry = credit_entry_append(
            customer=customer,
            amount=amount if add else -amount,
            kind=CreditEntry.Kind.ADMIN_ADD if add else CreditEntry.Kind.ADMIN_REMOVE,
            idempotency_key=f"staff:{request_key}",
            description="Added by staff" if add else "Removed by staff",
            staff_user=staff,
            reason=reason.strip(),
        )
        audit_record(
            action=CreditAudit.CREDIT_ADDED if add else CreditAudit.CREDIT_REMOVED,
            actor=staff,
            customer=customer,
            target=entry,
            details={"amount": str(amount), "reason": reason.strip()},
        )
    return entry


def credit_add_by_staff(
    *, customer: Customer, amount: Money, reason: str, staff: User, request_key: str
) -> CreditEntry:
    return _staff_change(
        customer=customer,
        amount=amount,
        reason=reason,
        staff=staff,
        request_key=request_key,
        add=True,
    )


def credit_remove_by_staff(
    *, customer: Customer, amount: Money, reason: str, staff: User, request_key: str
) -> CreditEntry:
    try:
        return _staff_change(
            customer=customer,
            amount=amount,
            reason=reason,
            staff=staff,
            request_key=request_key,
            add=False,
        )
    except InsufficientCredit as exc:
        balance = credit_balance(customer=customer, currency=str(amount.currency))
        raise InsufficientCredit(f"Cannot remove {amount}: the balance is only {balance}.") from exc


# --- Spending -----------------------------------------------------------------------------


def credit_balance(*, customer: Customer, currency: str) -> Money:
    account = CreditAccount.objects.filter(customer=customer, currency=currency).first()
    return account.balance if account else Money(0, currency)


def credit_downgrade_add(
    *, customer: Customer, amount: Money, change_id: int, description: str
) -> CreditEntry:
    """The prorated difference of a downgrade, as account credit; once per plan change.
    The caller locked the credit account first (lock order)."""
    return credit_add(
        customer=customer,
        amount=amount,
        kind=CreditEntry.Kind.DOWNGRADE_CREDIT,
        idempotency_key=f"service-change:{change_id}:downgrade",
        description=description,
        details={"source": "downgrade", "service_change": change_id},
    )


# --- Reconciliation -----------------------------------------------------------------------


def credits_reconcile() -> list[dict[str, str]]:
    """Check that every cached balance equals the sum of its entries and the last entry's
    balance_after; report mismatches to staff. Returns the mismatches."""
    sums = dict(
        CreditEntry.objects.values("account_id")
        .annotate(total=Sum("amount"))
        .values_list("account_id", "total")
    )
    mismatches = []
    for account in CreditAccount.objects.select_related("customer"):
        total = Decimal(sums.get(account.pk) or 0).quantize(CENT)
        last = account.entries.order_by("-sequence").first()
        last_after = (last.balance_after.amount if last else Decimal(0)).quantize(CENT)
        if account.balance.amount != total or account.balance.amount != last_after:
            mismatches.append(
                {
                    "account": str(account.pk),
                    "customer": str(account.customer),
                    "cached": str(account.balance.amount),
                    "sum": str(total),
                    "last_entry": str(last_after),
                }
            )
    if mismatches:
        lines = "\n".join(str(m) for m in mismatches)
        logger.error("credit ledger mismatches: %s", lines)
        mail_admins("Credit ledger mismatch", f"Cached balances differ from entries:\n{lines}")
    return mismatches
