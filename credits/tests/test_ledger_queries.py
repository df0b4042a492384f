"""The ledger at the speed of the database: a write is one statement whatever the account's
history, it locks the account row alone (the SQL is inspected), the lock it takes is
recorded for the lock order, a key used once writes nothing again even under concurrency,
and the reconciliation is a constant number of queries (PostgreSQL)."""

from __future__ import annotations

import re

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import Customer
from accounts.tests.factories import CustomerFactory
from billing_portal.common.audit import AuditEvent
from billing_portal.common.locks import LockKind, LockOrderViolation, lock_one
from billing_portal.common.testing import errors_of, run_together, usd
from credits import services
from credits.errors import InsufficientCredit
from credits.models import CreditAccount, CreditEntry

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

TABLES = re.compile(r'(?:FROM|JOIN|INTO|UPDATE)\s+"?(\w+)"?', re.IGNORECASE)
LOCKING_SELECT = re.compile(r"SELECT\b(?:(?!SELECT\b).)*?\bFOR UPDATE\b", re.IGNORECASE | re.DOTALL)


def _debit(customer: Customer, key: str, amount: str = "-0.01") -> CreditEntry:
    return services.credit_entry_append(
        customer=customer, amount=usd(amount), kind="service_purchase", idempotency_key=key
    )


def _fund(customer: Customer, amount: str = "100.00") -> CreditEntry:
    return services.credit_entry_append(
        customer=customer, amount=usd(amount), kind="admin_add", idempotency_key="fund"
    )


def _captured(write) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        write()
    return [query["sql"] for query in queries.captured_queries]


def test_a_debit_is_one_statement_and_the_hundredth_costs_what_the_first_does(customer):
    _fund(customer)
    first = _captured(lambda: _debit(customer, "d1"))
    for n in range(2, 100):
        _debit(customer, f"d{n}")
    hundredth = _captured(lambda: _debit(customer, "d100"))
    assert len(first) == len(hundredth) == 1
    account = CreditAccount.objects.get(customer=customer)
    assert (account.balance, account.last_sequence) == (usd("99.00"), 101)
    assert services.credits_reconcile() == []


def test_the_writer_returns_the_entry_as_stored(customer):
    _fund(customer, "10.00")
    entry = services.credit_entry_append(
        customer=customer,
        amount=usd("-2.50"),
        kind="service_purchase",
        idempotency_key="k",
        description="VPS",
        payment_reference="INV-1",
        reason="why",
        metadata={"service": 7},
    )
    stored = CreditEntry.objects.get(pk=entry.pk)
    fields = ("sequence", "amount", "balance_before", "balance_after", "description")
    assert [getattr(entry, f) for f in fields] == [getattr(stored, f) for f in fields]
    assert (entry.amount, entry.balance_before, entry.balance_after) == (
        usd("-2.50"),
        usd("10.00"),
        usd("7.50"),
    )
    assert (stored.metadata, stored.reason, stored.payment_reference) == (
        {"service": 7},
        "why",
        "INV-1",
    )
    assert entry.created_at == stored.created_at
    assert CreditAccount.objects.get(customer=customer).updated_at == stored.created_at


def test_credit_with_its_audit_event_costs_the_same_every_time(customer):
    def add(key: str) -> None:
        services.credit_add(
            customer=customer,
            amount=usd("1.00"),
            kind="overpayment",
            idempotency_key=key,
            description="x",
            details={},
        )

    add("a0")
    counts = {len(_captured(lambda n=n: add(f"a{n}"))) for n in range(1, 20)}
    # savepoint, the one ledger statement, the audit event, savepoint released
    assert counts == {4}
    assert AuditEvent.objects.filter(action="credit.added").count() == 20


