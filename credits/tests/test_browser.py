"""Buying account credit in a real browser. Stripe's API is mocked with `responses` in the
live server's process; the browser's visit to Stripe's hosted page is answered by Playwright
(route interception), so no traffic leaves the machine."""

from __future__ import annotations

import json

import pytest

from accounts.tests.factories import PASSWORD
from billing_portal.common.browser import browser_log_in
from invoices.models import Invoice

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STRIPE = "https://api.stripe.com/v1"


def _session(invoice: Invoice, *, paid: bool) -> dict:
    return {
        "id": "cs_browser", "object": "checkout.session",
        "url": "https://checkout.stripe.com/c/pay/cs_browser",
        "payment_status": "paid" if paid else "unpaid", "status": "complete" if paid else "open",
        "payment_intent": "pi_browser", "amount_total": int(invoice.total.amount * 100),
        "currency": "usd", "client_reference_id": str(invoice.pk),
        "metadata": {"invoice_id": str(invoice.pk)},
    }  # fmt: skip


def test_buy_credit_with_a_preset_and_see_it(page, live_server, customer, stripe_settings, mocked):
    def created(request):
        return 200, {}, json.dumps(_session(Invoice.objects.get(), paid=False))

    def retrieved(request):
        return 200, {}, json.dumps(_session(Invoice.objects.get(), paid=True))

    mocked.post(f"{STRIPE}/customers", json={"id": "cus_b", "object": "customer"})
    mocked.add_callback("POST", f"{STRIPE}/checkout/sessions", callback=created)
    mocked.add_callback("GET", f"{STRIPE}/checkout/sessions/cs_browser", callback=retrieved)
    page.route(
        "https://checkout.stripe.com/**",
        lambda route: route.fulfill(status=200, body="<h1>Stripe test checkout</h1>"),
    )

    browser_log_in(page, live_server.url, email=customer.user.email, password=PASSWORD)
    page.goto(f"{live_server.url}/billing/")
    assert page.get_by_test_id("credit-balance").inner_text() == "$0.00"

    page.get_by_test_id("buy-credit").get_by_role("button", name="25 USD").click()
    page.get_by_text("Stripe test checkout").wait_for()
    # Stripe sends the customer back with the session id
    page.goto(f"{live_server.url}/payments/stripe/return/?session_id=cs_browser")
    page.get_by_text("Your payment was received").wait_for()

    page.goto(f"{live_server.url}/billing/")
    assert page.get_by_test_id("credit-balance").inner_text() == "$25.00"
    assert "Credit purchase" in page.get_by_test_id("credit-entries").inner_text()
