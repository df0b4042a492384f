"""The customer's payment API (billing/api/payments_api.py): paying invoices at a provider
and capturing it, payments, saved cards, automatic payments, the balance, buying credit and
the ledger. PayPal and Stripe are mocked at the edge with `responses`, in the request and
answer shapes their documentation gives (reference/external-apis.md)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import parse_qs

import pytest
import requests
import responses
import schemathesis
from django.utils import timezone
from djmoney.money import Money
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer

from accounts.models import IdempotencyKey
from billing.tests.test_api import ERROR_KEYS, api, give_credit
from billing_portal.common.testing import drop_unfired
from catalogue.tests.factories import ProductFactory
from credits.models import CreditEntry
from invoices.models import Invoice
from payments.models import (
    GatewayCustomer,
    GatewaySubscription,
    Payment,
    PaymentAttempt,
    SavedPaymentMethod,
)
from provisioning.models import Service

pytestmark = pytest.mark.django_db

PAYPAL = "https://api-m.sandbox.paypal.com"
STRIPE = "https://api.stripe.com/v1"
TOKEN = {"scope": "x", "access_token": "A21AAtoken", "token_type": "Bearer", "expires_in": 32400}
ORDER = "5O190127TN364715T"
CAPTURE = "3C679366HH908993F"
APPROVE = f"https://www.sandbox.paypal.com/checkoutnow?token={ORDER}"


@pytest.fixture
def paypal(paypal_settings):
    """PayPal's REST API (sandbox): the OAuth token shared, the rest registered per test."""
    with responses.RequestsMock() as rsps:
        token = rsps.post(f"{PAYPAL}/v1/oauth2/token", json=TOKEN)
        yield rsps
        drop_unfired(rsps, token)


def _order_created(order_id: str = ORDER) -> dict:
    """Orders v2 create's answer (201) with `payment_source.paypal.experience_context`."""
    return {
        "id": order_id,
        "status": "PAYER_ACTION_REQUIRED",
        "links": [
            {"href": f"{PAYPAL}/v2/checkout/orders/{order_id}", "rel": "self", "method": "GET"},
            {"href": APPROVE, "rel": "payer-action", "method": "GET"},
        ],
    }


def _order_captured(invoice: Invoice, value: str, currency: str = "USD") -> dict:
    """Orders v2 capture's answer (201, Prefer: return=representation)."""
    capture = {
        "id": CAPTURE,
        "status": "COMPLETED",
        "final_capture": True,
        "amount": {"currency_code": currency, "value": value},
        "custom_id": f"invoice-{invoice.pk}",
    }
    return {
        "id": ORDER,
        "status": "COMPLETED",
        "purchase_units": [
            {"reference_id": f"inv-{invoice.pk}", "payments": {"captures": [capture]}}
        ],
    }


@pytest.fixture(scope="module")
def schema():
    return schemathesis.openapi.from_dict(
        json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(public=True)))
    )


def documented(schema, operation: str, response) -> None:
    """`response` (a test client's) is one the schema describes for `operation`
    ("POST /api/v1/payments/{checkout_id}/capture/"): the fuzz test meets these answers only
    as errors, since it configures no gateway."""
    method, path = operation.split(" ")
    answer = schemathesis.Response(
        status_code=response.status_code,
        headers={name: [value] for name, value in response.headers.items()},
        content=response.content,
        request=requests.Request(method=method, url=f"http://testserver{path}").prepare(),
        elapsed=0.0,
        message="",
        encoding="utf-8",
        http_version="1.1",
        verify=False,
    )
    operation = schema[path][method]
    assert str(response.status_code) in operation.definition.raw["responses"], operation
    operation.validate_response(answer)


def _post(client, url: str, body: dict | None = None, *, key: str):
    return client.post(
        url, json.dumps(body or {}), content_type="application/json", HTTP_IDEMPOTENCY_KEY=key
    )


# --- acceptance 2 ---------------------------------------------------------------------------


