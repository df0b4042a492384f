"""Invoice drafts, issuing, payment, cancellation and the database rules behind them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from accounts.tests.factories import CustomerFactory
from billing import services as billing_services
from billing.services import settlement
from billing_portal.common.audit import AuditEvent
from billing_portal.common.testing import usd
from catalogue.tests.factories import ProductFactory, TaxRateFactory
from invoices import services
from invoices.audit import InvoiceAudit
from invoices.errors import InvalidInvoiceTransition
from invoices.models import Invoice, InvoiceLine
from provisioning.models import Service

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)


@pytest.fixture
def buyer(settings):
    settings.SELLER_DETAILS = {**settings.SELLER_DETAILS, "country": "DE", "name": "Seller AG"}
    TaxRateFactory(country="DE", rate=Decimal("19"))
    return CustomerFactory(country="DE", name="Bea Buyer", company="Buyer GmbH", city="Köln")


def _draft(customer, *lines: services.LineDraft) -> Invoice:
    lines = lines or (
        services.LineDraft(kind="manual", description="Consulting", unit_price=usd("100.00")),
        services.LineDraft(
            kind="manual",
            description="Backups",
            unit_price=usd("5.00"),
            quantity=Decimal("2"),
            discount=usd("1.00"),
        ),
    )
    return services.invoice_create_draft(customer=customer, currency="USD", lines=list(lines))


def test_draft_totals_and_tax(buyer):
    invoice = _draft(buyer)
    assert invoice.status == Invoice.Status.DRAFT
    assert invoice.number is None
    assert invoice.subtotal == usd("110.00")
    assert invoice.discount_total == usd("1.00")
    assert invoice.tax_total == usd("20.71")
    assert invoice.total == usd("129.71")
    assert (invoice.tax_name, invoice.tax_rate) == ("VAT", Decimal("19"))
    assert [line.total for line in invoice.lines.all()] == [usd("119.00"), usd("10.71")]


def test_issue_numbers_freezes_details_and_emails(
    buyer, mailoutbox, django_capture_on_commit_callbacks
):
    first, second = _draft(buyer), _draft(buyer)
    with django_capture_on_commit_callbacks(execute=True):
        billing_services.invoice_issue(invoice_id=first.pk, now=NOW)
        billing_services.invoice_issue(invoice_id=second.pk, now=NOW)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.number, second.number) == ("INV-2026-00001", "INV-2026-00002")
    assert first.status == Invoice.Status.UNPAID
    assert first.due_date == date(2026, 3, 14)
    assert first.seller_details["name"] == "Seller AG"
    assert first.buyer_details["company"] == "Buyer GmbH"
    assert [m.subject for m in mailoutbox] == [
        "Invoice INV-2026-00001 from Billing Portal",
        "Invoice INV-2026-00002 from Billing Portal",
    ]

    # later profile changes do not reach an issued invoice
    buyer.company = "Renamed GmbH"
    buyer.save()
    first.refresh_from_db()
    assert first.buyer_details["company"] == "Buyer GmbH"


def test_number_format_is_configurable(buyer, settings):
    settings.INVOICE_NUMBER_FORMAT = "{year}/{month:02}/{number}"
    invoice = billing_services.invoice_issue(invoice_id=_draft(buyer).pk, now=NOW)
    assert invoice.number == "2026/03/1"


def test_issuing_twice_is_refused(buyer):
    invoice = _draft(buyer)
    billing_services.invoice_issue(invoice_id=invoice.pk)
    with pytest.raises(InvalidInvoiceTransition, match="unpaid and cannot become unpaid"):
        billing_services.invoice_issue(invoice_id=invoice.pk)


def test_mark_paid_settles_exactly_once(buyer, monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(settlement, "invoice_settled", lambda inv: calls.append(inv.pk))
    invoice = billing_services.invoice_issue(invoice_id=_draft(buyer).pk)

    billing_services.invoice_mark_paid(invoice_id=invoice.pk, reference="bank-123")
    billing_services.invoice_mark_paid(invoice_id=invoice.pk, reference="bank-123")

    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    assert invoice.amount_paid == invoice.total
    assert invoice.amount_due == usd("0")
    assert calls == [invoice.pk]
    event = AuditEvent.objects.get(action=InvoiceAudit.INVOICE_PAID)
    assert event.details["reference"] == "bank-123"


def test_a_failing_settlement_rolls_back_the_payment(buyer, monkeypatch):
    def broken(invoice):
        raise RuntimeError("provisioning exploded")

    monkeypatch.setattr(settlement, "services_on_invoice_paid", broken)
    invoice = billing_services.invoice_issue(invoice_id=_draft(buyer).pk)
    with pytest.raises(RuntimeError):
        billing_services.invoice_mark_paid(invoice_id=invoice.pk)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.UNPAID
    assert not AuditEvent.objects.filter(action=InvoiceAudit.INVOICE_PAID).exists()


def test_drafts_cannot_be_paid_and_cancelled_invoices_stay_cancelled(buyer):
    draft = _draft(buyer)
    with pytest.raises(InvalidInvoiceTransition):
        billing_services.invoice_mark_paid(invoice_id=draft.pk)
    issued = billing_services.invoice_issue(invoice_id=_draft(buyer).pk)
    services.invoice_cancel(invoice_id=issued.pk, reason="ordered by mistake")
    services.invoice_cancel(invoice_id=issued.pk)  # idempotent
    with pytest.raises(InvalidInvoiceTransition):
        billing_services.invoice_mark_paid(invoice_id=issued.pk)
    assert AuditEvent.objects.filter(action=InvoiceAudit.INVOICE_CANCELLED).count() == 1


def test_paid_invoices_cannot_be_cancelled(buyer):
    invoice = billing_services.invoice_issue(invoice_id=_draft(buyer).pk)
    billing_services.invoice_mark_paid(invoice_id=invoice.pk)
    with pytest.raises(InvalidInvoiceTransition, match="paid and cannot become cancelled"):
        services.invoice_cancel(invoice_id=invoice.pk)


# --- the database refuses what the services never write ---------------------------------


def test_database_refuses_totals_that_do_not_add_up(buyer):
    invoice = _draft(buyer)
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk).update(total=Decimal("1.00"))


def test_database_refuses_an_issued_invoice_without_a_number(buyer):
    invoice = _draft(buyer)
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk).update(status="unpaid")


def test_database_bills_a_service_period_only_once(buyer):
    product = ProductFactory()
    service = Service.objects.create(
        customer=buyer,
        product=product,
        cycle="monthly",
        currency="USD",
        recurring_amount=usd("10.00"),
    )
    line = services.LineDraft(
        kind=InvoiceLine.Kind.SERVICE,
        description="Game server",
        unit_price=usd("10.00"),
        service_id=service.pk,
        period_start=date(2026, 4, 1),
        period_end=date(2026, 4, 30),
    )
    _draft(buyer, line)
    with pytest.raises(IntegrityError), transaction.atomic():
        _draft(buyer, line)
