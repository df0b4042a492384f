"""Invoice numbers for a batch in one statement, continuing the one series without gaps."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from invoices.models import InvoiceNumberSequence
from invoices.services.invoices import invoice_number_allocate, invoice_numbers_allocate

pytestmark = pytest.mark.django_db

FORMAT = "INV-{year}-{number:05d}"
ON = date(2026, 3, 1)


def test_a_batch_of_numbers_is_one_statement_and_the_series_goes_on():
    with CaptureQueriesContext(connection) as queries:
        batch = invoice_numbers_allocate(series="invoice", number_format=FORMAT, on=ON, count=3)
    assert len(queries) == 1
    assert batch == [(1, "INV-2026-00001"), (2, "INV-2026-00002"), (3, "INV-2026-00003")]
    assert invoice_number_allocate(series="invoice", number_format=FORMAT, on=ON) == (
        4,
        "INV-2026-00004",
    )
    assert InvoiceNumberSequence.objects.get(series="invoice").next_number == 5


def test_a_rolled_back_batch_returns_its_numbers():
    with transaction.atomic():
        invoice_numbers_allocate(series="invoice", number_format=FORMAT, on=ON, count=5)
        transaction.set_rollback(True)
    assert invoice_number_allocate(series="invoice", number_format=FORMAT, on=ON)[0] == 1


def test_no_numbers_asked_takes_none():
    assert invoice_numbers_allocate(series="invoice", number_format=FORMAT, on=ON, count=0) == []
    assert not InvoiceNumberSequence.objects.exists()
