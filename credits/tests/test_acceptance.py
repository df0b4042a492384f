"""Issue acceptance 1, end to end through the client area: a customer buys credit, pays part
of an invoice with it and the rest by card, sees both in the transactions tab, and a renewal
is paid from credit. Stripe is mocked with `responses` in its documented shapes."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from django.urls import reverse

from billing.services import billing_run
from billing_portal.common.testing import usd
from credits.models import CreditEntry
from credits.tests.test_paying_with_credit import _renewing_service
from invoices.models import Invoice

pytestmark = pytest.mark.django_db

STRIPE = "https://api.stripe.com/v1"


def _stripe_checkout(mocked) -> None:
    """Stripe creates a session for the newest unpaid invoice and, when asked later, says it
    was paid in full."""

    def session(invoice: Invoice, *, paid: bool) -> dict:
        return {
            "id": f"cs_{invoice.pk}",
            "object": "checkout.session",
            "url": f"https://checkout.stripe.com/c/pay/cs_{invoice.pk}",
            "payment_status": "paid" if paid else "unpaid",
            "status": "complete" if paid else "open",
            "payment_intent": f"pi_{invoice.pk}",
            "amount_total": int(invoice.amount_due.amount * 100),
            "currency": "usd",
            "client_reference_id": str(invoice.pk),
            "metadata": {"invoice_id": str(invoice.pk)},
        }

    def create(request):
        invoice = Invoice.objects.filter(status="unpaid").order_by("-pk").first()
        return 200, {}, json.dumps(session(invoice, paid=False))

    def retrieve(request):
        invoice = Invoice.objects.get(pk=int(request.url.rsplit("cs_", 1)[1]))
        return 200, {}, json.dumps(session(invoice, paid=True))

    mocked.post(f"{STRIPE}/customers", json={"id": "cus_1", "object": "customer"})
    mocked.add_callback("POST", f"{STRIPE}/checkout/sessions", callback=create)
    sessions = re.compile(rf"{re.escape(STRIPE)}/checkout/sessions/cs_\d+")
    mocked.add_callback("GET", sessions, callback=retrieve)


def _pay_at_stripe(client, redirect_url: str):
    session_id = redirect_url.rsplit("/", 1)[1]
    return client.get(reverse("payments:stripe_return"), {"session_id": session_id}, follow=True)


def test_buy_credit_pay_part_with_it_rest_by_card_and_renew_from_credit(
    client, customer, stripe_settings, mocked, django_capture_on_commit_callbacks, invoice_factory
):
    _stripe_checkout(mocked)
    client.force_login(customer.user)

    # 1. buy 50 of credit (a preset) and pay for it at Stripe
    response = client.post(reverse("credits:buy_credit"), {"gateway": "stripe", "preset": "50"})
    page = _pay_at_stripe(client, response.url).content.decode()
    assert "Your payment was received" in page
    overview = client.get(reverse("credits:overview")).content.decode()
    assert 'data-testid="credit-balance">$50.00<' in overview

    # 2. an invoice of 80: 40 from credit, the rest by card
    invoice = invoice_factory(customer, "80.00", description="x")
    detail = client.get(reverse("invoices:invoice_detail", args=[invoice.pk])).content.decode()
    assert "Use account credit ($50.00)" in detail
    nonce = client.get(reverse("invoices:invoice_detail", args=[invoice.pk])).context["pay_nonce"]
    client.post(reverse("credits:pay_invoice", args=[invoice.pk]), {"nonce": nonce})
    invoice.refresh_from_db()
    assert invoice.amount_due == usd("30.00")  # all 50 of credit went on it
    response = client.post(reverse("payments:checkout_begin", args=[invoice.pk, "stripe"]))
    _pay_at_stripe(client, response.url)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID

    # 3. the transactions tab shows the purchase and the credit spent; the payments tab the
    #    card and credit parts of the invoice
    credit_tab = client.get(reverse("credits:overview"))
    kinds = [(e.kind, e.amount) for e in credit_tab.context["entries"]]
    assert kinds == [("invoice_payment", usd("-50.00")), ("purchase", usd("50.00"))]
    payments_tab = client.get(reverse("credits:overview"), {"tab": "payments"})
    parts = sorted(
        (p.method, p.amount) for p in payments_tab.context["payments"] if p.invoice_id == invoice.pk
    )
    assert parts == [("card", usd("30.00")), ("credit", usd("50.00"))]
    assert 'data-testid="payments-table"' in payments_tab.content.decode()

    # 4. more credit, then the billing run's renewal is paid from it when issued
    response = client.post(reverse("credits:buy_credit"), {"gateway": "stripe", "amount": "12"})
    _pay_at_stripe(client, response.url)
    service = _renewing_service(customer)
    with django_capture_on_commit_callbacks(execute=True):
        billing_run(today=date(2026, 1, 26))
    renewal = Invoice.objects.get(kind=Invoice.Kind.RENEWAL)
    assert renewal.status == Invoice.Status.PAID
    service.refresh_from_db()
    assert service.next_due_date == date(2026, 3, 1)
    last = CreditEntry.objects.order_by("-created_at", "-id").first()
    assert (last.kind, last.amount) == ("invoice_payment", usd("-10.00"))
    overview = client.get(reverse("credits:overview")).content.decode()
    assert 'data-testid="credit-balance">$2.00<' in overview
