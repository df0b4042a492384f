"""Outbound webhooks (issue 17) against a real receiver: an HTTP server on loopback, in a
thread, that refuses the first three deliveries and then accepts. The delivery is written
with the payment that caused it and sent after commit by its task (here a recorded
"broker" that a test then runs as the worker would), signed, retried, every attempt
recorded; the payment never waits for the receiver. Staff register endpoints (secret shown
once, stored encrypted) and send deliveries again from the admin, with permissions."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import CustomerFactory, UserFactory
from billing import services as billing
from billing_portal.common.audit import AuditEvent
from billing_portal.common.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from billing_portal.common.tasks import webhook_deliver_task
from billing_portal.common.testing import free_port, usd
from billing_portal.common.webhooks import (
    SIGNATURE_HEADER,
    WebhookEventType,
    webhook_deliver,
    webhook_deliveries_prune,
    webhook_delivery_resend,
    webhook_emit,
    webhook_emit_many,
    webhook_endpoint_create,
    webhook_sign,
    webhook_signature_verify,
    webhook_url_validate,
    webhooks_sweep,
)
from billing_portal.common.webhooks import _subscribed_key as subscribed_key
from credits.services import credit_entry_append
from payments.models import Payment
from provisioning import services as provisioning
from provisioning.panels.base import ProvisionResult
from provisioning.tests.factories import ServerFactory, service_on
from support import services as support
from support.tests.helpers import ticket_for

EVERY_EVENT = list(WebhookEventType.values)


class Receiver:
    """A loopback HTTP server that answers 500 to the first `fail_first` POSTs, then 200;
    each request it got is kept (headers, raw body, the status it answered)."""

    def __init__(self, fail_first: int = 3, delay: float = 0.0) -> None:
        self.fail_first, self.delay = fail_first, delay
        self.requests: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(receiver.delay)
                status = 500 if len(receiver.requests) < receiver.fail_first else 200
                receiver.requests.append(
                    {"headers": dict(self.headers), "body": body, "status": status}
                )
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"not yet" if status == 500 else b"thanks")

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def _subscriptions_forgotten() -> Iterator[None]:
    """The cached set of subscribed events outlives a rolled-back test: other tests must
    not start from this one's endpoints."""
    yield
    cache.delete(subscribed_key())


@pytest.fixture
def loopback_urls(settings):
    # The receiver is http:// on 127.0.0.1, which production refuses.
    settings.WEBHOOK_ALLOW_INSECURE_URLS = True


@pytest.fixture
def receiver(loopback_urls) -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def broker(monkeypatch) -> list[list[Any]]:
    """The delivery task's messages as a broker would hold them (not run in-process), so a
    test sees what is published after commit and runs it as a worker later."""
    published: list[list[Any]] = []

    def take(args=(), kwargs=None, **options: Any) -> None:
        published.append(list(args))

    monkeypatch.setattr(webhook_deliver_task, "apply_async", take)
    return published


def _endpoint(url: str, events: list[str] | None = None) -> tuple[WebhookEndpoint, str]:
    return webhook_endpoint_create(name="CRM", url=url, events=events or EVERY_EVENT)


def _unpaid_invoice(customer=None):
    from invoices import services as invoices

    line = invoices.LineDraft(kind="manual", description="Work", unit_price=usd("40"))
    draft = invoices.invoice_create_draft(
        customer=customer or CustomerFactory(), currency="USD", lines=[line]
    )
    return billing.invoice_issue(invoice_id=draft.pk)


def _work_until_done(delivery: WebhookDelivery, tries: int = 10) -> WebhookDelivery:
    """Run the delivery as workers would, each attempt when it is due (time moved on)."""
    for _ in range(tries):
        delivery.refresh_from_db()
        if delivery.status != WebhookDelivery.Status.PENDING:
            break
        webhook_deliver(delivery_id=delivery.pk, now=max(delivery.next_attempt_at, timezone.now()))
    delivery.refresh_from_db()
    return delivery


