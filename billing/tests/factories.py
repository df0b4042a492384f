"""Billing test data shared by billing's test modules."""

from __future__ import annotations

from datetime import timedelta

from billing import services as billing
from invoices import services as invoices
from invoices.models import Invoice, InvoiceLine
from provisioning.models import Service


def paid_current_period(service: Service) -> Invoice:
    """A paid renewal invoice of `service`'s current period (the one ending the day before
    its next due date), at its recurring amount: what an immediate cancellation refunds
    the unused part of."""
    assert service.next_due_date is not None
    start = service.next_due_date - timedelta(days=30)
    line = invoices.LineDraft(
        kind=InvoiceLine.Kind.SERVICE,
        description=str(service),
        unit_price=service.recurring_amount,
        service_id=service.pk,
        period_start=start,
        period_end=service.next_due_date - timedelta(days=1),
    )
    draft = invoices.invoice_create_draft(
        customer=service.customer,
        currency=str(service.currency),
        lines=[line],
        kind=Invoice.Kind.RENEWAL,
        due_date=start,
    )
    invoices.invoice_issue(invoice_id=draft.pk)
    return billing.invoice_mark_paid(invoice_id=draft.pk)
