"""Many reporters of one payment at once, on a real PostgreSQL server."""

from __future__ import annotations

from decimal import Decimal

import pytest
from djmoney.money import Money

from billing import services as billing_services
from billing_portal.common.audit import AuditEvent
from billing_portal.common.testing import errors_of, run_together
from invoices.audit import InvoiceAudit
from invoices.models import Invoice
from payments.models import Payment

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

REPORTERS = 8


def test_webhook_return_page_and_reconciliation_racing_record_one_payment(invoice_factory):
    invoice = invoice_factory(amount="50")

    def report() -> None:
        billing_services.payment_record(
            invoice_id=invoice.pk,
            gateway="stripe",
            reference="pi_race",
            amount=Money(Decimal("50"), "USD"),
        )

    assert errors_of(run_together([report] * REPORTERS)) == []
    assert Payment.objects.count() == 1
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    assert invoice.amount_paid == Money(Decimal("50"), "USD")
    assert AuditEvent.objects.filter(action=InvoiceAudit.INVOICE_PAID).count() == 1