def test_a_script_reads_both_balances_buys_10_of_credit_with_paypal_and_sees_the_ledger(
    customer, paypal, schema
):
    client = api(customer, "read", "billing")

    # both balances: no credit yet, no tokens, with their formatted values
    balance = client.get("/api/v1/billing/balance/")
    assert balance.status_code == 200
    assert balance.json()["credit"] == []
    assert balance.json()["tokens"]["added"] == "0.00"
    assert balance.json()["tokens"]["value"]["formatted"] == "$0.00"
    assert client.get("/api/v1/balance/").json() == balance.json()  # the old path still answers
    documented(schema, "GET /api/v1/billing/balance/", balance)

    # buy $10 of credit with PayPal: the purchase invoice and an order to approve
    paypal.post(f"{PAYPAL}/v2/checkout/orders", json=_order_created(), status=201)
    bought = _post(
        client, "/api/v1/billing/credits/purchase/", {"amount": "10", "gateway": "paypal"}, key="b1"
    )
    assert bought.status_code == 201, bought.json()
    documented(schema, "POST /api/v1/billing/credits/purchase/", bought)
    body = bought.json()
    assert body["redirect_url"] == APPROVE
    assert body["invoice"]["kind"] == "credit"
    assert body["invoice"]["total"]["formatted"] == "$10.00"
    checkout = body["checkout"]
    assert (checkout["gateway"], checkout["status"], checkout["reference"]) == (
        "paypal",
        "redirected",
        ORDER,
    )
    order_call = paypal.calls[-1]
    assert order_call.request.headers["PayPal-Request-Id"] == f"payment-attempt-{checkout['id']}"
    assert order_call.request.headers["Authorization"] == "Bearer A21AAtoken"
    order = json.loads(order_call.request.body)
    assert order["intent"] == "CAPTURE"
    unit = order["purchase_units"][0]
    assert unit["amount"] == {"currency_code": "USD", "value": "10.00"}
    assert unit["custom_id"] == f"invoice-{body['invoice']['id']}"
    context = order["payment_source"]["paypal"]["experience_context"]
    assert context["return_url"].endswith("/payments/paypal/return/")

    # the customer approved at PayPal: capture it
    invoice = Invoice.objects.get(pk=body["invoice"]["id"])
    paypal.post(
        f"{PAYPAL}/v2/checkout/orders/{ORDER}/capture",
        json=_order_captured(invoice, "10.00"),
        status=201,
    )
    capture_url = f"/api/v1/billing/credits/purchases/{checkout['id']}/capture/"
    captured = _post(client, capture_url, key="c1")
    assert captured.status_code == 200, captured.json()
    documented(schema, "POST /api/v1/billing/credits/purchases/{checkout_id}/capture/", captured)
    assert captured.json()["paid"] is True
    assert captured.json()["invoice"]["status"] == "paid"
    assert captured.json()["credit"] == {
        "amount": "10.00",
        "currency": "USD",
        "formatted": "$10.00",
    }
    capture_call = paypal.calls[-1]
    assert capture_call.request.url == f"{PAYPAL}/v2/checkout/orders/{ORDER}/capture"
    assert capture_call.request.headers["PayPal-Request-Id"] == f"capture-{ORDER}"
    assert capture_call.request.headers["Prefer"] == "return=representation"

    # the ledger shows the purchase, and the balance has it
    ledger_answer = client.get("/api/v1/billing/ledger/")
    documented(schema, "GET /api/v1/billing/ledger/", ledger_answer)
    ledger = ledger_answer.json()
    assert ledger["count"] == 1
    entry = ledger["results"][0]
    assert (entry["kind"], entry["amount"]["amount"], entry["balance_after"]["amount"]) == (
        "purchase",
        "10.00",
        "10.00",
    )
    assert entry["payment_reference"] == invoice.number
    assert client.get("/api/v1/billing/balance/").json()["credit"] == [
        {"amount": "10.00", "currency": "USD", "formatted": "$10.00"}
    ]
    listed = client.get("/api/v1/payments/")
    documented(schema, "GET /api/v1/payments/", listed)
    payments = listed.json()["results"]
    assert [(p["gateway"], p["amount"]["amount"], p["status"]) for p in payments] == [
        ("paypal", "10.00", "applied")
    ]


