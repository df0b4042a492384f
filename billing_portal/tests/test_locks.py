"""The one lock order (billing_portal/common/locks.py): row locks are taken only through the
lock helpers, the helpers refuse a lock taken against the order, and two flows taking the
same locks in the documented order queue instead of deadlocking (PostgreSQL)."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from django.db import transaction
from djmoney.money import Money

from accounts.models import Customer
from accounts.tests.factories import CustomerFactory
from billing.services import payment_record
from billing_portal.common import locks
from billing_portal.common.locks import LockKind, LockOrderViolation, lock_many, lock_one
from billing_portal.common.testing import ROOT, errors_of, run_together
from credits.locks import credit_account_lock
from invoices import services as invoice_services
from invoices.locks import invoice_lock
from payments.locks import payment_lock
from payments.models import Payment

SKIPPED_DIRS = {".venv", "migrations", "tests", "node_modules", ".git"}


def _source_files():
    for path in sorted(ROOT.rglob("*.py")):
        if not SKIPPED_DIRS.intersection(path.relative_to(ROOT).parts):
            yield path


def test_select_for_update_is_written_only_in_the_lock_modules():
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in _source_files()
        if path.name != "locks.py"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if "select_for_update" in line
    ]
    assert offenders == [], "lock through the app's locks.py helpers: " + ", ".join(offenders)


def test_the_lock_modules_are_the_kernel_and_one_per_app():
    modules = sorted(
        str(path.relative_to(ROOT)) for path in _source_files() if path.name == "locks.py"
    )
    assert "billing_portal/common/locks.py" in modules
    assert all(path.count("/") == 1 or path.startswith("billing_portal/") for path in modules)


def test_the_documented_order_names_every_lock_kind_in_rank_order():
    doc = locks.__doc__ or ""
    positions = [doc.find(f"`{kind.name.lower()}`") for kind in LockKind]
    missing = [kind.name for kind, at in zip(LockKind, positions, strict=True) if at < 0]
    assert missing == []
    assert positions == sorted(positions)


def _two_customers() -> tuple[int, int]:
    return CustomerFactory().pk, CustomerFactory().pk


def _rows():
    return Customer.objects.all()


def _in_one_transaction(*steps: tuple[LockKind, int]) -> None:
    """Lock these customer rows as if they were rows of these kinds, in one transaction."""
    with transaction.atomic():
        for kind, pk in steps:
            lock_one(_rows(), kind=kind, pk=pk)


@pytest.mark.django_db
def test_a_lower_rank_after_a_higher_one_in_one_transaction_names_both():
    first, second = _two_customers()
    steps = ((LockKind.INVOICE, first), (LockKind.CREDIT_ACCOUNT, second))
    with pytest.raises(LockOrderViolation) as raised:
        _in_one_transaction(*steps)
    assert "credit_account (rank 50) locked after invoice (rank 100)" in str(raised.value)


@pytest.mark.django_db
def test_locks_in_rank_order_and_a_row_locked_again_are_allowed():
    first, second = _two_customers()
    with transaction.atomic():
        lock_one(_rows(), kind=LockKind.CREDIT_ACCOUNT, pk=first)
        lock_one(_rows(), kind=LockKind.INVOICE, pk=second)
        lock_one(_rows(), kind=LockKind.CREDIT_ACCOUNT, pk=first)  # held already: no wait


@pytest.mark.django_db
def test_a_row_this_transaction_created_may_be_locked_in_any_order():
    first = CustomerFactory().pk
    with transaction.atomic():
        lock_one(_rows(), kind=LockKind.SERVICE, pk=first)
        fresh = CustomerFactory()  # no other transaction sees it: locking it cannot wait
        lock_one(_rows(), kind=LockKind.INVOICE, pk=fresh.pk)


@pytest.mark.django_db
def test_each_service_transaction_starts_its_own_order():
    """Inside the test's own transaction, one service's locks do not constrain the next."""
    first, second = _two_customers()
    with transaction.atomic():
        lock_one(_rows(), kind=LockKind.INVOICE, pk=first)
    with transaction.atomic():
        lock_one(_rows(), kind=LockKind.CREDIT_ACCOUNT, pk=second)


@pytest.mark.django_db
def test_a_nested_block_belongs_to_the_transaction_around_it():
    first, second = _two_customers()

    def payment_then_invoice_in_a_nested_block() -> None:
        with transaction.atomic():
            lock_one(_rows(), kind=LockKind.PAYMENT, pk=first)
            _in_one_transaction((LockKind.INVOICE, second))

    with pytest.raises(LockOrderViolation):
        payment_then_invoice_in_a_nested_block()


@pytest.mark.django_db(transaction=True)
def test_the_order_is_checked_per_real_transaction_too():
    first, second = _two_customers()
    _in_one_transaction((LockKind.INVOICE, first))
    _in_one_transaction((LockKind.CREDIT_ACCOUNT, second))
    with pytest.raises(LockOrderViolation):
        _in_one_transaction((LockKind.INVOICE, first), (LockKind.CREDIT_ACCOUNT, second))


@pytest.mark.django_db
def test_lock_many_returns_the_rows_in_primary_key_order():
    first, second = _two_customers()
    with transaction.atomic():
        rows = lock_many(Customer.objects.order_by("-pk"), kind=LockKind.CUSTOMER)
    assert [row.pk for row in rows] == sorted([first, second])


@pytest.mark.django_db
def test_nothing_is_checked_when_the_checks_are_off(settings):
    settings.LOCK_ORDER_CHECKS = False
    first, second = _two_customers()
    with transaction.atomic():
        lock_one(_rows(), kind=LockKind.INVOICE, pk=first)
        lock_one(_rows(), kind=LockKind.CREDIT_ACCOUNT, pk=second)


def _paid_invoice_payment(customer) -> Payment:
    line = invoice_services.LineDraft(
        kind="manual", description="x", unit_price=Money(Decimal("10.00"), "USD")
    )
    draft = invoice_services.invoice_create_draft(customer=customer, currency="USD", lines=[line])
    invoice = invoice_services.invoice_issue(invoice_id=draft.pk)
    return payment_record(
        invoice_id=invoice.pk, gateway="manual", reference="r1", amount=Money(10, "USD")
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_flows_taking_the_documented_order_queue_instead_of_deadlocking():
    """Credit account, then invoice, then payment (what a refund takes), from two workers at
    once, the first holding its locks a while: the second waits at the first lock, so both
    finish, every round, without a deadlock or a retry."""
    customer = CustomerFactory()
    payment = _paid_invoice_payment(customer)

    def flow(name: str) -> str:
        with transaction.atomic():
            credit_account_lock(customer, "USD")
            invoice_lock(payment.invoice_id)
            time.sleep(0.05)  # the other worker arrives while these are held
            payment_lock(payment.pk)
        return name

    for _ in range(5):
        outcomes = run_together([lambda: flow("a"), lambda: flow("b")], timeout=30)
        assert errors_of(outcomes) == []
        assert sorted(outcomes) == ["a", "b"]
