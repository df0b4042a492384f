"""Paying an invoice with a saved card while present, 3-D Secure included."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
from django.urls import reverse

from accounts.tests.helpers import assert_customer_isolation
from invoices.models import Invoice
from payments.models import GatewayCustomer, Payment, PaymentAttempt, SavedPaymentMethod
from payments.tests import stripe_events as se

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stripe_settings")]

API = "https://api.stripe.com/v1"


@pytest.fixture
def card(customer) -> SavedPaymentMethod:
    GatewayCustomer.objects.create(customer=customer, gateway="stripe", reference="cus_1")
    return SavedPaymentMethod.objects.create(
        customer=customer,
        gateway="stripe",
        reference="pm_3ds",
        brand="visa",
        last4="3184",
        exp_month=1,
        exp_year=2031,
        is_default=True,
    )


@pytest.fixture
def invoice(customer, invoice_factory) -> Invoice:
    return invoice_factory(customer, "30.00", description="x")


def _intent(invoice, status: str, **extra) -> dict:
    return {
        "id": "pi_3ds",
        "object": "payment_intent",
        "status": status,
        "amount": 3000,
        "amount_received": 3000 if status == "succeeded" else 0,
        "currency": "usd",
        "metadata": {"invoice_id": str(invoice.pk)},
        **extra,
    }


def test_a_3d_secure_card_goes_to_the_bank_and_pays_once(client, customer, card, invoice, mocked):
    bank = "https://hooks.stripe.com/3d_secure_2/hosted?merchant=acct_1"
    action = {"type": "redirect_to_url", "redirect_to_url": {"url": bank, "return_url": "x"}}
    mocked.post(
        f"{API}/payment_intents", json=_intent(invoice, "requires_action", next_action=action)
    )
    client.force_login(customer.user)
    page = client.get(reverse("invoices:invoice_detail", args=[invoice.pk])).content.decode()
    pay_url = reverse("payments:saved_card_pay", args=[invoice.pk, card.pk])
    assert pay_url in page
    assert "Pay with Visa •••• 3184" in page

    response = client.post(pay_url)
    assert response.url == bank
    form = {k: v[0] for k, v in parse_qs(mocked.calls[0].request.body).items()}
    assert form["confirm"] == "true"
    assert form["payment_method"] == "pm_3ds"
    assert form["return_url"].endswith("/payments/stripe/intent-return/")
    assert Payment.objects.count() == 0

    # the customer confirms at their bank and comes back
    mocked.get(f"{API}/payment_intents/pi_3ds", json=_intent(invoice, "succeeded"))
    params = {"payment_intent": "pi_3ds", "payment_intent_client_secret": "s"}
    back = client.get(reverse("payments:stripe_intent_return"), params, follow=True)
    assert "Your payment was received" in back.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID

    # the webhook for the same PaymentIntent changes nothing
    body, headers = se.signed(se.event("payment_intent.succeeded", _intent(invoice, "succeeded")))
    client.post("/webhooks/stripe/", body, content_type="application/json", **headers)
    assert Payment.objects.count() == 1


def test_a_card_without_3d_secure_pays_at_once(client, customer, card, invoice, mocked):
    mocked.post(f"{API}/payment_intents", json=_intent(invoice, "succeeded"))
    client.force_login(customer.user)
    response = client.post(
        reverse("payments:saved_card_pay", args=[invoice.pk, card.pk]), follow=True
    )
    assert "Your payment was received" in response.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID


def test_3d_secure_not_completed_charges_nothing(client, customer, card, invoice, mocked):
    PaymentAttempt.objects.create(
        invoice=invoice,
        customer=customer,
        gateway="stripe",
        reference="pi_3ds",
        status="redirected",
        currency="USD",
        amount=invoice.amount_due,
    )
    mocked.get(f"{API}/payment_intents/pi_3ds", json=_intent(invoice, "requires_payment_method"))
    client.force_login(customer.user)
    back = client.get(
        reverse("payments:stripe_intent_return"), {"payment_intent": "pi_3ds"}, follow=True
    )
    assert "The payment was not confirmed" in back.content.decode()
    assert Payment.objects.count() == 0


def test_a_declined_card_shows_the_banks_message(client, customer, card, invoice, mocked):
    error = {"type": "card_error", "code": "card_declined", "message": "Your card was declined."}
    mocked.post(f"{API}/payment_intents", status=402, json={"error": error})
    client.force_login(customer.user)
    response = client.post(
        reverse("payments:saved_card_pay", args=[invoice.pk, card.pk]), follow=True
    )
    assert "Your card was declined." in response.content.decode()
    assert PaymentAttempt.objects.get().status == "failed"


def test_another_customers_card_or_invoice_is_not_found(
    client, customer, other_customer, card, invoice, mocked
):
    mocked.post(f"{API}/payment_intents", json=_intent(invoice, "succeeded"))
    assert_customer_isolation(
        client,
        urls=[reverse("payments:saved_card_pay", args=[invoice.pk, card.pk])],
        owner=customer,
        intruder=other_customer,
        method="post",
    )