# --- the loopback receiver ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_payment_is_delivered_signed_once_the_receiver_accepts(receiver, broker):
    endpoint, secret = _endpoint(receiver.url, [WebhookEventType.PAYMENT_RECEIVED])
    invoice = _unpaid_invoice()
    receiver.delay = 5  # a slow receiver: nothing may wait for it

    started = time.monotonic()
    payment = billing.payment_record(
        invoice_id=invoice.pk, gateway="manual", reference="bank-1", amount=invoice.total
    )
    assert time.monotonic() - started < 2

    # Committed with its delivery, published after commit, nothing sent yet.
    assert Payment.objects.filter(pk=payment.pk, status="applied").exists()
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert (delivery.event_type, delivery.status, delivery.attempts) == (
        "payment.received",
        "pending",
        0,
    )
    assert broker == [[delivery.pk]]
    assert receiver.requests == []

    receiver.delay = 0
    delivery = _work_until_done(delivery)

    assert delivery.status == "succeeded"
    assert (delivery.attempts, delivery.last_status_code) == (4, 200)
    assert [r["status"] for r in receiver.requests] == [500, 500, 500, 200]
    for request in receiver.requests:
        assert request["body"] == delivery.body.encode()  # the same bytes on every attempt
        assert request["headers"]["Webhook-Id"] == str(delivery.event_id)
        assert request["headers"]["Webhook-Event"] == "payment.received"
        assert webhook_signature_verify(
            secret, request["body"], request["headers"][SIGNATURE_HEADER]
        )
    body = json.loads(receiver.requests[-1]["body"])
    assert (body["type"], body["id"]) == ("payment.received", str(delivery.event_id))
    assert body["data"]["id"] == payment.pk
    assert body["data"]["amount"] == {"amount": "40.00", "currency": "USD"}
    assert body["data"]["customer_id"] == invoice.customer_id

    attempts = list(delivery.tries.order_by("started_at", "id"))
    assert [a.status_code for a in attempts] == [500, 500, 500, 200]
    assert [a.response_excerpt for a in attempts] == ["not yet"] * 3 + ["thanks"]
    assert all(a.duration_ms >= 0 and a.error == "" for a in attempts)

    # Delivered once: a duplicate message (or a sweep) sends nothing more.
    webhook_deliver(delivery_id=delivery.pk)
    assert webhooks_sweep() == []
    assert len(receiver.requests) == 4


@pytest.mark.django_db(transaction=True)
def test_a_receiver_that_is_down_never_fails_the_payment(loopback_urls):
    # In-process (no broker): the attempt runs right after commit, and fails quietly.
    endpoint, _ = _endpoint(f"http://127.0.0.1:{free_port()}/gone")
    invoice = _unpaid_invoice()
    payment = billing.payment_record(
        invoice_id=invoice.pk, gateway="manual", reference="bank-2", amount=invoice.total
    )
    assert Payment.objects.get(pk=payment.pk).status == "applied"
    delivery = WebhookDelivery.objects.get(endpoint=endpoint, event_type="payment.received")
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.next_attempt_at > timezone.now()  # retried later, with backoff
    (attempt,) = delivery.tries.all()
    assert attempt.status_code is None
    assert "ConnectionError" in attempt.error


@pytest.mark.django_db
def test_after_24_hours_a_delivery_fails(receiver):
    receiver.fail_first = 100
    endpoint, _ = _endpoint(receiver.url)
    (delivery,) = webhook_emit(WebhookEventType.CREDIT_CHANGED, endpoint, customer_id=1)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        retry_until=timezone.now() - timedelta(seconds=1)
    )
    webhook_deliver(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code) == ("failed", 500)
    assert WebhookAttempt.objects.filter(delivery=delivery).count() == 1


@pytest.mark.django_db
def test_the_retries_back_off_exponentially_for_a_day(receiver):
    receiver.fail_first = 100
    endpoint, _ = _endpoint(receiver.url)
    (delivery,) = webhook_emit(WebhookEventType.CREDIT_CHANGED, endpoint)
    waits = []
    for _ in range(4):
        delivery.refresh_from_db()
        now = max(delivery.next_attempt_at, timezone.now())
        webhook_deliver(delivery_id=delivery.pk, now=now)
        delivery.refresh_from_db()
        waits.append((delivery.next_attempt_at - now).total_seconds())
    assert all(later > earlier * 1.5 for earlier, later in itertools.pairwise(waits))
    assert delivery.retry_until - delivery.created_at == timedelta(hours=24)


# --- signing and URLs -----------------------------------------------------------------------


def test_the_signature_is_an_hmac_of_timestamp_and_body():
    header = webhook_sign("whsec_x", b'{"a":1}', 1_700_000_000)
    assert header.startswith("t=1700000000,v1=")
    assert webhook_signature_verify("whsec_x", b'{"a":1}', header, now=1_700_000_010)
    assert not webhook_signature_verify("whsec_x", b'{"a":2}', header, now=1_700_000_010)
    assert not webhook_signature_verify("whsec_y", b'{"a":1}', header, now=1_700_000_010)
    assert not webhook_signature_verify("whsec_x", b'{"a":1}', header, now=1_700_009_999)
    assert not webhook_signature_verify("whsec_x", b'{"a":1}', "garbage")


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",  # not https
        "https://127.0.0.1/x",
        "https://localhost/x",
        "https://10.0.0.5/x",
        "https://169.254.169.254/latest/meta-data",
        "https://user:pass@hooks.example.com/x",
        "ftp://hooks.example.com/x",
    ],
)
def test_production_refuses_insecure_and_private_urls(settings, url):
    settings.WEBHOOK_ALLOW_INSECURE_URLS = False
    with pytest.raises(Exception, match=r"https|public|Credentials|full"):
        webhook_url_validate(url)


