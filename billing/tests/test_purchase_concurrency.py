"""A credit purchase reported by the return page, both Stripe webhooks and the capture
record at the same moment, on a real PostgreSQL server: the credit is added once."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from djmoney.money import Money

from accounts.tests.factories import CustomerFactory
from billing import services as billing_services
from billing.services import checkout_complete, payment_record, webhook_event_process
from billing_portal.common.testing import errors_of, run_together
from credits.models import CreditAccount, CreditEntry
from invoices.models import Invoice
from payments.models import Payment, PaymentAttempt, WebhookEvent
from payments.tests import stripe_events as se

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 3  # each reporter several times over


def test_return_page_webhooks_and_capture_racing_add_the_credit_once(stripe_settings, mocked):
    customer = CustomerFactory()
    invoice = billing_services.credit_purchase_start(
        customer=customer, amount=Money(Decimal("40"), "USD"), actor=None
    )
    session = {
        "id": "cs_race",
        "object": "checkout.session",
        "payment_status": "paid",
        "status": "complete",
        "payment_intent": "pi_race",
        "amount_total": 4000,
        "currency": "usd",
        "client_reference_id": str(invoice.pk),
        "metadata": {"invoice_id": str(invoice.pk)},
    }
    mocked.get("https://api.stripe.com/v1/checkout/sessions/cs_race", json=session)
    PaymentAttempt.objects.create(
        invoice=invoice,
        customer=customer,
        gateway="stripe",
        reference="cs_race",
        status="redirected",
        currency="USD",
        amount=invoice.amount_due,
    )
    events = [
        se.event("checkout.session.completed", session),
        se.event(
            "payment_intent.succeeded", se.payment_intent(invoice.pk, amount=4000, pi="pi_race")
        ),
    ]
    stored = [
        WebhookEvent.objects.create(
            provider="stripe",
            event_id=e["id"],
            event_type=e["type"],
            headers={},
            body=json.dumps(e),
        ).pk
        for e in events
    ]

    reporters = [
        lambda: checkout_complete(customer=customer, gateway_name="stripe", reference="cs_race"),
        lambda: webhook_event_process(webhook_event_id=stored[0]),
        lambda: webhook_event_process(webhook_event_id=stored[1]),
        lambda: payment_record(
            invoice_id=invoice.pk,
            gateway="stripe",
            reference="pi_race",
            amount=Money(Decimal("40"), "USD"),
        ),
    ] * ROUNDS
    assert errors_of(run_together(reporters)) == []
    assert Payment.objects.count() == 1
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    entry = CreditEntry.objects.get()
    assert (entry.kind, entry.amount) == ("purchase", Money(Decimal("40"), "USD"))
    assert CreditAccount.objects.get(customer=customer).balance == Money(Decimal("40"), "USD")
