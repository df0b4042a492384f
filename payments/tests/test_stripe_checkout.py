"""Paying an invoice with Stripe Checkout; Stripe's HTTP API mocked with `responses`."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qs

import pytest
from django.urls import reverse
from djmoney.money import Money

from accounts.tests.helpers import assert_customer_isolation
from billing import services as billing_services
from invoices.models import Invoice
from payments.models import GatewayCustomer, Payment, PaymentAttempt
from payments.tests import stripe_events as se

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stripe_settings")]

API = "https://api.stripe.com/v1"


def _session(invoice, *, status="paid", session_id="cs_test_1", amount=4999) -> dict:
    return {
        "id": session_id,
        "object": "checkout.session",
        "url": f"https://checkout.stripe.com/c/pay/{session_id}",
        "payment_status": status,
        "status": "complete" if status == "paid" else "open",
        "payment_intent": "pi_test_1",
        "amount_total": amount,
        "currency": "eur",
        "client_reference_id": str(invoice.pk),
        "metadata": {"invoice_id": str(invoice.pk)},
    }


def _form(call) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(call.request.body).items()}


def test_pay_with_stripe_checkout_and_come_back(client, customer, mocked, invoice_factory):
    invoice = invoice_factory(customer, currency="EUR", amount="49.99", description="Hosting")
    mocked.post(f"{API}/customers", json={"id": "cus_123", "object": "customer"})
    mocked.post(f"{API}/checkout/sessions", json=_session(invoice, status="unpaid"))
    client.force_login(customer.user)

    # the invoice page offers card payment
    page = client.get(reverse("invoices:invoice_detail", args=[invoice.pk])).content.decode()
    pay_url = reverse("payments:checkout_begin", args=[invoice.pk, "stripe"])
    assert pay_url in page

    # paying sends the customer to Stripe's page
    response = client.post(pay_url)
    assert response.status_code == 302
    assert response.url == "https://checkout.stripe.com/c/pay/cs_test_1"
    attempt = PaymentAttempt.objects.get()
    customer_call, session_call = mocked.calls
    assert customer_call.request.headers["Idempotency-Key"] == f"customer-{customer.pk}"
    assert customer_call.request.headers["Authorization"] == "Bearer sk_test_dummy"
    assert session_call.request.headers["Idempotency-Key"] == f"payment-attempt-{attempt.pk}"
    assert session_call.request.headers["Stripe-Version"] == "2026-10-28.endive"
    form = _form(session_call)
    assert form["mode"] == "payment"
    assert form["customer"] == "cus_123"
    assert form["metadata[invoice_id]"] == str(invoice.pk)
    assert form["payment_intent_data[metadata][invoice_id]"] == str(invoice.pk)
    assert form["payment_intent_data[setup_future_usage]"] == "off_session"
    assert form["line_items[0][price_data][unit_amount]"] == "4999"
    assert form["line_items[0][price_data][currency]"] == "eur"
    assert form["success_url"].endswith("/payments/stripe/return/?session_id={CHECKOUT_SESSION_ID}")
    assert GatewayCustomer.objects.get().reference == "cus_123"

    # coming back from a paid session records the payment without waiting for the webhook
    mocked.get(f"{API}/checkout/sessions/cs_test_1", json=_session(invoice))
    response = client.get(
        reverse("payments:stripe_return"), {"session_id": "cs_test_1"}, follow=True
    )
    assert "Your payment was received" in response.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    payment = Payment.objects.get()
    assert (payment.reference, payment.amount) == ("pi_test_1", Money(Decimal("49.99"), "EUR"))

    # and the webhook that follows changes nothing
    event = se.event(
        "payment_intent.succeeded",
        {**se.payment_intent(invoice.pk, amount=4999, currency="eur", pi="pi_test_1")},
    )
    body, headers = se.signed(event)
    client.post("/webhooks/stripe/", body, content_type="application/json", **headers)
    assert Payment.objects.count() == 1


def test_the_stripe_customer_is_created_once(client, customer, mocked, invoice_factory):
    first, second = (
        invoice_factory(customer, currency="EUR", amount="49.99", description="Hosting"),
        invoice_factory(customer, currency="EUR", amount="49.99", description="Hosting"),
    )
    mocked.post(f"{API}/customers", json={"id": "cus_123", "object": "customer"})
    mocked.post(f"{API}/checkout/sessions", json=_session(first, status="unpaid"))
    client.force_login(customer.user)
    client.post(reverse("payments:checkout_begin", args=[first.pk, "stripe"]))
    client.post(reverse("payments:checkout_begin", args=[second.pk, "stripe"]))
    assert [c.request.url for c in mocked.calls].count(f"{API}/customers") == 1


def test_coming_back_without_paying_changes_nothing(client, customer, mocked, invoice_factory):
    invoice = invoice_factory(customer, currency="EUR", amount="49.99", description="Hosting")
    PaymentAttempt.objects.create(
        invoice=invoice,
        customer=customer,
        gateway="stripe",
        reference="cs_test_1",
        status="redirected",
        currency="EUR",
        amount=invoice.amount_due,
    )
    mocked.get(f"{API}/checkout/sessions/cs_test_1", json=_session(invoice, status="unpaid"))
    client.force_login(customer.user)
    response = client.get(
        reverse("payments:stripe_return"), {"session_id": "cs_test_1"}, follow=True
    )
    assert "The payment was not completed" in response.content.decode()
    assert Payment.objects.count() == 0


def test_cancelling_at_stripe_leaves_the_invoice_open(client, customer, invoice_factory):
    invoice = invoice_factory(customer, currency="EUR", amount="49.99", description="Hosting")
    attempt = PaymentAttempt.objects.create(
        invoice=invoice,
        customer=customer,
        gateway="stripe",
        reference="cs_x",
        status="redirected",
        currency="EUR",
        amount=invoice.amount_due,
    )
    client.force_login(customer.user)
    response = client.get(reverse("payments:attempt_cancelled", args=[attempt.pk]), follow=True)
    assert "You cancelled the payment" in response.content.decode()
    attempt.refresh_from_db()
    assert attempt.status == PaymentAttempt.Status.ABANDONED


def test_stripe_down_shows_a_clear_message_and_records_the_failure(
    client, customer, mocked, invoice_factory
):
    invoice = invoice_factory(customer, currency="EUR", amount="49.99", description="Hosting")
    error = {"error": {"type": "api_error", "message": "An unknown error occurred"}}
    mocked.post(f"{API}/customers", json={"id": "cus_123", "object": "customer"})
    mocked.post(f"{API}/checkout/sessions", status=500, json=error)
    client.force_login(customer.user)
    response = client.post(
        reverse("payments:checkout_begin", args=[invoice.pk, "stripe"]), follow=True
    )
    assert "unavailable right now" in response.content.decode()
    attempt = PaymentAttempt.objects.get()
    assert attempt.status == PaymentAttempt.Status.FAILED
    assert attempt.error


def test_paid_invoices_offer_no_payment(client, customer, mocked, invoice_factory):
    invoice = invoice_factory(customer, currency="EUR", amount="49.99", description="Hosting")
    billing_services.invoice_mark_paid(invoice_id=invoice.pk)
    client.force_login(customer.user)
    response = client.post(
        reverse("payments:checkout_begin", args=[invoice.pk, "stripe"]), follow=True
    )
    assert "nothing left to pay" in response.content.decode()
    assert len(mocked.calls) == 0


def test_without_stripe_keys_no_card_payment_is_offered(
    client, customer, settings, invoice_factory
):
    settings.STRIPE_SECRET_KEY = ""
    invoice = invoice_factory(customer, currency="EUR", amount="49.99", description="Hosting")
    client.force_login(customer.user)
    page = client.get(reverse("invoices:invoice_detail", args=[invoice.pk])).content.decode()
    assert "Online payment is not set up yet" in page


def test_checkout_urls_are_hidden_from_other_customers(
    client, customer, other_customer, mocked, invoice_factory
):
    invoice = invoice_factory(customer, currency="EUR", amount="49.99", description="Hosting")
    attempt = PaymentAttempt.objects.create(
        invoice=invoice,
        customer=customer,
        gateway="stripe",
        reference="cs_iso",
        status="redirected",
        currency="EUR",
        amount=invoice.amount_due,
    )
    mocked.get(f"{API}/checkout/sessions/cs_iso", json=_session(invoice, session_id="cs_iso"))
    assert_customer_isolation(
        client,
        urls=[
            reverse("payments:attempt_cancelled", args=[attempt.pk]),
            reverse("payments:stripe_return") + "?session_id=cs_iso",
        ],
        owner=customer,
        intruder=other_customer,
    )
    # The owner's attempt is still open, so beginning again reuses its session: no new
    # customer or session is created (the strict mock would fail on such a call).
    assert_customer_isolation(
        client,
        urls=[reverse("payments:checkout_begin", args=[invoice.pk, "stripe"])],
        owner=customer,
        intruder=other_customer,
        method="post",
    )
