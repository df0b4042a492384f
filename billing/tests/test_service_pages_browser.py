"""Service pages in Chromium (issue 15's last lines): the plan page with a plan the server
has no room for (shown with its reason, the others offered), a suspended service offering
the invoice to pay, and an end-of-period cancellation naming the renewal it cancels.
Screenshots at 1280 and 375 px go to SCREENSHOT_DIR when it is set."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from accounts.tests.factories import PASSWORD
from billing.services import billing_run
from billing_portal.common.browser import browser_log_in
from invoices.models import Invoice
from provisioning.services import service_suspend
from provisioning.tests.factories import packed_server_plans

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 375, "height": 740}


def _shot(page, name: str) -> None:
    folder = os.environ.get("SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"service-{name}.png"), full_page=True)


def _fits_the_phone(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0


@pytest.mark.parametrize("width", [1280, 375])
def test_the_plan_page_shows_a_plan_that_does_not_fit_and_offers_the_rest(
    page, live_server, customer, width
):
    service = packed_server_plans(customer)[0]
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
    service = packed_server_plans(customer)[0]
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
    service = packed_server_plans(customer)[0]
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
