"""The credit ledger: one writer, idempotency, database-enforced rules."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from accounts.tests.factories import UserFactory
from billing_portal.common.audit import AuditEvent
from billing_portal.common.testing import usd
from credits import services
from credits.audit import CreditAudit
from credits.errors import CreditsError, InsufficientCredit, InvalidCreditAmount
from credits.models import CreditAccount, CreditEntry

pytestmark = pytest.mark.django_db


def _append(customer, amount: str, key: str, kind="admin_add") -> CreditEntry:
    return services.credit_entry_append(
        customer=customer, amount=usd(amount), kind=kind, idempotency_key=key
    )


def test_entries_chain_balances_and_cache_the_total(customer):
    _append(customer, "50.00", "a")
    _append(customer, "-20.50", "b", kind="invoice_payment")
    last = _append(customer, "5.25", "c")
    account = CreditAccount.objects.get(customer=customer)
    assert account.balance == usd("34.75")
    assert (last.sequence, last.balance_before, last.balance_after) == (
        3,
        usd("29.50"),
        usd("34.75"),
    )
    assert [e.sequence for e in account.entries.all()] == [3, 2, 1]


def test_a_retry_with_the_same_key_returns_the_first_entry(customer):
    first = _append(customer, "10.00", "invoice:1:refund")
    again = _append(customer, "10.00", "invoice:1:refund")
    assert again.pk == first.pk
    assert CreditAccount.objects.get(customer=customer).balance == usd("10.00")


def test_spending_more_than_the_balance_is_refused_and_changes_nothing(customer):
    _append(customer, "5.00", "a")
    with pytest.raises(InsufficientCredit, match=r"5\.00 available"):
        _append(customer, "-5.01", "b", kind="invoice_payment")
    assert CreditEntry.objects.count() == 1
    assert CreditAccount.objects.get(customer=customer).balance == usd("5.00")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "more than zero"),
        ("0.00", "more than zero"),
        ("-5", "more than zero"),
        ("abc", "is not an amount"),
        ("", "is not an amount"),
        ("NaN", "is not an amount"),
        ("Infinity", "is not an amount"),
        ("1e3x", "is not an amount"),
        ("1000.01", "at most 1000"),
        ("5000", "at most 1000"),
        ("1.234", "at most two decimals"),
        ("0.001", "at most two decimals"),
    ],
)
def test_bad_amounts_are_refused_with_clear_messages(value, message):
    with pytest.raises(InvalidCreditAmount, match=message):
        services.credit_amount_parse(value, currency="USD", maximum=Decimal("1000"))


def test_zero_and_fractional_cent_entries_are_refused(customer):
    for amount in ("0", "0.001"):
        with pytest.raises(InvalidCreditAmount):
            services.credit_entry_append(
                customer=customer, amount=usd(amount), kind="admin_add", idempotency_key=amount
            )
    assert CreditEntry.objects.count() == 0


def test_staff_add_and_remove_need_a_reason_and_cannot_overdraw(customer):
    staff = UserFactory(is_staff=True)
    with pytest.raises(CreditsError, match="Give the reason"):
        services.credit_add_by_staff(
            customer=customer, amount=usd("10"), reason=" ", staff=staff, request_key="k0"
        )
    services.credit_add_by_staff(
        customer=customer, amount=usd("10"), reason="Goodwill", staff=staff, request_key="k1"
    )
    with pytest.raises(
        InsufficientCredit, match=r"Cannot remove \$15.00: the balance is only \$10.00"
    ):
        services.credit_remove_by_staff(
            customer=customer, amount=usd("15"), reason="Oops", staff=staff, request_key="k2"
        )
    services.credit_remove_by_staff(
        customer=customer, amount=usd("4"), reason="Correction", staff=staff, request_key="k3"
    )
    entries = list(CreditEntry.objects.order_by("sequence").values_list("kind", "reason"))
    assert entries == [("admin_add", "Goodwill"), ("admin_remove", "Correction")]
    assert CreditAccount.objects.get(customer=customer).balance == usd("6")
    assert AuditEvent.objects.filter(action=CreditAudit.CREDIT_REMOVED).count() == 1


# --- the database refuses what the writer never does -------------------------------------


def test_database_refuses_a_negative_cached_balance(customer):
    _append(customer, "1.00", "a")
    with pytest.raises(IntegrityError), transaction.atomic():
        CreditAccount.objects.update(balance=Decimal("-0.01"))


@pytest.mark.parametrize(
    ("amount", "before", "after"),
    [("0", "1", "1"), ("5", "0", "4"), ("-5", "2", "-3")],
)
def test_database_refuses_entries_that_do_not_add_up(customer, amount, before, after):
    account = CreditAccount.objects.create(customer=customer, currency="USD", balance=usd("0"))
    with pytest.raises(IntegrityError), transaction.atomic():
        CreditEntry.objects.create(
            account=account,
            sequence=1,
            kind="admin_add",
            currency="USD",
            amount=usd(amount),
            balance_before=usd(before),
            balance_after=usd(after),
            idempotency_key="x",
        )


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE credits_creditentry SET amount = 1000, balance_after = 1000",
        "UPDATE credits_creditentry SET description = 'edited'",
        "DELETE FROM credits_creditentry",
    ],
)
def test_entries_cannot_be_changed_even_with_raw_sql(customer, sql):
    _append(customer, "5.00", "a")
    with (
        pytest.raises(Exception, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    assert CreditEntry.objects.get().amount == usd("5.00")


def test_reconciliation_reports_a_tampered_balance(customer, mailoutbox, settings):
    settings.ADMINS = [("Staff", "ops@example.com")]
    _append(customer, "5.00", "a")
    assert services.credits_reconcile() == []
    CreditAccount.objects.update(balance=Decimal("50.00"))  # bypassing the writer
    mismatches = services.credits_reconcile()
    assert mismatches[0]["cached"] == "50.00"
    assert mismatches[0]["sum"] == "5.00"
    assert mailoutbox[-1].subject.endswith("Credit ledger mismatch")
    assert mailoutbox[-1].to == ["ops@example.com"]


def test_a_staff_change_submitted_twice_is_one_entry_and_one_audit_event(customer):
    staff = UserFactory(is_staff=True)
    for _ in range(2):
        first = services.credit_add_by_staff(
            customer=customer, amount=usd("10"), reason="Goodwill", staff=staff, request_key="k"
        )
        removal = services.credit_remove_by_staff(
            customer=customer, amount=usd("3"), reason="Fix", staff=staff, request_key="r"
        )
    assert CreditEntry.objects.count() == 2
    assert {first.reason, removal.reason} == {"Goodwill", "Fix"}
    assert CreditAccount.objects.get(customer=customer).balance == usd("7")
    assert AuditEvent.objects.filter(action=CreditAudit.CREDIT_ADDED).count() == 1
    assert AuditEvent.objects.filter(action=CreditAudit.CREDIT_REMOVED).count() == 1