def test_a_replayed_capture_has_one_effect(customer, paypal, invoice_factory, schema):
    invoice = invoice_factory(customer, "25.00")
    client = api(customer, "billing", "read")
    paypal.post(f"{PAYPAL}/v2/checkout/orders", json=_order_created(), status=201)
    started = _post(
        client, f"/api/v1/invoices/{invoice.pk}/payments/", {"gateway": "paypal"}, key="s"
    )
    assert started.status_code == 201
    capture = paypal.post(
        f"{PAYPAL}/v2/checkout/orders/{ORDER}/capture",
        json=_order_captured(invoice, "25.00"),
        status=201,
    )
    url = f"/api/v1/payments/{started.json()['checkout']['id']}/capture/"
    first = _post(client, url, key="cap")
    assert first.status_code == 200
    documented(schema, "POST /api/v1/payments/{checkout_id}/capture/", first)
    assert first.json()["paid"] is True

    # the same key: the first answer again, without asking PayPal
    again = _post(client, url, key="cap")
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert capture.call_count == 1

    # another key: PayPal answers the same capture (its request id), recorded once
    other = _post(client, url, key="cap-2")
    assert other.status_code == 200
    assert other.json()["paid"] is True
    assert Payment.objects.count() == 1
    assert Invoice.objects.get(pk=invoice.pk).status == "paid"
    detail = client.get(f"/api/v1/payments/{Payment.objects.get().pk}/")
    documented(schema, "GET /api/v1/payments/{id}/", detail)
    assert detail.json()["reference"] == CAPTURE


def test_capturing_an_order_not_yet_approved_records_nothing(customer, paypal, invoice_factory):
    invoice = invoice_factory(customer, "25.00")
    client = api(customer, "billing")
    paypal.post(f"{PAYPAL}/v2/checkout/orders", json=_order_created(), status=201)
    started = _post(
        client, f"/api/v1/invoices/{invoice.pk}/payments/", {"gateway": "paypal"}, key="s"
    )
    not_approved = {"name": "UNPROCESSABLE_ENTITY", "details": [{"issue": "ORDER_NOT_APPROVED"}]}
    paypal.post(f"{PAYPAL}/v2/checkout/orders/{ORDER}/capture", json=not_approved, status=422)
    response = _post(
        client, f"/api/v1/payments/{started.json()['checkout']['id']}/capture/", key="c"
    )
    assert response.status_code == 200
    assert response.json()["paid"] is False
    assert response.json()["invoice"]["status"] == "unpaid"
    assert not Payment.objects.exists()


# --- Stripe ---------------------------------------------------------------------------------


def _session(invoice: Invoice, *, paid: bool) -> dict:
    """A Checkout Session (mode payment) as Stripe answers it."""
    return {
        "id": "cs_test_1",
        "object": "checkout.session",
        "url": "https://checkout.stripe.com/c/pay/cs_test_1",
        "payment_status": "paid" if paid else "unpaid",
        "status": "complete" if paid else "open",
        "payment_intent": "pi_test_1",
        "amount_total": 4999,
        "currency": "usd",
        "client_reference_id": str(invoice.pk),
        "metadata": {"invoice_id": str(invoice.pk)},
    }


def _form(call) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(call.request.body).items()}


def test_paying_an_invoice_with_stripe_checkout(
    customer, stripe_settings, mocked, invoice_factory, schema
):
    invoice = invoice_factory(customer, "49.99")
    mocked.post(f"{STRIPE}/customers", json={"id": "cus_1", "object": "customer"})
    mocked.post(f"{STRIPE}/checkout/sessions", json=_session(invoice, paid=False))
    client = api(customer, "billing", "read")
    started = _post(
        client, f"/api/v1/invoices/{invoice.pk}/payments/", {"gateway": "stripe"}, key="s"
    )
    assert started.status_code == 201, started.json()
    documented(schema, "POST /api/v1/invoices/{id}/payments/", started)
    assert started.json()["redirect_url"] == "https://checkout.stripe.com/c/pay/cs_test_1"
    checkout = started.json()["checkout"]
    session_call = mocked.calls[1]
    assert session_call.request.headers["Idempotency-Key"] == f"payment-attempt-{checkout['id']}"
    form = _form(session_call)
    assert (form["mode"], form["customer"], form["metadata[invoice_id]"]) == (
        "payment",
        "cus_1",
        str(invoice.pk),
    )
    assert form["line_items[0][price_data][unit_amount]"] == "4999"

    mocked.get(f"{STRIPE}/checkout/sessions/cs_test_1", json=_session(invoice, paid=True))
    captured = _post(client, f"/api/v1/payments/{checkout['id']}/capture/", key="c")
    assert captured.status_code == 200
    assert captured.json()["paid"] is True
    assert captured.json()["invoice"]["status"] == "paid"
    payment = Payment.objects.get()
    assert (payment.gateway, payment.reference, payment.amount) == (
        "stripe",
        "pi_test_1",
        Money(Decimal("49.99"), "USD"),
    )
    listed = client.get("/api/v1/payments/?status=applied").json()
    assert [row["id"] for row in listed["results"]] == [payment.pk]
    assert client.get("/api/v1/payments/?status=refunded").json()["count"] == 0


