"""Credit reads for views and the API, always scoped by the caller."""

from __future__ import annotations

from django.db.models import QuerySet
from djmoney.money import Money

from accounts.models import Customer
from credits.models import CreditAccount, CreditEntry


def credit_accounts_for_customer(*, customer: Customer) -> QuerySet[CreditAccount]:
    return CreditAccount.objects.filter(customer=customer).order_by("currency")


def credit_balances_for_customer(*, customer: Customer) -> tuple[Money, list[Money]]:
    """The balance in the customer's preferred currency (zero before any credit) and the
    balances in other currencies; one query."""
    accounts = list(credit_accounts_for_customer(customer=customer))
    preferred = customer.preferred_currency
    balance = next((a.balance for a in accounts if a.currency == preferred), Money(0, preferred))
    return balance, [a.balance for a in accounts if a.currency != preferred]


def credit_entries_for_customer(
    *, customer: Customer, kind: str | None = None
) -> QuerySet[CreditEntry]:
    """The customer's credit history, newest first. Filtered by the ids of the customer's
    accounts (one per currency), not a join on the account: then PostgreSQL reads a page of
    an account's (account, created_at, id) index however long the history is, where the
    join's estimate (one account among all) made it read and sort every entry."""
    accounts = list(credit_accounts_for_customer(customer=customer).values_list("pk", flat=True))
    entries = CreditEntry.objects.filter(account_id__in=accounts).select_related("account")
    if kind:
        entries = entries.filter(kind=kind)
    return entries.order_by("-created_at", "-id")


def credit_debit_get_for_customer(*, customer: Customer, entry_id: int) -> CreditEntry:
    """One debit (money taken from credit) of this customer, for its receipt;
    CreditEntry.DoesNotExist for anyone else's entry and for entries that add credit."""
    return (
        CreditEntry.objects.select_related("account__customer__user")
        .filter(account__customer=customer, amount__lt=0)
        .get(pk=entry_id)
    )
