"""Service pages in Chromium (issue 15's last lines): the plan page with a plan the server
has no room for (shown with its reason, the others offered), a suspended service offering
the invoice to pay, and an end-of-period cancellation naming the renewal it cancels.
Screenshots at 1280 and 375 px go to SCREENSHOT_DIR when it is set."""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from accounts.tests.factories import PASSWORD
from billing.services import billing_run
from billing_portal.common.browser import browser_log_in
from billing_portal.common.testing import usd
from invoices.models import Invoice
from provisioning.models import ProductPlacement, Server, Service
from provisioning.services import service_suspend
from provisioning.tests.factories import ServerFactory, ServerGroupFactory, panel_product

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 375, "height": 740}


def _shot(page, name: str) -> None:
    folder = os.environ.get("SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"service-{name}.png"), full_page=True)


def _fits_the_phone(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0


def _on_a_packed_server(customer) -> Service:
    """A Small (2048 MB) service on a server of 8192 MB that holds 6144 MB: Medium fits,
    Large does not."""
    server = ServerFactory(group=ServerGroupFactory(), capacity_memory_mb=8192)
    plans = [panel_product(server) for _ in range(3)]
    for product, (name, memory, price) in zip(
        plans, (("Small", 2048, "5"), ("Medium", 4096, "10"), ("Large", 8192, "20")), strict=True
    ):
        product.name, product.slug, product.group = name, name.lower(), plans[0].group
        product.save()
        ProductPlacement.objects.filter(product=product).update(memory_mb=memory)
        row = product.prices.get()
        row.price = usd(price)
        row.save()
    values = {"customer": customer, "server": server, "cycle": "monthly", "currency": "USD"}
    Service.objects.create(product=plans[1], recurring_amount=Decimal("10"), **values)
    Server.objects.filter(pk=server.pk).update(current_accounts=2)
    return Service.objects.create(
        product=plans[0],
        recurring_amount=Decimal("5"),
        status="active",
        external_id="sandbox-svc-packed",
        hostname="small.demo.test",
        next_due_date=timezone.localdate() + timedelta(days=12),
        **values,
    )


@pytest.mark.parametrize("width", [1280, 375])
def test_the_plan_page_shows_a_plan_that_does_not_fit_and_offers_the_rest(
    page, live_server, customer, width
):
    service = _on_a_packed_server(customer)
    if width == 375:
        page.set_viewport_size(PHONE)
    browser_log_in(page, live_server.url, email=customer.user.email, password=PASSWORD)
    page.goto(f"{live_server.url}/services/{service.pk}/change-plan/")
    unavailable = page.get_by_test_id("unavailable-large")
    assert "needs more memory than the server your service is on has free" in (
        unavailable.inner_text()
    )
    assert unavailable.get_by_role("button", name="Not available").is_disabled()
    assert "Pay $" in page.get_by_test_id("quote-medium").inner_text()
    if width == 375:
        _fits_the_phone(page)
    _shot(page, f"plans-{width}")


@pytest.mark.parametrize("width", [1280, 375])
def test_a_suspended_service_offers_the_invoice_to_pay(page, live_server, customer, width):
    service = _on_a_packed_server(customer)
    due = service.next_due_date
    billing_run(today=due - timedelta(days=5))  # the renewal, unpaid
    service_suspend(service_id=service.pk, reason="overdue invoice")
    renewal = Invoice.objects.get(kind=Invoice.Kind.RENEWAL)
    if width == 375:
        page.set_viewport_size(PHONE)
    browser_log_in(page, live_server.url, email=customer.user.email, password=PASSWORD)
    page.goto(f"{live_server.url}/services/{service.pk}/")
    notice = page.get_by_test_id("suspended-notice")
    assert "suspended (overdue invoice)" in notice.inner_text()
    if width == 375:
        _fits_the_phone(page)
    _shot(page, f"suspended-{width}")
    notice.get_by_role("link", name=f"Pay invoice {renewal.number}").click()
    page.wait_for_url(f"**/invoices/{renewal.pk}/")


def test_an_end_of_period_cancellation_names_the_renewal_it_cancels(page, live_server, customer):
    service = _on_a_packed_server(customer)
    billing_run(today=service.next_due_date - timedelta(days=5))
    renewal = Invoice.objects.get(kind=Invoice.Kind.RENEWAL)
    browser_log_in(page, live_server.url, email=customer.user.email, password=PASSWORD)
    page.goto(f"{live_server.url}/services/{service.pk}/cancel/")
    page.get_by_label("Why are you cancelling?").select_option("not_needed")
    page.get_by_role("button", name="Review cancellation").click()
    assert renewal.number in page.get_by_test_id("confirm-renewals").inner_text()
    _shot(page, "cancel-renewal-1280")
    page.get_by_role("button", name="Confirm cancellation").click()
    page.get_by_text("Your service will end on").wait_for()
    renewal.refresh_from_db()
    assert renewal.status == Invoice.Status.CANCELLED
