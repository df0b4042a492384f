"""Invoice numbers under concurrent issuing, on a real PostgreSQL server."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connections
from djmoney.money import Money

from accounts.tests.factories import CustomerFactory
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
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def issue(ids: list[int]) -> None:
        try:
            barrier.wait()
            for invoice_id in ids:
                services.invoice_issue(invoice_id=invoice_id)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    chunks = [drafts[i::THREADS] for i in range(THREADS)]
    threads = [threading.Thread(target=issue, args=(chunk,)) for chunk in chunks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    numbers = sorted(Invoice.objects.values_list("sequence_number", flat=True))
    assert numbers == list(range(1, THREADS * PER_THREAD + 1))
    assert Invoice.objects.values("number").distinct().count() == THREADS * PER_THREAD
