"""Buying account credit in a real browser. Stripe's API is mocked with `responses` in the
live server's process; the browser's visit to Stripe's hosted page is answered by Playwright
(route interception), so no traffic leaves the machine."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from djmoney.money import Money

from accounts.tests.factories import PASSWORD, CustomerFactory, UserFactory
from accounts.tests.second_factor import browser_staff_log_in
from billing_portal.common.browser import browser_log_in
from credits.models import CreditEntry
from invoices.models import Invoice

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STRIPE = "https://api.stripe.com/v1"


def _session(invoice: Invoice, *, paid: bool) -> dict:
    return {
        "id": "cs_browser",
        "object": "checkout.session",
        "url": "https://checkout.stripe.com/c/pay/cs_browser",
        "payment_status": "paid" if paid else "unpaid",
        "status": "complete" if paid else "open",
        "payment_intent": "pi_browser",
        "amount_total": int(invoice.total.amount * 100),
        "currency": "usd",
        "client_reference_id": str(invoice.pk),
        "metadata": {"invoice_id": str(invoice.pk)},
    }


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


def test_staff_find_the_customer_by_email_and_add_credit(page, live_server):
    staff = UserFactory(is_staff=True, is_superuser=True)
    wanted = CustomerFactory(user__email="wanted@example.com", name="Wanda Wanted", company="")
    CustomerFactory.create_batch(3)
    browser_staff_log_in(page, live_server.url, staff)  # the code prompt follows the password
    page.goto(f"{live_server.url}/admin/credits/creditaccount/change-credit/")

    page.locator(".select2-selection").click()  # the customer field: a search, not a list
    page.locator(".select2-search__field").fill("wanted@exa")
    page.locator(".select2-results__option", has_text="Wanda Wanted").click()
    page.locator("#id_amount").fill("12.50")
    page.locator("#id_currency").select_option("USD")
    page.locator("#id_reason").fill("Goodwill")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("The credit balance was changed.").wait_for()

    entry = CreditEntry.objects.get()
    assert (entry.account.customer, entry.amount) == (wanted, Money(Decimal("12.50"), "USD"))