def _pm(pm_id: str, last4: str = "4242") -> dict:
    card = {"brand": "visa", "last4": last4, "exp_month": 4, "exp_year": 2030}
    return {"id": pm_id, "object": "payment_method", "type": "card", "card": card}


def _card(customer, reference: str, *, default: bool, last4: str = "4242") -> SavedPaymentMethod:
    GatewayCustomer.objects.get_or_create(
        customer=customer, gateway="stripe", defaults={"reference": "cus_1"}
    )
    return SavedPaymentMethod.objects.create(
        customer=customer,
        gateway="stripe",
        reference=reference,
        brand="visa",
        last4=last4,
        exp_month=4,
        exp_year=2030,
        is_default=default,
    )


def test_saving_a_card_listing_defaulting_and_removing(customer, stripe_settings, mocked, schema):
    client = api(customer, "billing", "read")
    mocked.post(f"{STRIPE}/customers", json={"id": "cus_1", "object": "customer"})
    setup_session = {
        "id": "cs_setup",
        "object": "checkout.session",
        "url": "https://checkout.stripe.com/c/setup",
    }
    mocked.post(f"{STRIPE}/checkout/sessions", json=setup_session)
    started = _post(client, "/api/v1/payment-methods/setup/", key="setup")
    assert started.status_code == 201, started.json()
    documented(schema, "POST /api/v1/payment-methods/setup/", started)
    assert started.json()["redirect_url"] == "https://checkout.stripe.com/c/setup"
    setup = started.json()["setup"]
    assert _form(mocked.calls[1])["mode"] == "setup"

    done = {
        **setup_session,
        "setup_intent": {
            "id": "seti_1",
            "object": "setup_intent",
            "status": "succeeded",
            "payment_method": _pm("pm_1"),
        },
    }
    mocked.get(f"{STRIPE}/checkout/sessions/cs_setup", json=done)
    completed = _post(client, f"/api/v1/payment-methods/setup/{setup['id']}/complete/", key="d")
    assert completed.status_code == 200
    documented(schema, "POST /api/v1/payment-methods/setup/{setup_id}/complete/", completed)
    assert completed.json()["saved"] is True
    assert completed.json()["method"]["last4"] == "4242"
    assert completed.json()["method"]["is_default"] is True

    second = _card(customer, "pm_2", default=False, last4="1111")
    answer = client.get("/api/v1/payment-methods/")
    documented(schema, "GET /api/v1/payment-methods/", answer)
    listed = answer.json()["results"]
    assert [(m["last4"], m["is_default"]) for m in listed] == [("4242", True), ("1111", False)]

    mocked.post(f"{STRIPE}/customers/cus_1", json={"id": "cus_1", "object": "customer"})
    made = client.post(f"/api/v1/payment-methods/{second.pk}/default/")
    assert made.status_code == 200
    documented(schema, "POST /api/v1/payment-methods/{id}/default/", made)
    assert made.json()["is_default"] is True
    assert _form(mocked.calls[-1]) == {"invoice_settings[default_payment_method]": "pm_2"}

    mocked.post(f"{STRIPE}/payment_methods/pm_2/detach", json=_pm("pm_2"))
    removed = client.delete(f"/api/v1/payment-methods/{second.pk}/")
    assert removed.status_code == 204
    documented(schema, "DELETE /api/v1/payment-methods/{id}/", removed)
    assert list(SavedPaymentMethod.objects.values_list("reference", "is_default")) == [
        ("pm_1", True)
    ]


# --- PayPal subscriptions -------------------------------------------------------------------


@pytest.fixture
def renewing_service(customer) -> Service:
    return Service.objects.create(
        customer=customer,
        product=ProductFactory(name="Rust server"),
        cycle="monthly",
        currency="USD",
        recurring_amount=Money(Decimal("12.50"), "USD"),
        status="active",
        next_due_date=date(2026, 12, 1),
    )


