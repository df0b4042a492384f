"""PayPal: token cache, Orders v2 checkout with capture on return, refunds, webhooks.

PayPal's REST API is mocked with `responses` in the documented shapes."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import responses
from django.core.cache import cache
from django.urls import reverse
from djmoney.money import Money

from billing import services as billing_services
from billing_portal.common.audit import AuditEvent
from billing_portal.common.testing import drop_unfired
from invoices.models import CreditNote, Invoice
from payments.audit import PaymentAudit
from payments.gateways.registry import checkout_gateway
from payments.models import Payment, PaymentAttempt, RefundRequest, WebhookEvent
from payments.tests import vendor_payloads

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("paypal_settings")]

API = "https://api-m.sandbox.paypal.com"
TOKEN = {
    "scope": "x",
    "access_token": "A21AAtoken",
    "token_type": "Bearer",
    "app_id": "APP-1",
    "expires_in": 32400,
    "nonce": "n",
}


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        token = rsps.post(f"{API}/v1/oauth2/token", json=TOKEN)
        yield rsps
        drop_unfired(rsps, token)


def _order_created(order_id="5O190127TN364715T") -> dict:
    return {
        "id": order_id,
        "status": "PAYER_ACTION_REQUIRED",
        "links": [
            {"href": f"{API}/v2/checkout/orders/{order_id}", "rel": "self", "method": "GET"},
            {
                "href": f"https://www.sandbox.paypal.com/checkoutnow?token={order_id}",
                "rel": "payer-action",
                "method": "GET",
            },
        ],
    }


def _captured(
    invoice,
    *,
    order_id="5O190127TN364715T",
    capture_id="3C679366HH908993F",
    status="COMPLETED",
    value="49.99",
) -> dict:
    capture = {
        "id": capture_id,
        "status": status,
        "final_capture": True,
        "amount": {"currency_code": "EUR", "value": value},
        "custom_id": f"invoice-{invoice.pk}",
    }
    return {
        "id": order_id,
        "status": "COMPLETED",
        "purchase_units": [
            {"reference_id": f"inv-{invoice.pk}", "payments": {"captures": [capture]}}
        ],
    }


def test_pay_with_paypal_approve_and_capture_on_return(client, customer, mocked, invoice_factory):
    invoice = invoice_factory(customer, currency="EUR", amount="49.99", description="Hosting")
    mocked.post(f"{API}/v2/checkout/orders", json=_order_created(), status=201)
    client.force_login(customer.user)
    page = client.get(reverse("invoices:invoice_detail", args=[invoice.pk])).content.decode()
    assert "Pay with PayPal" in page

    response = client.post(reverse("payments:checkout_begin", args=[invoice.pk, "paypal"]))
    assert response.url == "https://www.sandbox.paypal.com/checkoutnow?token=5O190127TN364715T"
    token_call, order_call = mocked.calls
    assert token_call.request.body == "grant_type=client_credentials"
    assert token_call.request.headers["Authorization"].startswith("Basic ")
    attempt = PaymentAttempt.objects.get()
    assert order_call.request.headers["PayPal-Request-Id"] == f"payment-attempt-{attempt.pk}"
    assert order_call.request.headers["Authorization"] == "Bearer A21AAtoken"
    order = json.loads(order_call.request.body)
    assert order["intent"] == "CAPTURE"
    unit = order["purchase_units"][0]
    assert unit["amount"] == {"currency_code": "EUR", "value": "49.99"}
    assert unit["custom_id"] == f"invoice-{invoice.pk}"
    context = order["payment_source"]["paypal"]["experience_context"]
    assert context["return_url"].endswith("/payments/paypal/return/")
    assert context["user_action"] == "PAY_NOW"

    mocked.post(
        f"{API}/v2/checkout/orders/5O190127TN364715T/capture", json=_captured(invoice), status=201
    )
    back = client.get(
        reverse("payments:paypal_return"),
        {"token": "5O190127TN364715T", "PayerID": "PAYER1"},
        follow=True,
    )
    assert "Your payment was received" in back.content.decode()
    capture_call = mocked.calls[-1]
    assert capture_call.request.headers["PayPal-Request-Id"] == "capture-5O190127TN364715T"
    assert capture_call.request.headers["Prefer"] == "return=representation"
    payment = Payment.objects.get()
    assert (payment.gateway, payment.reference, payment.method) == (
        "paypal",
        "3C679366HH908993F",
        "paypal",
    )
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    assert [c.request.url for c in mocked.calls].count(f"{API}/v1/oauth2/token") == 1  # cached


def _attempt(invoice, customer, order_id="5O190127TN364715T") -> PaymentAttempt:
    return PaymentAttempt.objects.create(
        invoice=invoice,
        customer=customer,
        gateway="paypal",
        reference=order_id,
        status="redirected",
        currency="EUR",
        amount=invoice.amount_due,
    )


def test_declined_funding_is_reported_and_nothing_recorded(
    client, customer, mocked, invoice_factory
):
    invoice = invoice_factory(customer, currency="EUR", amount="49.99", description="Hosting")
    _attempt(invoice, customer)
    mocked.post(
        f"{API}/v2/checkout/orders/5O190127TN364715T/capture",
        status=422,
        json={
            "name": "UNPROCESSABLE_ENTITY",
            "message": "declined",
            "details": [{"issue": "INSTRUMENT_DECLINED"}],
        },
    )
    client.force_login(customer.user)
    back = client.get(
        reverse("payments:paypal_return"), {"token": "5O190127TN364715T"}, follow=True
    )
    assert "The payment was not completed" in back.content.decode()
    assert Payment.objects.count() == 0


def test_an_order_captured_before_is_read_back(client, customer, mocked, invoice_factory):
    invoice = invoice_factory(customer, currency="EUR", amount="49.99", description="Hosting")
    _attempt(invoice, customer)
    mocked.post(
        f"{API}/v2/checkout/orders/5O190127TN364715T/capture",
        status=422,
        json={"name": "UNPROCESSABLE_ENTITY", "details": [{"issue": "ORDER_ALREADY_CAPTURED"}]},
    )
    mocked.get(f"{API}/v2/checkout/orders/5O190127TN364715T", json=_captured(invoice))
    client.force_login(customer.user)
    client.get(reverse("payments:paypal_return"), {"token": "5O190127TN364715T"})
    assert Payment.objects.get().reference == "3C679366HH908993F"


def test_an_expired_token_is_refreshed_once(customer, mocked, invoice_factory):
    invoice = invoice_factory(customer, currency="EUR", amount="49.99", description="Hosting")
    _attempt(invoice, customer)
    cache.set(checkout_gateway("paypal").token_key, "stale-token", 3600)
    capture_url = f"{API}/v2/checkout/orders/5O190127TN364715T/capture"
    mocked.post(capture_url, status=401, json={"error": "invalid_token"})
    mocked.post(capture_url, json=_captured(invoice), status=201)
    billing_services.checkout_complete(
        customer=customer, gateway_name="paypal", reference="5O190127TN364715T"
    )
    auths = [
        c.request.headers.get("Authorization") for c in mocked.calls if "capture" in c.request.url
    ]
    assert auths == ["Bearer stale-token", "Bearer A21AAtoken"]
    assert Payment.objects.count() == 1


# --- webhooks -----------------------------------------------------------------------------

HEADERS = {
    "HTTP_PAYPAL_AUTH_ALGO": "SHA256withRSA",
    "HTTP_PAYPAL_CERT_URL": "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-1",
    "HTTP_PAYPAL_TRANSMISSION_ID": "69cd13f0-d67a-11e5-baa3-778b53f4ae55",
    "HTTP_PAYPAL_TRANSMISSION_SIG": (
        "lmI95Jx3Y9nhR5SJWlHVIWpg4AgFk7n9bCHSRxbrd8A9zrhdu2rMyFrmz+Zjh3s3boXB07VXCXUZy/UFzUl"
        "nGJn0wDugt7FlSvdKeIJenLRemUxYCPVoEZzg9VFNqOa48gMkvF+XTpxBeUx/kWy6B5cp7GkT2+pO=="
    ),
    "HTTP_PAYPAL_TRANSMISSION_TIME": "2026-11-21T20:41:28Z",
}


def _event(event_type: str, resource: dict, event_id: str = "WH-58D329510W468432D") -> str:
    # Deliberately not json.dumps-shaped (spacing, key order) to prove it is passed on as is.
    return (
        '{{"id":"{}","event_version":"1.0","event_type":"{}","resource_type":"capture",'
        '"resource":{}}}'
    ).format(event_id, event_type, json.dumps(resource, separators=(",", ":")))


def _deliver(client, capture, body: str, headers=HEADERS):
    with capture(execute=True):
        return client.post("/webhooks/paypal/", body, content_type="application/json", **headers)


def test_capture_completed_webhook_is_verified_and_recorded(
    client, customer, mocked, django_capture_on_commit_callbacks, invoice_factory
):
    invoice = invoice_factory(customer, currency="EUR", amount="49.99", description="Hosting")
    capture = _captured(invoice)["purchase_units"][0]["payments"]["captures"][0]
    mocked.post(
        f"{API}/v1/notifications/verify-webhook-signature", json={"verification_status": "SUCCESS"}
    )
    body = _event("PAYMENT.CAPTURE.COMPLETED", capture)
    assert _deliver(client, django_capture_on_commit_callbacks, body).status_code == 200
    verify = mocked.calls[-1].request.body
    verify = verify.decode() if isinstance(verify, bytes) else verify
    assert verify.endswith(f'"webhook_event": {body}}}')
    sent = json.loads(verify)
    assert sent["webhook_id"] == "WH-ID-1"
    assert sent["transmission_id"] == HEADERS["HTTP_PAYPAL_TRANSMISSION_ID"]
    assert sent["auth_algo"] == "SHA256withRSA"
    assert Payment.objects.get().reference == capture["id"]
    assert _deliver(client, django_capture_on_commit_callbacks, body).json()["duplicate"] is True
    assert Payment.objects.count() == 1


def test_failed_verification_is_refused(
    client, customer, mocked, django_capture_on_commit_callbacks, invoice_factory
):
    invoice = invoice_factory(customer, currency="EUR", amount="49.99", description="Hosting")
    capture = _captured(invoice)["purchase_units"][0]["payments"]["captures"][0]
    mocked.post(
        f"{API}/v1/notifications/verify-webhook-signature", json={"verification_status": "FAILURE"}
    )
    response = _deliver(
        client, django_capture_on_commit_callbacks, _event("PAYMENT.CAPTURE.COMPLETED", capture)
    )
    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0
    assert Payment.objects.count() == 0


@pytest.mark.parametrize("missing", list(HEADERS))
def test_deliveries_without_paypals_headers_are_refused(client, mocked, missing):
    headers = {k: v for k, v in HEADERS.items() if k != missing}
    response = client.post(
        "/webhooks/paypal/", _event("X", {}), content_type="application/json", **headers
    )
    assert response.status_code == 400
    assert not [c for c in mocked.calls if "verify" in c.request.url]


def test_denied_capture_is_audited(
    client, customer, mocked, django_capture_on_commit_callbacks, invoice_factory
):
    invoice = invoice_factory(customer, currency="EUR", amount="49.99", description="Hosting")
    mocked.post(
        f"{API}/v1/notifications/verify-webhook-signature", json={"verification_status": "SUCCESS"}
    )
    capture = vendor_payloads.load("paypal", "PAYMENT.CAPTURE.DECLINED")["resource"]
    capture["custom_id"] = f"invoice-{invoice.pk}"
    _deliver(
        client, django_capture_on_commit_callbacks, _event("PAYMENT.CAPTURE.DECLINED", capture)
    )
    assert AuditEvent.objects.get(action=PaymentAudit.PAYMENT_DENIED).details["gateway"] == "paypal"


@pytest.mark.parametrize("webhook_first", [True, False])
def test_paypal_refund_and_its_webhook_book_it_once(
    client, customer, mocked, django_capture_on_commit_callbacks, webhook_first, invoice_factory
):
    invoice = invoice_factory(customer, currency="EUR", amount="49.99", description="Hosting")
    payment = billing_services.payment_record(
        invoice_id=invoice.pk,
        gateway="paypal",
        reference="CAP-1",
        amount=Money(Decimal("49.99"), "EUR"),
        method="paypal",
    )
    mocked.post(
        f"{API}/v1/notifications/verify-webhook-signature", json={"verification_status": "SUCCESS"}
    )
    mocked.post(
        f"{API}/v2/payments/captures/CAP-1/refund",
        status=201,
        json={"id": "REF-1", "status": "COMPLETED"},
    )
    amount = {"currency_code": "EUR", "value": "10.00"}
    refund = {
        "id": "REF-1",
        "status": "COMPLETED",
        "amount": amount,
        "links": [{"rel": "up", "method": "GET", "href": f"{API}/v2/payments/captures/CAP-1"}],
    }
    body = _event("PAYMENT.CAPTURE.REFUNDED", refund, event_id="WH-REFUND-1")
    if webhook_first:
        _deliver(client, django_capture_on_commit_callbacks, body)
    billing_services.payment_refund_via_gateway(
        payment_id=payment.pk, amount=Money(Decimal("10.00"), "EUR"), reason="Partial"
    )
    if not webhook_first:
        _deliver(client, django_capture_on_commit_callbacks, body)
    refund_call = next(c for c in mocked.calls if c.request.url.endswith("/refund"))
    assert json.loads(refund_call.request.body) == {
        "amount": {"value": "10.00", "currency_code": "EUR"}
    }
    assert refund_call.request.headers["PayPal-Request-Id"].startswith("refund-")
    payment.refresh_from_db()
    assert payment.amount_refunded == Money(Decimal("10.00"), "EUR")
    assert CreditNote.objects.count() == 1
    assert RefundRequest.objects.filter(status="succeeded").count() >= 1


def test_without_a_webhook_id_the_endpoint_is_off(client, settings):
    settings.PAYPAL_WEBHOOK_ID = ""
    assert (
        client.post(
            "/webhooks/paypal/", "{}", content_type="application/json", **HEADERS
        ).status_code
        == 404
    )
