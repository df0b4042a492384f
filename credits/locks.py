"""Row locks of credits' tables, in the portal's lock order (billing_portal/common/locks.py)."""

from __future__ import annotations

from djmoney.money import Money

from accounts.models import Customer
from billing_portal.common.locks import LockKind, lock_first, lock_one, locked_by_statement
from credits.models import CreditAccount

# The ledger's one-statement append (credits.services.ledger) locks the account row with
# this, and only this: the account table alone, no join (see credit_account_lock).
ACCOUNT_LOCK_SQL = (
    "SELECT id, balance, last_sequence FROM credits_creditaccount "
    "WHERE customer_id = %(customer)s AND currency = %(currency)s FOR UPDATE"
)


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


def credit_account_locked(account_id: int, *, using: str) -> None:
    """Record that this transaction's own statement (ACCOUNT_LOCK_SQL inside the ledger's
    append) locked the account: later lock helpers see it held, and the lock order is
    checked as for credit_account_lock."""
    locked_by_statement(CreditAccount, [account_id], kind=LockKind.CREDIT_ACCOUNT, using=using)