def test_automatic_payments_for_a_service_and_stopping_them(
    customer, paypal, renewing_service, schema
):
    client = api(customer, "billing")
    paypal.post(f"{PAYPAL}/v1/catalogs/products", status=201, json={"id": "PROD-1"})
    paypal.post(f"{PAYPAL}/v1/billing/plans", status=201, json={"id": "P-1", "status": "ACTIVE"})
    approve = "https://www.sandbox.paypal.com/webapps/billing/subscriptions?ba_token=BA-1"
    paypal.post(
        f"{PAYPAL}/v1/billing/subscriptions",
        status=201,
        json={
            "id": "I-SUB1",
            "status": "APPROVAL_PENDING",
            "links": [{"href": approve, "rel": "approve", "method": "GET"}],
        },
    )
    made = _post(client, f"/api/v1/services/{renewing_service.pk}/subscription/", key="sub")
    assert made.status_code == 201, made.json()
    documented(schema, "POST /api/v1/services/{id}/subscription/", made)
    assert made.json()["redirect_url"] == approve
    subscription = made.json()["subscription"]
    assert (subscription["status"], subscription["reference"]) == ("approval_pending", "I-SUB1")
    assert subscription["amount"]["amount"] == "12.50"
    sent = json.loads(paypal.calls[-1].request.body)
    assert (sent["plan_id"], sent["custom_id"]) == ("P-1", f"service-{renewing_service.pk}")

    again = _post(client, f"/api/v1/services/{renewing_service.pk}/subscription/", key="sub-2")
    assert again.status_code == 400
    assert "already pays its renewals automatically" in again.json()["detail"]

    listed = client.get("/api/v1/subscriptions/?status=approval_pending")
    assert listed.status_code == 403  # reading needs `read`
    listed = api(customer, "read").get("/api/v1/subscriptions/?status=approval_pending")
    documented(schema, "GET /api/v1/subscriptions/", listed)
    assert [row["id"] for row in listed.json()["results"]] == [subscription["id"]]

    paypal.post(f"{PAYPAL}/v1/billing/subscriptions/I-SUB1/cancel", status=204)
    cancelled = client.post(f"/api/v1/subscriptions/{subscription['id']}/cancel/")
    assert cancelled.status_code == 200
    documented(schema, "POST /api/v1/subscriptions/{id}/cancel/", cancelled)
    assert cancelled.json()["status"] == "cancelled"
    assert json.loads(paypal.calls[-1].request.body) == {"reason": "Cancelled by the customer"}


# --- isolation, scopes, bad input -----------------------------------------------------------


def test_another_customers_ids_are_404_and_change_nothing(
    customer, other_customer, invoice_factory, renewing_service
):
    invoice = invoice_factory(customer, "30")
    checkout = PaymentAttempt.objects.create(
        invoice=invoice,
        customer=customer,
        gateway="paypal",
        reference=ORDER,
        status="redirected",
        currency="USD",
        amount=invoice.amount_due,
    )
    setup = PaymentAttempt.objects.create(
        kind="card_setup", customer=customer, gateway="stripe", reference="cs_setup"
    )
    card = _card(customer, "pm_1", default=True)
    payment = Payment.objects.create(
        invoice=invoice,
        customer=customer,
        gateway="manual",
        reference="m-1",
        status="held",
        currency="USD",
        amount=Money(1, "USD"),
        fee=Money(0, "USD"),
        amount_refunded=Money(0, "USD"),
    )
    subscription = GatewaySubscription.objects.create(
        service=renewing_service,
        customer=customer,
        gateway="paypal",
        reference="I-SUB1",
        status="active",
        plan=_plan(renewing_service),
    )
    intruder = api(other_customer, "read", "billing")
    owner = api(customer, "read")
    assert owner.get(f"/api/v1/payments/{payment.pk}/").status_code == 200
    posts = [
        (f"/api/v1/invoices/{invoice.pk}/payments/", {"gateway": "paypal"}),
        (f"/api/v1/payments/{checkout.pk}/capture/", {}),
        (f"/api/v1/billing/credits/purchases/{checkout.pk}/capture/", {}),
        (f"/api/v1/payment-methods/setup/{setup.pk}/complete/", {}),
        (f"/api/v1/payment-methods/{card.pk}/default/", {}),
        (f"/api/v1/services/{renewing_service.pk}/subscription/", {}),
        (f"/api/v1/subscriptions/{subscription.pk}/cancel/", {}),
    ]
    # no gateway is configured: a 404 here was decided before any provider could be asked
    for n, (url, body) in enumerate(posts):
        response = _post(intruder, url, body, key=f"k{n}")
        assert response.status_code == 404, url
        assert set(response.json()) == ERROR_KEYS
    for url in (f"/api/v1/payments/{payment.pk}/", f"/api/v1/payment-methods/{card.pk}/"):
        method = intruder.get if url.startswith("/api/v1/payments/") else intruder.delete
        assert method(url).status_code == 404, url
    assert intruder.get("/api/v1/payments/").json()["count"] == 0
    assert intruder.get("/api/v1/payment-methods/").json()["count"] == 0
    assert intruder.get("/api/v1/billing/ledger/").json()["count"] == 0
    assert intruder.get("/api/v1/subscriptions/").json()["count"] == 0
    assert PaymentAttempt.objects.count() == 2
    assert SavedPaymentMethod.objects.get().is_default is True
    assert GatewaySubscription.objects.get().status == "active"
    assert Invoice.objects.get(pk=invoice.pk).status == "unpaid"


