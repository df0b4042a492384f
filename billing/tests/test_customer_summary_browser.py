"""The customer summary in a real browser (Chromium): staff log in with their second factor,
open it from the customer list, add a pinned note; the page fits 1280 and 375 px screens
(screenshots in test-artifacts/, not committed)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from accounts.audit import AccountAudit
from accounts.tests.factories import (
    AuditEventFactory,
    CustomerFactory,
    StaffNoteFactory,
    UserFactory,
)
from accounts.tests.second_factor import browser_staff_log_in
from billing.models import TokenPurchase
from billing.services import payment_record
from billing_portal.common.browser import ARTIFACTS
from billing_portal.common.testing import usd
from credits.services import credit_entry_append
from provisioning.tests.factories import ServerFactory, service_on

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 375, "height": 740}


def _customer_with_history(invoice_factory):
    customer = CustomerFactory(
        name="Ada Lovelace",
        company="Analytical Engines Ltd",
        user__email="ada@example.com",
        address_line1="12 St James's Square",
        city="London",
        postal_code="SW1Y 4JH",
        country="GB",
        tax_id="GB123456789",
    )
    server = ServerFactory()
    for n in range(3):
        service_on(
            server,
            customer=customer,
            status=("active", "suspended", "pending")[n],
            domain=f"engine-{n}.example.com",
            next_due_date=date(2026, 5, n + 1),
        )
    for n in range(2):
        invoice = invoice_factory(customer, "49.99")
        payment_record(
            invoice_id=invoice.pk, gateway="manual", reference=f"w-{n}", amount=usd("10")
        )
    credit_entry_append(customer=customer, amount=usd("25"), kind="admin_add", idempotency_key="b")
    TokenPurchase.objects.create(
        customer=customer,
        source="staff",
        status="delivered",
        tokens=Decimal("500"),
        rate=Decimal("100"),
        currency="USD",
        amount=usd("0"),
        reason="Goodwill",
    )
    AuditEventFactory(customer=customer, action=AccountAudit.PROFILE_CHANGED)
    StaffNoteFactory(customer=customer, body="Prefers email over phone.\nAsk for the PO number.")
    return customer


def test_staff_open_the_summary_add_a_pinned_note_and_it_fits_every_screen(
    page, live_server, invoice_factory
):
    _customer_with_history(invoice_factory)
    staff = UserFactory(is_staff=True, is_superuser=True)
    browser_staff_log_in(page, live_server.url, staff)
    page.goto(f"{live_server.url}/admin/accounts/customer/")
    page.get_by_role("link", name="Summary").click()
    page.get_by_role("heading", name="Summary of Ada Lovelace").wait_for()

    page.get_by_label("Note").fill("Disputed the March invoice; refund agreed.")
    page.get_by_label("Pin it").check()
    page.get_by_role("button", name="Add note").click()
    page.get_by_text("The note was added.").wait_for()
    first = page.locator(".summary-note").first
    assert "Disputed the March invoice" in first.inner_text()
    assert "Pinned" in first.inner_text()

    ARTIFACTS.mkdir(exist_ok=True)
    for size, viewport in (("1280", {"width": 1280, "height": 900}), ("375", PHONE)):
        page.set_viewport_size(viewport)
        page.reload()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the summary is {overflow} px too wide at {size} px"
        page.screenshot(path=str(ARTIFACTS / f"admin-customer-summary-{size}.png"), full_page=True)
