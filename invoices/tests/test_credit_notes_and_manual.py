"""Credit notes and staff-created manual invoices."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from djmoney.money import Money

from accounts.tests.factories import CustomerFactory, UserFactory
from billing import services as billing_services
from billing_portal.common.audit import AuditEvent
from billing_portal.common.testing import usd
from invoices import services
from invoices.audit import InvoiceAudit
from invoices.errors import InvalidInvoiceTransition, InvoicesError
from invoices.models import CreditNote, Invoice

pytestmark = pytest.mark.django_db


def _paid(customer, amount="100.00") -> Invoice:
    line = services.LineDraft(kind="manual", description="Work", unit_price=usd(amount))
    draft = services.invoice_create_draft(customer=customer, currency="USD", lines=[line])
    invoice = billing_services.invoice_issue(invoice_id=draft.pk)
    return billing_services.invoice_mark_paid(invoice_id=invoice.pk)


def test_partial_then_full_credit(customer, mailoutbox, django_capture_on_commit_callbacks):
    invoice = _paid(customer)
    with django_capture_on_commit_callbacks(execute=True):
        first = services.credit_note_issue(
            invoice_id=invoice.pk, amount=usd("30.00"), reason="Downtime on 3 May"
        )
    invoice.refresh_from_db()
    assert first.number.startswith("CN-")
    assert first.number.endswith("-00001")
    assert invoice.status == Invoice.Status.PARTIALLY_REFUNDED
    assert invoice.amount_refunded == usd("30.00")
    assert mailoutbox[-1].subject == f"Credit note {first.number} for invoice {invoice.number}"

    services.credit_note_issue(invoice_id=invoice.pk, amount=usd("70.00"), reason="Cancelled")
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.REFUNDED
    assert AuditEvent.objects.filter(action=InvoiceAudit.CREDIT_NOTE_ISSUED).count() == 2
    # the invoice series is untouched by credit notes
    assert _paid(customer).number.endswith("-00002")


@pytest.mark.parametrize(
    ("amount", "reason", "message"),
    [
        (usd("100.01"), "too much", "at most"),
        (usd("0.00"), "zero", "more than zero"),
        (Money(Decimal("5"), "EUR"), "currency", "in the invoice's currency"),
        (usd("5.00"), "  ", "Give the reason"),
    ],
)
def test_bad_credit_notes_are_refused_and_change_nothing(customer, amount, reason, message):
    invoice = _paid(customer)
    with pytest.raises(InvoicesError, match=message):
        services.credit_note_issue(invoice_id=invoice.pk, amount=amount, reason=reason)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    assert CreditNote.objects.count() == 0


def test_unpaid_invoices_are_cancelled_not_credited(customer):
    line = services.LineDraft(kind="manual", description="Work", unit_price=usd("10"))
    draft = services.invoice_create_draft(customer=customer, currency="USD", lines=[line])
    invoice = billing_services.invoice_issue(invoice_id=draft.pk)
    with pytest.raises(InvalidInvoiceTransition):
        services.credit_note_issue(invoice_id=invoice.pk, amount=usd("5"), reason="x")


def test_customer_sees_credit_notes_on_the_invoice(client, customer):
    invoice = _paid(customer)
    note = services.credit_note_issue(invoice_id=invoice.pk, amount=usd("10"), reason="Goodwill")
    client.force_login(customer.user)
    html = client.get(reverse("invoices:invoice_detail", args=[invoice.pk])).content.decode()
    assert note.number in html
    assert "Goodwill" in html


def test_staff_create_a_manual_invoice(staff_client, customer):
    url = reverse("admin:invoices_invoice_manual")
    assert staff_client.get(url).status_code == 200
    data = {
        "customer": customer.pk,
        "currency": "USD",
        "issue_now": "on",
        "notes": "Migration work",
        "lines-TOTAL_FORMS": "2",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "1",
        "lines-MAX_NUM_FORMS": "1000",
        "lines-0-description": "Site migration",
        "lines-0-quantity": "3",
        "lines-0-unit_price": "40.00",
        "lines-1-description": "",
        "lines-1-quantity": "",
        "lines-1-unit_price": "",
    }
    response = staff_client.post(url, data)
    invoice = Invoice.objects.get(customer=customer)
    assert response.status_code == 302
    assert invoice.status == Invoice.Status.UNPAID
    assert invoice.total == usd("120.00")
    assert invoice.notes == "Migration work"


def test_staff_who_may_not_issue_invoices_create_manual_drafts_only(client, customer):
    staff = UserFactory(is_staff=True)
    staff.user_permissions.set(
        Permission.objects.filter(codename__in=["view_invoice", "add_invoice"])
    )
    client.force_login(staff)
    url = reverse("admin:invoices_invoice_manual")
    assert 'name="issue_now"' not in client.get(url).content.decode()
    data = {
        "customer": customer.pk,
        "currency": "USD",
        "issue_now": "on",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "1",
        "lines-MAX_NUM_FORMS": "1000",
        "lines-0-description": "Work",
        "lines-0-quantity": "1",
        "lines-0-unit_price": "9",
    }
    assert client.post(url, data).status_code == 302
    assert Invoice.objects.get(customer=customer).status == Invoice.Status.DRAFT


def test_manual_invoice_needs_a_line(staff_client, customer):
    data = {
        "customer": customer.pk,
        "currency": "USD",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "1",
        "lines-MAX_NUM_FORMS": "1000",
        "lines-0-description": "",
        "lines-0-quantity": "",
        "lines-0-unit_price": "",
    }
    response = staff_client.post(reverse("admin:invoices_invoice_manual"), data)
    assert response.status_code == 200
    assert Invoice.objects.count() == 0


def test_staff_issue_a_credit_note_from_the_invoice(staff_client):
    invoice = _paid(CustomerFactory())
    change = staff_client.get(reverse("admin:invoices_invoice_change", args=[invoice.pk]))
    url = reverse("admin:invoices_invoice_credit_note", args=[invoice.pk])
    assert url in change.content.decode()
    refused = staff_client.post(url, {"amount": "500", "reason": "x"})
    assert "at most" in refused.content.decode()
    assert staff_client.post(url, {"amount": "25", "reason": "SLA credit"}).status_code == 302
    assert CreditNote.objects.get().amount == usd("25.00")
