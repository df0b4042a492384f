"""PayPal subscriptions paying a service's renewals."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
import responses
from django.urls import reverse
from djmoney.money import Money

from accounts.tests.helpers import assert_customer_isolation
from billing import services as billing_services
from billing_portal.common.testing import drop_unfired
from catalogue.tests.factories import ProductFactory
from invoices import services as invoice_services
from invoices.models import Invoice
from payments.models import GatewayPlan, GatewaySubscription, Payment, WebhookEvent
from payments.tests import vendor_payloads
from payments.tests.test_paypal import API, HEADERS, TOKEN
from provisioning.models import Service
from provisioning.services import service_terminate

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("paypal_settings")]


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        shared = [
            rsps.post(f"{API}/v1/oauth2/token", json=TOKEN),
            rsps.post(f"{API}/v1/catalogs/products", status=201, json={"id": "PROD-1"}),
            rsps.post(
                f"{API}/v1/billing/plans", status=201, json={"id": "P-1", "status": "ACTIVE"}
            ),
        ]
        ids = iter(f"I-NEW{n}" for n in range(1, 100))

        def created(request):
            approve = "https://www.sandbox.paypal.com/webapps/billing/subscriptions?ba_token=BA-1"
            body = {
                "id": next(ids),
                "status": "APPROVAL_PENDING",
                "links": [{"href": approve, "rel": "approve", "method": "GET"}],
            }
            return 201, {}, json.dumps(body)

        shared.append(
            rsps.add_callback(responses.POST, f"{API}/v1/billing/subscriptions", callback=created)
        )
        yield rsps
        drop_unfired(rsps, *shared)


@pytest.fixture
def service(customer) -> Service:
    product = ProductFactory(name="Rust server")
    return Service.objects.create(
        customer=customer,
        product=product,
        cycle="monthly",
        currency="USD",
        recurring_amount=Money(Decimal("12.50"), "USD"),
        status="active",
        next_due_date=date(2026, 12, 1),
    )


def _body(call) -> dict:
    return json.loads(call.request.body)


def test_customer_turns_on_automatic_paypal_payments(client, customer, service, mocked):
    client.force_login(customer.user)
    page = client.get(reverse("provisioning:service_list")).content.decode()
    begin = reverse("payments:subscription_begin", args=[service.pk])
    assert begin in page

    response = client.post(begin)
    assert (
        response.url == "https://www.sandbox.paypal.com/webapps/billing/subscriptions?ba_token=BA-1"
    )
    calls = {call.request.url.removeprefix(API): call for call in mocked.calls}
    plan = _body(calls["/v1/billing/plans"])
    assert plan["product_id"] == "PROD-1"
    cycle = plan["billing_cycles"][0]
    assert cycle["frequency"] == {"interval_unit": "MONTH", "interval_count": 1}
    assert cycle["tenure_type"] == "REGULAR"
    assert cycle["pricing_scheme"]["fixed_price"] == {"value": "12.50", "currency_code": "USD"}
    subscription = _body(calls["/v1/billing/subscriptions"])
    assert subscription["plan_id"] == "P-1"
    assert subscription["custom_id"] == f"service-{service.pk}"
    assert subscription["start_time"] == "2026-12-01T00:00:00Z"  # the paid period is not charged
    assert subscription["application_context"]["return_url"].endswith(
        "/payments/paypal/subscription/return/"
    )
    record = GatewaySubscription.objects.get()
    assert (
        calls["/v1/billing/subscriptions"].request.headers["PayPal-Request-Id"]
        == f"subscription-{record.pk}"
    )
    assert (record.reference, record.status) == ("I-NEW1", "approval_pending")

    # back from PayPal: confirmed and shown
    mocked.get(f"{API}/v1/billing/subscriptions/I-NEW1", json={"id": "I-NEW1", "status": "ACTIVE"})
    back = client.get(
        reverse("payments:subscription_return"),
        {"subscription_id": "I-NEW1", "ba_token": "BA-1"},
        follow=True,
    )
    assert "now paid with PayPal" in back.content.decode()
    assert "Paid automatically with PayPal" in back.content.decode()

    # a second subscription for the same service is refused
    again = client.post(begin, follow=True)
    assert "already pays its renewals automatically" in again.content.decode()


def test_plans_are_reused_for_the_same_price(client, customer, service, mocked):
    twin = Service.objects.create(
        customer=customer,
        product=service.product,
        cycle="monthly",
        currency="USD",
        recurring_amount=Money(Decimal("12.50"), "USD"),
        status="active",
        next_due_date=date(2026, 12, 5),
    )
    client.force_login(customer.user)
    client.post(reverse("payments:subscription_begin", args=[service.pk]))
    client.post(reverse("payments:subscription_begin", args=[twin.pk]))
    urls = [call.request.url for call in mocked.calls]
    assert urls.count(f"{API}/v1/billing/plans") == 1
    assert GatewayPlan.objects.count() == 1


def _renewal(service) -> Invoice:
    line = invoice_services.LineDraft(
        kind="service",
        description="Renewal",
        unit_price=Money(Decimal("12.50"), "USD"),
        service_id=service.pk,
        period_start=service.next_due_date,
        period_end=date(2026, 12, 31),
    )
    draft = invoice_services.invoice_create_draft(
        customer=service.customer,
        currency="USD",
        lines=[line],
        kind="renewal",
        due_date=service.next_due_date,
    )
    return billing_services.invoice_issue(invoice_id=draft.pk)


def _sale_event(sale_id="44P499886K055384U", event_id="WH-SALE-1") -> str:
    """PayPal's subscription charge of 12.50 USD on I-SUB1 (fixtures/paypal/)."""
    event = vendor_payloads.load("paypal", "PAYMENT.SALE.COMPLETED")
    event["id"], event["resource"]["id"] = event_id, sale_id
    return json.dumps(event)


