"""A refunded credit purchase takes its credit back, whichever way the refund arrives: staff
through the gateway or recorded only, Stripe's and PayPal's refund webhooks, and the daily
reconciliation; full or partial. Credit already spent becomes a staff item.

Stripe and PayPal are mocked with `responses` in their documented shapes; every mock
registered must be called."""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest
import responses
from django.core import mail
from django.core.cache import cache
from django.urls import reverse
from djmoney.money import Money

from billing import services as billing_services
from billing.audit import RefundAudit
from billing.models import RefundShortfall
from billing_portal.common.audit import AuditEvent
from billing_portal.common.testing import usd
from credits import services
from credits.audit import CreditAudit
from credits.errors import CreditsError
from credits.models import CreditAccount, CreditEntry
from invoices.models import CreditNote, Invoice
from payments.gateways.registry import checkout_gateway
from payments.models import Payment
from payments.tests import stripe_events as se

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("stripe_settings", "paypal_settings", "staff_alerts"),
]

STRIPE = "https://api.stripe.com/v1"
PAYPAL = "https://api-m.sandbox.paypal.com"
PAYPAL_TOKEN = {
    "scope": "x",
    "access_token": "A21AAtoken",
    "token_type": "Bearer",
    "app_id": "APP-1",
    "expires_in": 32400,
    "nonce": "n",
}


def _bought(customer, amount="50.00", *, gateway="stripe", reference="pi_credit") -> Payment:
    """A credit purchase, paid: the customer holds its credit."""
    invoice = billing_services.credit_purchase_start(
        customer=customer, amount=usd(amount), actor=None
    )
    return billing_services.payment_record(
        invoice_id=invoice.pk, gateway=gateway, reference=reference, amount=invoice.total
    )


def _spend(customer, amount: str) -> None:
    services.credit_entry_append(
        customer=customer,
        amount=-usd(amount),
        kind="service_purchase",
        idempotency_key=f"spend-{amount}",
    )


def _balance(customer) -> Money:
    return CreditAccount.objects.get(customer=customer).balance


def _kinds(customer) -> list[tuple[str, Decimal]]:
    entries = CreditEntry.objects.filter(account__customer=customer).order_by("sequence")
    return [(e.kind, e.amount.amount) for e in entries]


# --- staff in the admin ------------------------------------------------------------------


def test_a_recorded_full_refund_takes_the_credit_back_with_the_credit_note(admin_client, customer):
    payment = _bought(customer)
    assert _balance(customer) == usd("50")
    url = reverse("admin:payments_payment_refund", args=[payment.pk])
    response = admin_client.post(url, {"amount": "50.00", "reason": "Changed their mind"})
    assert response.status_code == 302
    assert _balance(customer) == usd("0")
    assert _kinds(customer) == [
        ("purchase", Decimal("50.00")),
        ("purchase_refunded", Decimal("-50.00")),
    ]
    assert CreditNote.objects.get().amount == usd("50")
    assert RefundShortfall.objects.count() == 0
    assert AuditEvent.objects.filter(action=CreditAudit.CREDIT_REMOVED).count() == 1


def test_a_partial_refund_takes_back_only_its_part(customer):
    payment = _bought(customer)
    billing_services.payment_refund_record(payment_id=payment.pk, amount=usd("20"), reason="x")
    assert _balance(customer) == usd("30")
    billing_services.payment_refund_record(payment_id=payment.pk, amount=usd("30"), reason="y")
    assert _balance(customer) == usd("0")
    assert Invoice.objects.get(pk=payment.invoice_id).status == Invoice.Status.REFUNDED


def test_the_credit_and_the_credit_note_are_one_transaction(customer, monkeypatch):
    payment = _bought(customer)

    def broken(**kwargs):
        raise RuntimeError("ledger unavailable")

    monkeypatch.setattr("billing.services.shortfalls.credit_entry_append", broken)
    with pytest.raises(RuntimeError):
        billing_services.payment_refund_record(payment_id=payment.pk, amount=usd("50"), reason="x")
    assert CreditNote.objects.count() == 0
    payment.refresh_from_db()
    assert payment.amount_refunded == usd("0")
    assert _balance(customer) == usd("50")


def test_spent_credit_is_taken_as_far_as_it_goes_and_the_rest_is_a_staff_item(
    admin_client, customer, django_capture_on_commit_callbacks
):
    payment = _bought(customer)
    _spend(customer, "35.00")
    with django_capture_on_commit_callbacks(execute=True):
        billing_services.payment_refund_record(
            payment_id=payment.pk, amount=usd("50"), reason="Chargeback"
        )
    assert _balance(customer) == usd("0")  # never negative
    assert _kinds(customer)[-1] == ("purchase_refunded", Decimal("-15.00"))
    shortfall = RefundShortfall.objects.get()
    assert (shortfall.kind, shortfall.status, shortfall.amount) == ("credit", "open", usd("35"))
    assert shortfall.customer == customer
    assert "already spent the other $35.00" in shortfall.description
    [staff_mail] = [m for m in mail.outbox if m.to == ["ops@example.com"]]
    assert "could not take everything back" in staff_mail.subject
    assert AuditEvent.objects.get(action=RefundAudit.REFUND_SHORTFALL).customer == customer
    listing = admin_client.get(reverse("admin:billing_refundshortfall_changelist"))
    assert customer.name in listing.content.decode()


