"""Row locks of credits' tables, in the portal's lock order (billing_portal/common/locks.py)."""

from __future__ import annotations

from typing import Any

from djmoney.money import Money

from accounts.models import Customer
from billing_portal.common.locks import LockKind, lock_first, lock_one
from credits.models import CreditAccount, RefundShortfall, TokenPurchase


def credit_account_lock(customer: Customer, currency: str) -> CreditAccount:
    """The customer's account in `currency`, row-locked (call inside a transaction); created
    on first use. Other apps call it to take this lock first, as the lock order requires."""
    # Only the account row: a lock that joined the customer row (as the model's ordering by
    # customer once did) would block every other transaction's foreign-key check on that
    # customer (a payment row, an audit event) and deadlock with them.
    accounts = CreditAccount.objects.order_by()
    kind = LockKind.CREDIT_ACCOUNT
    account = lock_first(accounts, kind=kind, customer=customer, currency=currency)
    if account is None:  # first entry in this currency (rare): create, then lock
        CreditAccount.objects.get_or_create(
            customer=customer, currency=currency, defaults={"balance": Money(0, currency)}
        )
        account = lock_one(accounts, kind=kind, customer=customer, currency=currency)
    return account


def token_purchase_lock(**lookups: Any) -> TokenPurchase:
    """The one token purchase matching `lookups` (its id or its invoice), locked."""
    return lock_one(TokenPurchase.objects.all(), kind=LockKind.TOKEN_PURCHASE, **lookups)


def token_purchase_lock_for_staff(token_purchase_id: int) -> TokenPurchase:
    """The purchase with its customer and invoice read along; only its own row is locked
    (the invoice is a nullable join, which PostgreSQL cannot lock)."""
    rows = TokenPurchase.objects.select_related("customer", "invoice")
    return lock_one(rows, kind=LockKind.TOKEN_PURCHASE, pk=token_purchase_id)


def token_purchase_lock_first(**lookups: Any) -> TokenPurchase | None:
    """The first token purchase matching `lookups`, locked, or None."""
    return lock_first(TokenPurchase.objects.all(), kind=LockKind.TOKEN_PURCHASE, **lookups)


def refund_shortfall_lock(shortfall_id: int) -> RefundShortfall:
    """The shortfall row, locked: two staff resolving it at once queue on it."""
    return lock_one(RefundShortfall.objects.all(), kind=LockKind.REFUND_SHORTFALL, pk=shortfall_id)
