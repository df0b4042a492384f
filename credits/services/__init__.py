"""Writes of the credits app (the account-credit ledger); import them from here. What credit
and token purchases, refunds and shortfalls do is billing's (billing.services)."""

from credits.locks import credit_account_lock
from credits.services.ledger import (
    credit_add,
    credit_add_by_staff,
    credit_amount_parse,
    credit_balance,
    credit_downgrade_add,
    credit_entry_append,
    credit_remove_by_staff,
    credits_reconcile,
)

__all__ = [
    "credit_account_lock",
    "credit_add",
    "credit_add_by_staff",
    "credit_amount_parse",
    "credit_balance",
    "credit_downgrade_add",
    "credit_entry_append",
    "credit_remove_by_staff",
    "credits_reconcile",
]