def test_staff_resolve_a_shortfall_with_a_note(admin_client, admin_user, customer):
    payment = _bought(customer)
    _spend(customer, "50.00")
    billing_services.payment_refund_record(payment_id=payment.pk, amount=usd("50"), reason="x")
    shortfall = RefundShortfall.objects.get()
    url = reverse("admin:billing_refundshortfall_resolve", args=[shortfall.pk])
    assert admin_client.post(url, {"note": ""}).status_code == 200  # the note is required
    assert admin_client.post(url, {"note": "Invoiced the customer"}).status_code == 302
    shortfall.refresh_from_db()
    assert (shortfall.status, shortfall.resolved_by) == ("resolved", admin_user)
    assert AuditEvent.objects.filter(action=RefundAudit.REFUND_SHORTFALL_RESOLVED).count() == 1
    assert admin_client.post(url, {"note": "again"}).status_code == 200  # already resolved


def test_the_refund_form_shows_what_cannot_be_taken_back_before_staff_confirm(
    admin_client, customer
):
    payment = _bought(customer)
    _spend(customer, "35.00")
    url = reverse("admin:payments_payment_refund", args=[payment.pk])
    page = admin_client.get(url).content.decode()
    assert "Takes back $15.00 of account credit" in page
    assert "$35.00 cannot be taken back" in page
    # submitted without confirming the shortfall: refused, nothing booked
    response = admin_client.post(url, {"amount": "50.00", "reason": "Chargeback"})
    assert response.status_code == 200
    assert "$35.00 cannot be taken back" in response.content.decode()
    assert CreditNote.objects.count() == 0
    response = admin_client.post(
        url, {"amount": "50.00", "reason": "Chargeback", "accept_shortfall": "on"}
    )
    assert response.status_code == 302
    assert RefundShortfall.objects.get().amount == usd("35")
    # a refund within the balance needs no confirmation
    other = _bought(customer, reference="pi_other")
    url = reverse("admin:payments_payment_refund", args=[other.pk])
    assert admin_client.post(url, {"amount": "10.00", "reason": "x"}).status_code == 302


def test_a_gateway_refund_from_the_admin_takes_the_credit_back(admin_client, customer):
    payment = _bought(customer)
    url = reverse("admin:payments_payment_gateway_refund", args=[payment.pk])
    with responses.RequestsMock() as rsps:
        rsps.post(
            f"{STRIPE}/refunds",
            json={
                "id": "re_1",
                "object": "refund",
                "charge": "ch_1",
                "amount": 2000,
                "status": "succeeded",
            },
        )
        charge = {"id": "ch_1", "object": "charge", "amount": 5000, "amount_refunded": 2000}
        rsps.get(f"{STRIPE}/charges/ch_1", json=charge)
        assert admin_client.post(url, {"amount": "20.00", "reason": "x"}).status_code == 302
    assert _balance(customer) == usd("30")


def test_a_credit_purchase_cannot_be_refunded_to_account_credit(customer):
    payment = _bought(customer)
    with pytest.raises(CreditsError, match="cannot be refunded to account credit"):
        billing_services.credit_refund_payment(payment_id=payment.pk, amount=usd("10"), reason="x")
    assert _balance(customer) == usd("50")


def test_a_partly_paid_credit_purchase_gave_no_credit_and_takes_none_back(customer):
    invoice = billing_services.credit_purchase_start(
        customer=customer, amount=usd("50"), actor=None
    )
    part = billing_services.payment_record(
        invoice_id=invoice.pk, gateway="manual", reference="bank-1", amount=usd("20")
    )
    assert CreditEntry.objects.filter(account__customer=customer).count() == 0
    with pytest.raises(Exception, match="unpaid"):  # an unpaid invoice is cancelled, not credited
        billing_services.payment_refund_record(payment_id=part.pk, amount=usd("20"), reason="x")
    assert RefundShortfall.objects.count() == 0


# --- reported by the providers ------------------------------------------------------------


def _stripe_refund_event(payment: Payment, *, refunded: int) -> tuple[str, dict]:
    charge = se.charge(payment.invoice_id, amount=5000, refunded=refunded, pi=payment.reference)
    return se.signed(se.event("charge.refunded", charge))


def test_stripe_refund_webhooks_take_the_credit_back_once(
    client, customer, django_capture_on_commit_callbacks
):
    payment = _bought(customer)
    body, headers = _stripe_refund_event(payment, refunded=2000)
    for _ in range(3):  # delivered again and again
        with django_capture_on_commit_callbacks(execute=True):
            client.post("/webhooks/stripe/", body, content_type="application/json", **headers)
    assert _balance(customer) == usd("30")
    body, headers = _stripe_refund_event(payment, refunded=5000)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/webhooks/stripe/", body, content_type="application/json", **headers)
    assert _balance(customer) == usd("0")
    assert [k for k, _ in _kinds(customer)].count("purchase_refunded") == 2


