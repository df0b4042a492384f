"""Staff screens for orders and invoices."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from djmoney.money import Money

from accounts.tests.factories import CustomerFactory
from catalogue.tests.factories import (
    ConfigurableOptionFactory,
    CouponFactory,
    ProductPriceFactory,
    TaxRateFactory,
)
from invoices import services
from invoices.models import Invoice

pytestmark = pytest.mark.django_db


def test_order_screens_open(staff_client):
    price = ProductPriceFactory()
    ConfigurableOptionFactory(product=price.product)
    CouponFactory()
    TaxRateFactory()
    assert staff_client.get(reverse("admin:catalogue_order_changelist")).status_code == 200
    assert staff_client.get(reverse("admin:catalogue_order_add")).status_code == 200


def _draft() -> Invoice:
    line = services.LineDraft(
        kind="manual", description="Work", unit_price=Money(Decimal("5"), "USD")
    )
    return services.invoice_create_draft(customer=CustomerFactory(), currency="USD", lines=[line])


def test_invoices_change_only_through_actions(staff_client):
    invoice = _draft()
    changelist = reverse("admin:invoices_invoice_changelist")
    assert staff_client.get(reverse("admin:invoices_invoice_add")).status_code == 403

    response = staff_client.post(
        changelist, {"action": "issue_selected", "_selected_action": [invoice.pk]}, follow=True
    )
    assert "1 invoice(s) issued." in response.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.UNPAID

    response = staff_client.post(
        changelist, {"action": "issue_selected", "_selected_action": [invoice.pk]}, follow=True
    )
    assert "cannot become unpaid" in response.content.decode()

    # paying is recorded as a payment, from the invoice's page
    change = staff_client.get(reverse("admin:invoices_invoice_change", args=[invoice.pk]))
    record = f"{reverse('admin:payments_payment_record')}?invoice={invoice.pk}"
    assert record in change.content.decode()