def test_production_accepts_a_public_https_url(settings):
    settings.WEBHOOK_ALLOW_INSECURE_URLS = False
    webhook_url_validate("https://hooks.example.com/billing")


# --- what the services emit -----------------------------------------------------------------


def _types() -> list[str]:
    return list(WebhookDelivery.objects.order_by("id").values_list("event_type", flat=True))


@pytest.mark.django_db
def test_every_event_is_emitted_by_its_service_in_its_transaction(loopback_urls):
    _endpoint("http://127.0.0.1:9/unused")
    customer = CustomerFactory()
    invoice = _unpaid_invoice(customer)
    payment = billing.payment_record(
        invoice_id=invoice.pk, gateway="manual", reference="r-1", amount=invoice.total
    )
    billing.payment_refund_record(payment_id=payment.pk, amount=usd("5"), reason="goodwill")
    credit_entry_append(customer=customer, amount=usd("5"), kind="admin_add", idempotency_key="k")
    service = service_on(ServerFactory(), customer=customer, status="active")
    provisioning.service_suspend(service_id=service.pk, reason="abuse")
    provisioning.service_unsuspend(service_id=service.pk, reason="sorted")
    provisioning.service_terminate(service_id=service.pk, reason="gone")
    ticket = ticket_for(customer)
    support.ticket_reply_by_customer(customer=customer, ticket_id=ticket.pk, body="Any news?")
    support.ticket_reply_by_staff(staff=UserFactory(is_staff=True), ticket_id=ticket.pk, body="Yes")

    types = _types()
    for expected in (
        "invoice.issued",
        "invoice.paid",
        "payment.received",
        "payment.refunded",
        "credit.changed",
        "service.suspended",
        "service.unsuspended",
        "service.terminated",
        "ticket.opened",
    ):
        assert expected in types, expected
    assert types.count("ticket.replied") == 2
    assert types.index("invoice.issued") < types.index("payment.received")


@pytest.mark.django_db
def test_a_service_the_panel_confirmed_is_reported_activated(loopback_urls):
    _endpoint("http://127.0.0.1:9/unused", [WebhookEventType.SERVICE_ACTIVATED])
    service = service_on(ServerFactory(), customer=CustomerFactory(), status="provisioning")
    provisioning.service_provisioned(service_id=service.pk, result=ProvisionResult("acct-1"))
    (delivery,) = WebhookDelivery.objects.all()
    data = json.loads(delivery.body)["data"]
    assert (data["object"], data["id"], data["status"]) == (
        "provisioning.service",
        service.pk,
        "active",
    )


@pytest.mark.django_db
def test_events_nobody_subscribes_to_write_nothing(loopback_urls):
    _endpoint("http://127.0.0.1:9/unused", [WebhookEventType.TICKET_OPENED])
    customer = CustomerFactory()
    credit_entry_append(customer=customer, amount=usd("5"), kind="admin_add", idempotency_key="k")
    assert _types() == []
    WebhookEndpoint.objects.update(is_active=False)  # a disabled endpoint gets nothing
    ticket_for(customer)
    assert _types() == []


@pytest.mark.django_db
def test_a_new_endpoint_gets_events_at_once_after_a_cached_nobody(loopback_urls):
    customer = CustomerFactory()
    credit_entry_append(customer=customer, amount=usd("5"), kind="admin_add", idempotency_key="1")
    _endpoint("http://127.0.0.1:9/unused", [WebhookEventType.CREDIT_CHANGED])
    credit_entry_append(customer=customer, amount=usd("5"), kind="admin_add", idempotency_key="2")
    assert _types() == ["credit.changed"]


@pytest.mark.django_db
def test_the_sweep_queues_a_delivery_whose_message_was_lost(loopback_urls):
    endpoint, _ = _endpoint("http://127.0.0.1:9/unused")
    (delivery,) = webhook_emit(WebhookEventType.INVOICE_PAID, endpoint)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=10)
    )
    assert webhooks_sweep() == [delivery.pk]


# --- the admin ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_staff_register_an_endpoint_and_see_its_secret_once(loopback_urls, client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.post(
        reverse("admin:common_webhookendpoint_add"),
        {
            "name": "CRM",
            "url": "http://127.0.0.1:9/h",
            "events": ["invoice.paid"],
            "is_active": "on",
        },
        follow=True,
    )
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    shown = [str(m) for m in response.context["messages"]]
    assert any(endpoint.secret in text for text in shown)
    assert endpoint.secret.startswith("whsec_")
    with connection.cursor() as cursor:  # stored encrypted
        cursor.execute("SELECT secret FROM common_webhookendpoint WHERE id = %s", [endpoint.pk])
        assert endpoint.secret not in cursor.fetchone()[0]
    change = client.get(reverse("admin:common_webhookendpoint_change", args=[endpoint.pk]))
    assert endpoint.secret not in change.content.decode()
    assert "Webhook-Signature" in change.content.decode()  # the help text documents it
    assert AuditEvent.objects.filter(action="webhook.endpoint_created").exists()