def test_the_account_lock_and_the_writer_lock_only_the_account_table(customer):
    _fund(customer)
    statements = _captured(lambda: _debit(customer, "d1"))
    with transaction.atomic():
        statements += _captured(lambda: services.credit_account_lock(customer, "USD"))
    locking = [select for sql in statements for select in LOCKING_SELECT.findall(sql)]
    assert len(locking) == 2  # one in the writer's statement, one in the lock helper
    for select in locking:
        assert "JOIN" not in select.upper()
        assert set(TABLES.findall(select)) == {"credits_creditaccount"}
    (writer,) = statements[:1]
    assert "JOIN" not in writer.upper()
    assert set(TABLES.findall(writer)) <= {
        "credits_creditaccount",
        "credits_creditentry",
        "account",
        "entry",
    }
    assert re.search(r"UPDATE\s+credits_creditaccount\s+SET", writer)


def test_the_lock_the_writer_takes_counts_in_the_lock_order():
    customer, other = CustomerFactory(), CustomerFactory()
    _fund(customer)
    with transaction.atomic():  # the writer locked the account: taking it again is fine
        _debit(customer, "d1")
        lock_one(Customer.objects.all(), kind=LockKind.INVOICE, pk=other.pk)
        services.credit_account_lock(customer, "USD")

    def invoice_then_debit() -> None:
        with transaction.atomic():
            lock_one(Customer.objects.all(), kind=LockKind.INVOICE, pk=other.pk)
            _debit(customer, "d2")

    with pytest.raises(LockOrderViolation, match="credit_account"):
        invoice_then_debit()
    assert not CreditEntry.objects.filter(idempotency_key="d2").exists()
    with transaction.atomic():  # the lock helper first, as callers do, then the writer
        services.credit_account_lock(customer, "USD")
        lock_one(Customer.objects.all(), kind=LockKind.INVOICE, pk=other.pk)
        _debit(customer, "d3")


def test_a_used_key_returns_its_entry_even_when_the_credit_is_now_short(customer):
    _fund(customer, "5.00")
    first = _debit(customer, "all", amount="-5.00")
    again = _debit(customer, "all", amount="-5.00")
    assert again.pk == first.pk
    assert CreditAccount.objects.get(customer=customer).balance == usd("0.00")
    with pytest.raises(InsufficientCredit, match=r"Not enough credit: \$0.01 needed, \$0.00"):
        _debit(customer, "more")
    assert CreditEntry.objects.count() == 2


def test_the_first_entry_in_a_currency_creates_the_account_and_a_refused_one_does_not(customer):
    with pytest.raises(InsufficientCredit):
        _debit(customer, "d0")
    assert not CreditAccount.objects.exists()
    entry = _fund(customer, "3.00")
    assert (entry.sequence, entry.balance_after) == (1, usd("3.00"))


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_with_one_key_write_one_entry():
    customer = CustomerFactory()
    _fund(customer, "10.00")
    entries = run_together(lambda: _debit(customer, "same", amount="-1.00") for _ in range(20))
    assert errors_of(entries) == []
    assert len({entry.pk for entry in entries}) == 1
    account = CreditAccount.objects.get(customer=customer)
    assert (account.balance, account.last_sequence) == (usd("9.00"), 2)
    assert services.credits_reconcile() == []


def _accounts(count: int) -> None:
    for customer in CustomerFactory.create_batch(count):
        _fund(customer, "1.00")
        _debit(customer, "d")


def test_reconciliation_costs_the_same_queries_for_10_and_200_accounts(mailoutbox, settings):
    settings.ADMINS = [("Staff", "ops@example.com")]
    _accounts(10)
    small = _captured(services.credits_reconcile)
    _accounts(190)
    large = _captured(services.credits_reconcile)
    assert len(small) == len(large) == 1
    tampered = CreditAccount.objects.order_by("pk")[7]
    with connection.cursor() as cursor:  # bypassing the writer; entries are append-only
        cursor.execute("UPDATE credits_creditaccount SET balance = 50 WHERE id = %s", [tampered.pk])
    with CaptureQueriesContext(connection) as queries:
        mismatches = services.credits_reconcile()
    assert len(queries) == 1
    assert mismatches == [
        {
            "account": str(tampered.pk),
            "customer": str(tampered.customer),
            "cached": "50.00",
            "sum": "0.99",
            "last_entry": "0.99",
        }
    ]
    assert mailoutbox[-1].subject.endswith("Credit ledger mismatch")