def _plan(service: Service):
    from payments.models import GatewayPlan

    return GatewayPlan.objects.create(
        gateway="paypal",
        product=service.product,
        cycle=service.cycle,
        currency="USD",
        amount=Money(Decimal("12.50"), "USD"),
        product_reference="PROD-1",
        reference="P-1",
    )


def test_a_credit_capture_is_for_credit_purchases_only(customer, invoice_factory):
    invoice = invoice_factory(customer, "30")
    checkout = PaymentAttempt.objects.create(
        invoice=invoice, customer=customer, gateway="paypal", reference=ORDER, status="redirected"
    )
    url = f"/api/v1/billing/credits/purchases/{checkout.pk}/capture/"
    assert _post(api(customer, "billing"), url, key="k").status_code == 404


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", "/api/v1/invoices/1/payments/"),
        ("post", "/api/v1/payments/1/capture/"),
        ("post", "/api/v1/payment-methods/setup/"),
        ("post", "/api/v1/payment-methods/setup/1/complete/"),
        ("post", "/api/v1/payment-methods/1/default/"),
        ("delete", "/api/v1/payment-methods/1/"),
        ("post", "/api/v1/services/1/subscription/"),
        ("post", "/api/v1/subscriptions/1/cancel/"),
        ("post", "/api/v1/billing/credits/purchase/"),
        ("post", "/api/v1/billing/credits/purchases/1/capture/"),
    ],
)
def test_writes_need_the_billing_scope(customer, method, url):
    client = api(customer, "read", "services", "dns")
    response = getattr(client, method)(
        url, "{}", content_type="application/json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "scope_missing"
    assert not IdempotencyKey.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/payments/",
        "/api/v1/payments/1/",
        "/api/v1/payment-methods/",
        "/api/v1/billing/balance/",
        "/api/v1/billing/ledger/",
        "/api/v1/subscriptions/",
    ],
)
def test_reads_need_the_read_scope(customer, url):
    response = api(customer, "billing").get(url)
    assert response.status_code == 403
    assert response.json()["code"] == "scope_missing"


@pytest.mark.parametrize(
    ("body", "field_or_code"),
    [
        ({"amount": "10"}, "gateway"),
        ({"amount": "10", "gateway": "bitcoin"}, "gateway"),
        ({"gateway": "paypal"}, "amount"),
        ({"amount": "0.50", "gateway": "paypal"}, "invalid_credit_amount"),
        ({"amount": "1000.01", "gateway": "paypal"}, "invalid_credit_amount"),
        ({"amount": "12.345", "gateway": "paypal"}, "invalid_credit_amount"),
        ({"amount": "1e3", "gateway": "paypal"}, "invalid_credit_amount"),
        ({"amount": "NaN", "gateway": "paypal"}, "invalid_credit_amount"),
        ({"amount": ["10"], "gateway": "paypal"}, "amount"),
    ],
)
def test_a_bad_credit_purchase_is_400_and_issues_nothing(
    customer, paypal_settings, body, field_or_code
):
    # PayPal is configured but never called: the strict mock has no route
    with responses.RequestsMock(assert_all_requests_are_fired=False):
        response = _post(
            api(customer, "billing"), "/api/v1/billing/credits/purchase/", body, key="k"
        )
    assert response.status_code == 400
    error = response.json()
    assert set(error) == ERROR_KEYS
    assert field_or_code in error["errors"] or error["code"] == field_or_code
    assert not Invoice.objects.exists()
    assert not PaymentAttempt.objects.exists()


