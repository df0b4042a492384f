"""The daily reconciliation records payments Stripe has and the portal missed."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest
import responses
from djmoney.money import Money

from accounts.tests.factories import CustomerFactory
from invoices import services as invoice_services
from invoices.models import Invoice
from payments import services
from payments.models import Payment
from payments.tasks import payments_reconcile_task
from payments.tests import stripe_events as se

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _stripe(settings):
    settings.STRIPE_SECRET_KEY = "sk_test_dummy"


def _invoice() -> Invoice:
    line = invoice_services.LineDraft(
        kind="manual", description="x", unit_price=Money(Decimal("25"), "USD")
    )
    draft = invoice_services.invoice_create_draft(
        customer=CustomerFactory(), currency="USD", lines=[line]
    )
    return invoice_services.invoice_issue(invoice_id=draft.pk)


def test_missed_payments_are_recorded_and_known_ones_left_alone():
    known, missed = _invoice(), _invoice()
    services.payment_record(
        invoice_id=known.pk, gateway="stripe", reference="pi_known",
        amount=Money(Decimal("25"), "USD"),
    )  # fmt: skip
    page_1 = {
        "object": "list", "has_more": True, "url": "/v1/payment_intents",
        "data": [se.payment_intent(known.pk, amount=2500, pi="pi_known"),
                 se.payment_intent(missed.pk, amount=2500, pi="pi_missed")],
    }  # fmt: skip
    unknown = se.payment_intent(0, amount=100, pi="pi_other_shop")
    unknown["metadata"] = {}
    pending = {**se.payment_intent(missed.pk, amount=2500, pi="pi_pending"), "status": "processing"}
    page_2 = {"object": "list", "has_more": False, "url": "/v1/payment_intents",
              "data": [unknown, pending]}  # fmt: skip
    with responses.RequestsMock() as rsps:
        rsps.get("https://api.stripe.com/v1/payment_intents", json=page_1)
        rsps.get("https://api.stripe.com/v1/payment_intents", json=page_2)
        counts = payments_reconcile_task.delay().get()
        first_query = parse_qs(urlparse(rsps.calls[0].request.url).query)
    assert "created[gte]" in first_query
    assert counts == {"checked": 3, "recorded": 1, "skipped": 1}
    assert set(Payment.objects.values_list("reference", flat=True)) == {"pi_known", "pi_missed"}
    missed.refresh_from_db()
    assert missed.status == Invoice.Status.PAID


def test_without_stripe_there_is_nothing_to_reconcile(settings):
    settings.STRIPE_SECRET_KEY = ""
    assert services.payments_reconcile() == {"checked": 0, "recorded": 0, "skipped": 0}
