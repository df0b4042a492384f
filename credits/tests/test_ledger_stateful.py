"""Property test: whatever sequence of ledger operations runs, the stored balance equals
the sum of the entries and is never negative (hypothesis, stateful, 100 runs)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import Sum
from djmoney.money import Money
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from accounts.tests.factories import CustomerFactory
from billing import services as billing_services
from credits import services
from credits.errors import InsufficientCredit
from credits.models import CreditAccount, CreditEntry
from invoices import services as invoice_services

pytestmark = pytest.mark.django_db

AMOUNTS = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("500"), places=2)


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.customer = CustomerFactory()
        self.keys = 0
        self.written: list[str] = []  # keys whose entry exists
        self.expected = Decimal("0")

    def _key(self) -> str:
        self.keys += 1
        return f"k{self.keys}"

    def _append(self, amount: Decimal, kind: str) -> None:
        key = self._key()
        try:
            services.credit_entry_append(
                customer=self.customer, amount=Money(amount, "USD"), kind=kind, idempotency_key=key
            )
            self.expected += amount
            self.written.append(key)
        except InsufficientCredit:
            assert self.expected + amount < 0  # refused exactly when it would go negative

    @rule(amount=AMOUNTS)
    def credit(self, amount):
        self._append(amount, CreditEntry.Kind.ADMIN_ADD)

    @rule(amount=AMOUNTS)
    def debit(self, amount):
        self._append(-amount, CreditEntry.Kind.SERVICE_PURCHASE)

    @rule(amount=AMOUNTS)
    def refund_to_credit(self, amount):
        self._append(amount, CreditEntry.Kind.REFUND_TO_CREDIT)

    @precondition(lambda self: self.keys > 0)
    @rule()
    def reverse_last(self):
        last = (
            CreditEntry.objects.filter(account__customer=self.customer)
            .order_by("-sequence")
            .first()
        )
        if last is not None:
            self._append(-last.amount.amount, CreditEntry.Kind.REVERSAL)

    @rule(total=AMOUNTS)
    def apply_to_invoice(self, total):
        line = invoice_services.LineDraft(
            kind="manual", description="x", unit_price=Money(total, "USD")
        )
        draft = invoice_services.invoice_create_draft(
            customer=self.customer, currency="USD", lines=[line]
        )
        invoice = billing_services.invoice_issue(invoice_id=draft.pk)
        key = self._key()
        try:
            entry = billing_services.credit_pay_invoice(
                customer=self.customer, invoice_id=invoice.pk, idempotency_key=key
            )
            self.expected += entry.amount.amount
            self.written.append(key)
            assert -entry.amount.amount <= total
        except InsufficientCredit:
            assert self.expected == 0

    @precondition(lambda self: self.written)
    @rule(data=st.data())
    def retry_a_written_key(self, data):
        # A retry with a key already used returns that entry and changes nothing.
        key = data.draw(st.sampled_from(self.written))
        services.credit_entry_append(
            customer=self.customer, amount=Money(1, "USD"), kind="admin_add", idempotency_key=key
        )

    @invariant()
    def balance_equals_entries_and_is_never_negative(self):
        account = CreditAccount.objects.filter(customer=self.customer).first()
        if account is None:
            return
        total = account.entries.aggregate(total=Sum("amount"))["total"] or Decimal("0")
        assert account.balance.amount == Decimal(total).quantize(Decimal("0.01"))
        assert account.balance.amount >= 0
        assert account.balance.amount == self.expected.quantize(Decimal("0.01"))


def test_ledger_properties_hold_for_any_sequence_of_operations():
    LedgerMachine.TestCase.settings = settings(
        max_examples=100,
        stateful_step_count=12,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    LedgerMachine.TestCase("runTest").runTest()
