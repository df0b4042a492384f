"""Refunds through Stripe from the admin, and their webhooks booked exactly once."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
import responses
from django.urls import reverse

from billing import services as billing_services
from billing_portal.common.testing import eur
from invoices.models import CreditNote, Invoice
from payments.errors import RefundNotPossible
from payments.models import Payment, RefundRequest
from payments.tests import stripe_events as se

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stripe_settings")]

API = "https://api.stripe.com/v1"


@pytest.fixture
def payment(invoice_factory) -> Payment:
    invoice = invoice_factory(amount="80", currency="EUR", description="Hosting")
    return billing_services.payment_record(
        invoice_id=invoice.pk, gateway="stripe", reference="pi_ref", amount=eur("80")
    )


def _mock_refund(rsps, *, refunded_total: int, refund_id="re_1"):
    rsps.post(
        f"{API}/refunds",
        json={
            "id": refund_id,
            "object": "refund",
            "charge": "ch_1",
            "amount": 3000,
            "status": "succeeded",
        },
    )
    charge = {"id": "ch_1", "object": "charge", "amount": 8000, "amount_refunded": refunded_total}
    rsps.get(f"{API}/charges/ch_1", json=charge)


def test_staff_refund_part_through_stripe_and_a_credit_note_appears(admin_client, payment):
    url = reverse("admin:payments_payment_gateway_refund", args=[payment.pk])
    change = admin_client.get(reverse("admin:payments_payment_change", args=[payment.pk]))
    assert url in change.content.decode()
    with responses.RequestsMock() as rsps:
        _mock_refund(rsps, refunded_total=3000)
        response = admin_client.post(url, {"amount": "30.00", "reason": "Partial outage"})
        refund_call = rsps.calls[0]
    assert response.status_code == 302
    request = RefundRequest.objects.get()
    assert refund_call.request.headers["Idempotency-Key"] == f"refund-{request.pk}"
    form = {k: v[0] for k, v in parse_qs(refund_call.request.body).items()}
    assert form == {"payment_intent": "pi_ref", "amount": "3000", "reason": "requested_by_customer"}
    payment.refresh_from_db()
    assert payment.amount_refunded == eur("30")
    assert payment.status == Payment.Status.PARTIALLY_REFUNDED
    note = CreditNote.objects.get()
    assert (note.amount, note.reason) == (eur("30"), "Partial outage")
    assert payment.invoice.status == Invoice.Status.PARTIALLY_REFUNDED
    assert (request.status, request.reference) == ("succeeded", "re_1")


@pytest.mark.parametrize("webhook_first", [True, False])
def test_our_refund_and_its_webhook_book_it_once(
    client, payment, django_capture_on_commit_callbacks, webhook_first
):
    event = se.event(
        "charge.refunded", se.charge(payment.invoice_id, amount=8000, refunded=3000, pi="pi_ref")
    )
    event["data"]["object"]["currency"] = "eur"

    def webhook():
        body, headers = se.signed(event)
        with django_capture_on_commit_callbacks(execute=True):
            client.post("/webhooks/stripe/", body, content_type="application/json", **headers)

    if webhook_first:
        webhook()
    with responses.RequestsMock() as rsps:
        _mock_refund(rsps, refunded_total=3000)
        billing_services.payment_refund_via_gateway(
            payment_id=payment.pk, amount=eur("30"), reason="x"
        )
    if not webhook_first:
        webhook()
    payment.refresh_from_db()
    assert payment.amount_refunded == eur("30")
    assert CreditNote.objects.count() == 1


def test_stripe_refusing_the_refund_is_shown_and_nothing_is_booked(payment):
    with responses.RequestsMock() as rsps:
        error = {
            "type": "invalid_request_error",
            "message": "Charge ch_1 has already been refunded.",
        }
        rsps.post(f"{API}/refunds", status=400, json={"error": error})
        with pytest.raises(RefundNotPossible, match="already been refunded"):
            billing_services.payment_refund_via_gateway(
                payment_id=payment.pk, amount=eur("10"), reason="x"
            )
    payment.refresh_from_db()
    assert payment.amount_refunded == eur("0")
    assert RefundRequest.objects.get().status == "failed"
    assert CreditNote.objects.count() == 0


@pytest.mark.parametrize(
    ("amount", "reason"), [(eur("80.01"), "x"), (eur("0"), "x"), (eur("1"), "")]
)
def test_invalid_refunds_never_reach_stripe(payment, amount, reason):
    with responses.RequestsMock() as rsps:
        with pytest.raises(RefundNotPossible):
            billing_services.payment_refund_via_gateway(
                payment_id=payment.pk, amount=amount, reason=reason
            )
        assert len(rsps.calls) == 0
    assert RefundRequest.objects.count() == 0