def _paypal_event(refund: dict) -> str:
    return json.dumps(
        {
            "id": f"WH-{refund['id']}",
            "event_version": "1.0",
            "event_type": "PAYMENT.CAPTURE.REFUNDED",
            "resource_type": "refund",
            "resource": refund,
        }
    )


def test_paypal_refund_webhooks_take_the_credit_back_once(
    client, customer, django_capture_on_commit_callbacks
):
    _bought(customer, gateway="paypal", reference="CAP-CREDIT")
    refund = {
        "id": "REF-9",
        "status": "COMPLETED",
        "amount": {"currency_code": "USD", "value": "12.50"},
        "links": [
            {"rel": "up", "method": "GET", "href": f"{PAYPAL}/v2/payments/captures/CAP-CREDIT"}
        ],
    }
    headers = {
        f"HTTP_PAYPAL_{name}": "x"
        for name in (
            "TRANSMISSION_ID",
            "TRANSMISSION_TIME",
            "TRANSMISSION_SIG",
            "CERT_URL",
            "AUTH_ALGO",
        )
    }
    with responses.RequestsMock() as rsps:
        rsps.post(f"{PAYPAL}/v1/oauth2/token", json=PAYPAL_TOKEN)
        rsps.post(
            f"{PAYPAL}/v1/notifications/verify-webhook-signature",
            json={"verification_status": "SUCCESS"},
        )
        for _ in range(2):
            with django_capture_on_commit_callbacks(execute=True):
                response = client.post(
                    "/webhooks/paypal/",
                    _paypal_event(refund),
                    content_type="application/json",
                    **headers,
                )
            assert response.status_code == 200
    assert _balance(customer) == usd("37.50")


def test_stripe_refunds_found_by_reconciliation_take_the_credit_back_once(settings, customer):
    settings.PAYPAL_CLIENT_ID = ""
    payment = _bought(customer)
    refund = {
        "id": "re_dash",
        "object": "refund",
        "amount": 5000,
        "currency": "usd",
        "charge": "ch_credit",
        "payment_intent": payment.reference,
        "status": "succeeded",
    }
    foreign = {**refund, "id": "re_other", "payment_intent": "pi_other_shop", "charge": "ch_x"}
    for _ in range(2):  # the daily run finds it again the next day
        with responses.RequestsMock() as rsps:
            rsps.get(
                f"{STRIPE}/payment_intents", json={"object": "list", "has_more": False, "data": []}
            )
            rsps.get(
                f"{STRIPE}/refunds",
                json={"object": "list", "has_more": False, "data": [refund, foreign]},
            )
            rsps.get(
                f"{STRIPE}/charges/ch_credit",
                json={"id": "ch_credit", "object": "charge", "amount_refunded": 5000},
            )
            rsps.get(
                f"{STRIPE}/charges/ch_x",
                json={"id": "ch_x", "object": "charge", "amount_refunded": 5000},
            )
            counts = billing_services.payments_reconcile()
            query = parse_qs(urlparse(rsps.calls[1].request.url).query)
        assert "created[gte]" in query
    assert counts["refunds"] == 0  # the second run booked nothing
    assert _balance(customer) == usd("0")
    assert CreditNote.objects.count() == 1
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REFUNDED


def test_paypal_refunds_found_by_reconciliation_take_the_credit_back_once(settings, customer):
    settings.STRIPE_SECRET_KEY = ""
    payment = _bought(customer, gateway="paypal", reference="CAP-CREDIT")

    def info(transaction_id, value, code, ref_type="TXN", ref="CAP-CREDIT"):
        return {
            "transaction_info": {
                "transaction_id": transaction_id,
                "transaction_status": "S",
                "transaction_event_code": code,
                "transaction_amount": {"currency_code": "USD", "value": value},
                "paypal_reference_id_type": ref_type,
                "paypal_reference_id": ref,
            }
        }

    page = {
        "transaction_details": [
            info("CAP-CREDIT", "50.00", "T0006", ref_type="ODR", ref="ORDER-1"),
            info("REF-DASH", "-20.00", "T1107"),
            info("FEE-1", "-1.75", "T0106"),  # a fee, not a refund
            info("REF-ELSEWHERE", "-5.00", "T1107", ref="CAP-OF-ANOTHER-SHOP"),
        ],
        "total_pages": 1,
        "page": 1,
    }
    for _ in range(2):
        with responses.RequestsMock() as rsps:
            rsps.post(f"{PAYPAL}/v1/oauth2/token", json=PAYPAL_TOKEN)
            rsps.get(f"{PAYPAL}/v1/reporting/transactions", json=page)
            rsps.get(f"{PAYPAL}/v1/reporting/transactions", json=page)
            billing_services.payments_reconcile()
        cache.delete(checkout_gateway("paypal").token_key)
    assert _balance(customer) == usd("30")
    payment.refresh_from_db()
    assert payment.amount_refunded == usd("20")