def test_a_gateway_that_is_off_is_400_and_issues_nothing(customer, invoice_factory):
    invoice = invoice_factory(customer, "30")
    client = api(customer, "billing")
    purchase = _post(
        client, "/api/v1/billing/credits/purchase/", {"amount": "10", "gateway": "paypal"}, key="p"
    )
    assert purchase.status_code == 400
    assert purchase.json()["code"] == "gateway_unavailable"
    assert Invoice.objects.count() == 1
    start = _post(
        client, f"/api/v1/invoices/{invoice.pk}/payments/", {"gateway": "stripe"}, key="s"
    )
    assert start.status_code == 400
    assert start.json()["detail"] == "This payment method is not available."
    assert _post(client, "/api/v1/payment-methods/setup/", key="c").status_code == 400


def test_a_paid_invoice_cannot_be_paid_again(customer, paypal_settings, invoice_factory):
    invoice = invoice_factory(customer, "30")
    give_credit(customer)
    paid = _post(
        api(customer, "billing"), f"/api/v1/invoices/{invoice.pk}/pay-with-credit/", key="x"
    )
    assert paid.json()["invoice"]["status"] == "paid"
    response = _post(
        api(customer, "billing"),
        f"/api/v1/invoices/{invoice.pk}/payments/",
        {"gateway": "paypal"},
        key="y",
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "This invoice has nothing left to pay."
    assert not PaymentAttempt.objects.exists()


def test_the_ledger_filters_by_kind_and_date_and_pages(customer):
    for n in range(3):
        give_credit(customer, "5", key=f"g{n}")
    client = api(customer)
    everything = client.get("/api/v1/billing/ledger/?page_size=2").json()
    assert everything["count"] == 3
    assert len(everything["results"]) == 2
    assert everything["results"][0]["balance_after"]["amount"] == "15.00"
    assert client.get("/api/v1/billing/ledger/?kind=admin_add").json()["count"] == 3
    assert client.get("/api/v1/billing/ledger/?kind=purchase").json()["count"] == 0
    tomorrow = (timezone.now() + timedelta(days=1)).date().isoformat()
    assert client.get(f"/api/v1/billing/ledger/?created_after={tomorrow}").json()["count"] == 0
    assert client.get(f"/api/v1/billing/ledger/?created_before={tomorrow}").json()["count"] == 3
    for query in ("kind=gift", "created_after=2026-13-40", "page=0"):
        response = client.get(f"/api/v1/billing/ledger/?{query}")
        assert response.status_code in (400, 404), query
        assert set(response.json()) == ERROR_KEYS
    assert CreditEntry.objects.count() == 3


def test_a_provider_that_fails_is_a_clean_400_and_the_checkout_is_on_record(customer, paypal):
    paypal.post(f"{PAYPAL}/v2/checkout/orders", json={"name": "INTERNAL_SERVER_ERROR"}, status=503)
    client = api(customer, "billing")
    response = _post(
        client, "/api/v1/billing/credits/purchase/", {"amount": "10", "gateway": "paypal"}, key="p"
    )
    assert response.status_code == 400
    assert set(response.json()) == ERROR_KEYS
    assert "unavailable right now" in response.json()["detail"]
    attempt = PaymentAttempt.objects.get()
    assert (attempt.status, attempt.reference) == ("failed", "")
    # the purchase invoice stays open, as in the client area, and nothing was paid
    assert Invoice.objects.get().status == "unpaid"
    assert not CreditEntry.objects.exists()
    # a checkout the provider never answered has nothing to capture
    capture = _post(client, f"/api/v1/billing/credits/purchases/{attempt.pk}/capture/", key="c")
    assert capture.status_code == 404
