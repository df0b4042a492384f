"""Ordering in a real browser: catalogue → configure → review → place → invoice."""

from __future__ import annotations

from decimal import Decimal

import pytest
from djmoney.money import Money

from accounts.tests.factories import PASSWORD
from billing_portal.common.browser import browser_log_in
from catalogue.tests.factories import ProductFactory, ProductPriceFactory
from invoices.models import Invoice
from provisioning.models import Service

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_order_a_product_and_land_on_its_invoice(page, live_server, customer):
    product = ProductFactory(name="Valheim 8 GB", slug="valheim", requires_hostname=True)
    ProductPriceFactory(product=product, price=Money(Decimal("15.00"), "USD"))

    browser_log_in(page, live_server.url, email=customer.user.email, password=PASSWORD)

    page.get_by_role("link", name="Services", exact=True).click()
    page.get_by_role("link", name="Browse products").click()
    page.get_by_role("link", name="Configure").click()
    page.locator("#id_hostname").fill("viking.example.net")
    page.get_by_role("button", name="Review order").click()
    assert page.get_by_test_id("order-total").inner_text() == "$15.00"

    page.get_by_role("button", name="Place order").click()
    page.get_by_text("Your order is placed").wait_for()
    invoice = Invoice.objects.get(customer=customer)
    assert page.url == f"{live_server.url}/invoices/{invoice.pk}/"
    assert invoice.number in page.get_by_role("heading", level=1).inner_text()
    assert Service.objects.get(customer=customer).status == Service.Status.PENDING

    with page.expect_download() as download:
        page.get_by_role("link", name="Download PDF").click()
    assert download.value.suggested_filename == f"{invoice.number}.pdf"
