"""Invoice numbers under concurrent issuing, on a real PostgreSQL server."""

from __future__ import annotations

from decimal import Decimal

import pytest
from djmoney.money import Money

from accounts.tests.factories import CustomerFactory
from billing import services as billing_services
from billing_portal.common.testing import errors_of, run_together
from invoices import services
from invoices.models import Invoice

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8
PER_THREAD = 5


def test_concurrent_issuing_leaves_no_gaps_or_duplicates():
    customer = CustomerFactory()
    line = services.LineDraft(
        kind="manual", description="Work", unit_price=Money(Decimal("1"), "USD")
    )
    drafts = [
        services.invoice_create_draft(customer=customer, currency="USD", lines=[line]).pk
        for _ in range(THREADS * PER_THREAD)
    ]

    def issue(ids: list[int]) -> None:
        for invoice_id in ids:
            billing_services.invoice_issue(invoice_id=invoice_id)

    chunks = [drafts[i::THREADS] for i in range(THREADS)]
    assert errors_of(run_together(lambda c=chunk: issue(c) for chunk in chunks)) == []
    numbers = sorted(Invoice.objects.values_list("sequence_number", flat=True))
    assert numbers == list(range(1, THREADS * PER_THREAD + 1))
    assert Invoice.objects.values("number").distinct().count() == THREADS * PER_THREAD