@pytest.mark.django_db
def test_the_admin_refuses_an_insecure_url_in_production(settings, client):
    settings.WEBHOOK_ALLOW_INSECURE_URLS = False
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.post(
        reverse("admin:common_webhookendpoint_add"),
        {"name": "CRM", "url": "http://10.1.2.3/h", "events": ["invoice.paid"]},
    )
    assert response.status_code == 200
    assert not WebhookEndpoint.objects.exists()
    assert "https://" in response.content.decode()


@pytest.mark.django_db
def test_staff_send_a_failed_delivery_again_from_its_page(receiver, staff_client_factory):
    receiver.fail_first = 0
    endpoint, secret = _endpoint(receiver.url)
    (delivery,) = webhook_emit(WebhookEventType.INVOICE_PAID, endpoint)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed", attempts=30)
    page = reverse("admin:common_webhookdelivery_change", args=[delivery.pk])
    resend = reverse("admin:common_webhookdelivery_resend", args=[delivery.pk])

    viewer = staff_client_factory("view_webhookdelivery")
    assert "Send again" not in viewer.get(page).content.decode()
    assert viewer.post(resend).status_code == 403
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == "failed"

    sender = staff_client_factory("view_webhookdelivery", "resend_webhookdelivery")
    assert "Send again" in sender.get(page).content.decode()
    assert sender.get(resend).status_code == 405
    assert sender.post(resend).status_code == 302
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert delivery.retry_until > timezone.now() + timedelta(hours=23)
    assert AuditEvent.objects.filter(
        action="webhook.delivery_resent", object_id=str(delivery.pk)
    ).exists()

    delivery = _work_until_done(delivery)
    assert delivery.status == "succeeded"
    (request,) = receiver.requests
    assert webhook_signature_verify(secret, request["body"], request["headers"][SIGNATURE_HEADER])


@pytest.mark.django_db
def test_a_delivery_being_sent_is_not_sent_again(loopback_urls):
    endpoint, _ = _endpoint("http://127.0.0.1:9/unused")
    (delivery,) = webhook_emit(WebhookEventType.INVOICE_PAID, endpoint)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="running")
    with pytest.raises(Exception, match="right now"):
        webhook_delivery_resend(delivery_id=delivery.pk)


@pytest.mark.django_db
def test_rotate_keys_re_encrypts_the_endpoints_secrets(loopback_urls, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    endpoint, secret = _endpoint("http://127.0.0.1:9/unused")
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_keys")
    settings.FIELD_ENCRYPTION_KEYS = [new]  # the old key is gone: the secret still reads
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == secret


@pytest.mark.django_db
def test_staff_change_and_delete_an_endpoint_through_the_services(loopback_urls, client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    endpoint, secret = _endpoint("http://127.0.0.1:9/h", [WebhookEventType.INVOICE_PAID])
    response = client.post(
        reverse("admin:common_webhookendpoint_change", args=[endpoint.pk]),
        {"name": "ERP", "url": "http://127.0.0.1:9/erp", "events": ["ticket.opened"]},
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.name, endpoint.events, endpoint.is_active) == ("ERP", ["ticket.opened"], False)
    assert endpoint.secret == secret  # a change keeps the secret
    assert AuditEvent.objects.filter(action="webhook.endpoint_changed").exists()

    delete = reverse("admin:common_webhookendpoint_delete", args=[endpoint.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 302
    assert not WebhookEndpoint.objects.exists()
    assert AuditEvent.objects.filter(action="webhook.endpoint_deleted").exists()


@pytest.mark.django_db
def test_housekeeping_deletes_long_delivered_deliveries_and_keeps_failed_ones(loopback_urls):
    endpoint, _ = _endpoint("http://127.0.0.1:9/unused")
    old = timezone.now() - timedelta(days=400)
    delivered, failed, recent = webhook_emit_many(
        [(WebhookEventType.INVOICE_PAID, endpoint, {})] * 3
    )
    WebhookDelivery.objects.filter(pk__in=[delivered.pk, recent.pk]).update(status="succeeded")
    WebhookDelivery.objects.filter(pk=failed.pk).update(status="failed")
    WebhookDelivery.objects.exclude(pk=recent.pk).update(finished_at=old)
    WebhookDelivery.objects.filter(pk=recent.pk).update(finished_at=timezone.now())
    WebhookAttempt.objects.create(delivery=delivered, status_code=200)
    assert webhook_deliveries_prune() == 1
    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {failed.pk, recent.pk}
