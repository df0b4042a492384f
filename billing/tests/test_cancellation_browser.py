"""Cancellation in a real browser (Chromium): from the service page, at once with a refund
(desktop), and at the end of the period then withdrawn (phone); screenshots at 1280 and
375 px go to $SCREENSHOT_DIR when it is set."""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from accounts.tests.factories import PASSWORD
from billing.tests.factories import paid_current_period
from billing_portal.common.browser import browser_log_in
from catalogue.tests.factories import ProductFactory, ProductPriceFactory
from provisioning.models import CancellationRequest, Service

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _shot(page, name: str) -> None:
    folder = os.environ.get("SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"cancel-{name}.png"), full_page=True)


def _service(customer, *, refund: bool) -> Service:
    product = ProductFactory(name="Web Starter", refund_on_immediate_cancel=refund)
    ProductPriceFactory(product=product)
    service = Service.objects.create(
        customer=customer,
        product=product,
        cycle="monthly",
        currency="USD",
        recurring_amount=Decimal("30.00"),
        status="active",
        domain="shop.example.com",
        next_due_date=timezone.localdate() + timedelta(days=15),
    )
    if refund:  # the current period was paid: its unused part is refunded
        paid_current_period(service)
    return service


def test_cancel_now_with_a_refund_on_a_desktop(page, live_server, customer):
    service = _service(customer, refund=True)
    browser_log_in(page, live_server.url, email=customer.user.email, password=PASSWORD)
    page.goto(f"{live_server.url}/services/{service.pk}/")
    _shot(page, "service-1280")
    page.get_by_role("link", name="Cancel service").click()
    page.get_by_label("Immediately").check()
    page.get_by_label("Why are you cancelling?").select_option("too_expensive")
    page.get_by_label("Anything you want to tell us").fill("Found a cheaper plan.")
    _shot(page, "form-1280")
    page.get_by_role("button", name="Review cancellation").click()
    refund = page.get_by_test_id("confirm-refund").inner_text()
    assert "is added to your account credit" in refund
    _shot(page, "confirm-1280")
    page.get_by_role("button", name="Confirm cancellation").click()
    page.get_by_text("Your service is cancelled.").wait_for()
    assert page.get_by_test_id("service-status").inner_text() == "Terminated"
    _shot(page, "done-1280")
    request = CancellationRequest.objects.get(service=service)
    assert (request.kind, request.status, request.reason) == (
        "immediate",
        "completed",
        "too_expensive",
    )
    assert str(request.refund.amount) in refund


def test_cancel_at_period_end_and_withdraw_on_a_phone(page, live_server, customer):
    service = _service(customer, refund=False)
    page.set_viewport_size({"width": 375, "height": 740})
    browser_log_in(page, live_server.url, email=customer.user.email, password=PASSWORD)
    page.goto(f"{live_server.url}/services/{service.pk}/cancel/")
    page.get_by_label("Why are you cancelling?").select_option("not_needed")
    _shot(page, "form-375")
    page.get_by_role("button", name="Review cancellation").click()
    due = f"{service.next_due_date:%Y-%m-%d}"
    assert due in page.get_by_test_id("confirm-when").inner_text()
    _shot(page, "confirm-375")
    page.get_by_role("button", name="Confirm cancellation").click()
    page.get_by_text(f"Your service will end on {due}").wait_for()
    assert due in page.get_by_test_id("ends-on").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    _shot(page, "pending-375")
    page.get_by_role("button", name="Withdraw cancellation").click()
    page.get_by_text("The cancellation is withdrawn").wait_for()
    _shot(page, "withdrawn-375")
    service.refresh_from_db()
    assert service.ends_on is None
    assert CancellationRequest.objects.get(service=service).status == "withdrawn"
