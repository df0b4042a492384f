"""50 concurrent writers on one balance, on a real PostgreSQL server, with a naive
read-modify-write version as the negative control that must fail the same check."""

from __future__ import annotations

import pytest
from django.db import transaction
from djmoney.money import Money

from accounts.tests.factories import CustomerFactory
from billing_portal.common.testing import errors_of, run_together
from credits import services
from credits.errors import InsufficientCredit
from credits.models import CreditAccount, CreditEntry

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WORKERS, DEBITS = 50, 10


def _hammer(debit) -> list[str]:
    def worker(n: int) -> list[str]:
        outcomes = []
        for m in range(DEBITS):
            try:
                debit(f"w{n}-{m}")
                outcomes.append("ok")
            except InsufficientCredit:
                outcomes.append("refused")
        return outcomes

    results = run_together(lambda n=n: worker(n) for n in range(WORKERS))
    assert errors_of(results) == []
    return [outcome for outcomes in results for outcome in outcomes]


def _funded_customer():
    customer = CustomerFactory()
    services.credit_entry_append(
        customer=customer, amount=Money(100, "USD"), kind="admin_add", idempotency_key="fund"
    )
    return customer


def test_fifty_workers_debiting_never_lose_an_update_or_go_negative():
    customer = _funded_customer()

    def debit(key: str) -> None:
        services.credit_entry_append(
            customer=customer, amount=Money(-1, "USD"), kind="service_purchase", idempotency_key=key
        )

    outcomes = _hammer(debit)
    assert outcomes.count("ok") == 100
    assert outcomes.count("refused") == WORKERS * DEBITS - 100
    account = CreditAccount.objects.get(customer=customer)
    assert account.balance == Money(0, "USD")
    assert CreditEntry.objects.filter(account=account).count() == 101
    assert services.credits_reconcile() == []


def test_negative_control_a_naive_read_modify_write_loses_updates():
    """Without the row lock (read the balance, then write it back), concurrent debits
    overwrite each other: the same check fails, proving the test can see the bug."""
    customer = _funded_customer()
    account_id = CreditAccount.objects.get(customer=customer).pk

    def naive_debit(key: str) -> None:
        with transaction.atomic():
            balance = CreditAccount.objects.get(pk=account_id).balance.amount  # no lock
            if balance < 1:
                raise InsufficientCredit
            CreditAccount.objects.filter(pk=account_id).update(balance=balance - 1)

    outcomes = _hammer(naive_debit)
    final = CreditAccount.objects.get(pk=account_id).balance.amount
    # more than 100 debits "succeeded" from a balance of 100, or money vanished
    assert outcomes.count("ok") != 100 - int(final) or outcomes.count("ok") > 100