def _deliver(client, capture, body: str):
    with capture(execute=True):
        return client.post("/webhooks/paypal/", body, content_type="application/json", **HEADERS)


@pytest.fixture
def live_subscription(service) -> GatewaySubscription:
    plan = GatewayPlan.objects.create(
        gateway="paypal",
        product=service.product,
        cycle="monthly",
        currency="USD",
        amount=Money(Decimal("12.50"), "USD"),
        product_reference="PROD-1",
        reference="P-1",
    )
    return GatewaySubscription.objects.create(
        service=service,
        customer=service.customer,
        gateway="paypal",
        reference="I-SUB1",
        plan=plan,
        status="active",
    )


def test_each_subscription_payment_pays_the_matching_renewal_once(
    client, service, live_subscription, mocked, django_capture_on_commit_callbacks
):
    mocked.post(
        f"{API}/v1/notifications/verify-webhook-signature", json={"verification_status": "SUCCESS"}
    )
    renewal = _renewal(service)
    _deliver(client, django_capture_on_commit_callbacks, _sale_event())
    _deliver(client, django_capture_on_commit_callbacks, _sale_event(event_id="WH-SALE-1-RESENT"))
    renewal.refresh_from_db()
    assert renewal.status == Invoice.Status.PAID
    payment = Payment.objects.get()
    assert (payment.gateway, payment.reference, payment.method) == (
        "paypal",
        "44P499886K055384U",
        "paypal",
    )


def test_a_subscription_payment_without_a_renewal_is_kept_for_retry(
    client, service, live_subscription, mocked, django_capture_on_commit_callbacks
):
    mocked.post(
        f"{API}/v1/notifications/verify-webhook-signature", json={"verification_status": "SUCCESS"}
    )
    assert _deliver(client, django_capture_on_commit_callbacks, _sale_event()).status_code == 200
    event = WebhookEvent.objects.get()
    assert event.status == "failed"
    assert "no unpaid renewal" in event.error
    # once the renewal exists, the retry applies it
    from billing.services import webhook_event_process

    _renewal(service)
    webhook_event_process(webhook_event_id=event.pk)
    assert Payment.objects.count() == 1


def test_activation_and_cancellation_events(
    client, service, live_subscription, mocked, django_capture_on_commit_callbacks
):
    mocked.post(
        f"{API}/v1/notifications/verify-webhook-signature", json={"verification_status": "SUCCESS"}
    )
    live_subscription.status = "approval_pending"
    live_subscription.save()
    activated = json.dumps(vendor_payloads.load("paypal", "BILLING.SUBSCRIPTION.ACTIVATED"))
    _deliver(client, django_capture_on_commit_callbacks, activated)
    live_subscription.refresh_from_db()
    assert live_subscription.status == "active"
    cancelled = json.dumps(vendor_payloads.load("paypal", "BILLING.SUBSCRIPTION.CANCELLED"))
    _deliver(client, django_capture_on_commit_callbacks, cancelled)
    live_subscription.refresh_from_db()
    assert live_subscription.status == "cancelled"


def test_terminating_the_service_cancels_the_subscription_at_paypal(
    service, live_subscription, mocked, django_capture_on_commit_callbacks
):
    mocked.post(f"{API}/v1/billing/subscriptions/I-SUB1/cancel", status=204)
    with django_capture_on_commit_callbacks(execute=True):
        service_terminate(service_id=service.pk, reason="invoice unpaid")
    cancel = next(c for c in mocked.calls if c.request.url.endswith("/cancel"))
    assert json.loads(cancel.request.body) == {"reason": "Service ended"}
    live_subscription.refresh_from_db()
    assert live_subscription.status == "cancelled"


def test_customer_stops_automatic_payments(client, customer, service, live_subscription, mocked):
    mocked.post(f"{API}/v1/billing/subscriptions/I-SUB1/cancel", status=204)
    client.force_login(customer.user)
    response = client.post(
        reverse("payments:subscription_cancel", args=[live_subscription.pk]), follow=True
    )
    assert "Automatic PayPal payments are stopped" in response.content.decode()
    live_subscription.refresh_from_db()
    assert live_subscription.status == "cancelled"


def test_subscription_urls_are_hidden_from_other_customers(
    client, customer, other_customer, service, live_subscription, mocked
):
    mocked.post(f"{API}/v1/billing/subscriptions/I-SUB1/cancel", status=204)
    assert_customer_isolation(
        client,
        urls=[reverse("payments:subscription_cancel", args=[live_subscription.pk])],
        owner=customer,
        intruder=other_customer,
        method="post",
    )
    assert_customer_isolation(
        client,
        urls=[reverse("payments:subscription_begin", args=[service.pk])],
        owner=customer,
        intruder=other_customer,
        method="post",
    )
