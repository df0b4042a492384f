"""Stripe webhooks: verification, storage, exactly-once effects, order and faults."""

from __future__ import annotations

import itertools
import json
import time
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from djmoney.money import Money

from billing.services import payments as billing_payments
from billing.services import webhook_event_process
from billing.tasks import webhook_events_sweep_task
from billing_portal.common.audit import AuditEvent
from invoices.audit import InvoiceAudit
from invoices.models import CreditNote, Invoice
from payments.audit import PaymentAudit
from payments.events import PaymentSucceeded
from payments.models import Payment, WebhookEvent
from payments.services import WEBHOOK_MAX_ATTEMPTS, WebhookHandlerFailed
from payments.tests import stripe_events as se

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stripe_settings")]

URL = "/webhooks/stripe/"


@pytest.fixture
def invoice(invoice_factory) -> Invoice:
    return invoice_factory(amount="100")


def deliver(client, capture, payload, **signing):
    body, headers = se.signed(payload, **signing)
    with capture(execute=True):
        return client.post(URL, body, content_type="application/json", **headers)


def test_payment_succeeded_pays_the_invoice(client, invoice, django_capture_on_commit_callbacks):
    payload = se.event("payment_intent.succeeded", se.payment_intent(invoice.pk, amount=10000))
    response = deliver(client, django_capture_on_commit_callbacks, payload)
    assert response.status_code == 200
    assert response.json() == {"received": True, "duplicate": False}
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    payment = Payment.objects.get()
    assert (payment.gateway, payment.reference, payment.amount) == (
        "stripe",
        "pi_1",
        Money(Decimal("100.00"), "USD"),
    )
    stored = WebhookEvent.objects.get()
    assert (stored.status, stored.attempts, stored.event_type) == (
        "processed",
        1,
        "payment_intent.succeeded",
    )
    assert json.loads(stored.body) == payload


def test_the_same_event_delivered_ten_times_pays_once(
    client, invoice, django_capture_on_commit_callbacks
):
    payload = se.event("payment_intent.succeeded", se.payment_intent(invoice.pk, amount=10000))
    answers = [deliver(client, django_capture_on_commit_callbacks, payload) for _ in range(10)]
    assert [a.json()["duplicate"] for a in answers] == [False] + [True] * 9
    assert Payment.objects.count() == 1
    assert WebhookEvent.objects.count() == 1
    assert AuditEvent.objects.filter(action=InvoiceAudit.INVOICE_PAID).count() == 1


def test_checkout_and_payment_intent_events_for_one_payment_record_it_once(
    client, invoice, django_capture_on_commit_callbacks
):
    session = se.checkout_session(invoice.pk, amount=10000, pi="pi_1")
    deliver(
        client, django_capture_on_commit_callbacks, se.event("checkout.session.completed", session)
    )
    deliver(
        client,
        django_capture_on_commit_callbacks,
        se.event("payment_intent.succeeded", se.payment_intent(invoice.pk, amount=10000)),
    )
    assert Payment.objects.count() == 1


def test_unfinished_checkout_is_ignored(client, invoice, django_capture_on_commit_callbacks):
    session = se.checkout_session(invoice.pk, amount=10000, pi="pi_2", session="cs_2", paid=False)
    deliver(
        client, django_capture_on_commit_callbacks, se.event("checkout.session.completed", session)
    )
    assert WebhookEvent.objects.get().status == "ignored"
    assert Payment.objects.count() == 0


def test_failed_payment_is_audited_as_denied(client, invoice, django_capture_on_commit_callbacks):
    intent = se.payment_intent(invoice.pk, amount=10000)
    intent["last_payment_error"] = {"code": "card_declined", "message": "Your card was declined."}
    deliver(
        client,
        django_capture_on_commit_callbacks,
        se.event("payment_intent.payment_failed", intent),
    )
    denied = AuditEvent.objects.get(action=PaymentAudit.PAYMENT_DENIED)
    assert denied.details["code"] == "card_declined"
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.UNPAID


def test_unknown_event_types_are_stored_as_ignored(client, django_capture_on_commit_callbacks):
    payload = se.event("customer.created", {"id": "cus_1", "object": "customer"})
    assert deliver(client, django_capture_on_commit_callbacks, payload).status_code == 200
    assert WebhookEvent.objects.get().status == "ignored"


def _final_state(invoice: Invoice) -> tuple:
    invoice.refresh_from_db()
    payment = Payment.objects.get()
    credited = sum(note.amount.amount for note in CreditNote.objects.all())
    return invoice.status, invoice.amount_paid, payment.status, payment.amount_refunded, credited


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_refunds_and_success_in_any_order_end_in_the_same_state(
    client, invoice, django_capture_on_commit_callbacks, order
):
    events = [
        se.event("payment_intent.succeeded", se.payment_intent(invoice.pk, amount=10000)),
        se.event("charge.refunded", se.charge(invoice.pk, amount=10000, refunded=3000)),
        se.event("charge.refunded", se.charge(invoice.pk, amount=10000, refunded=10000)),
    ]
    for index in order:
        deliver(client, django_capture_on_commit_callbacks, events[index])
    assert _final_state(invoice) == (
        Invoice.Status.REFUNDED,
        Money(Decimal("100"), "USD"),
        Payment.Status.REFUNDED,
        Money(Decimal("100"), "USD"),
        Decimal("100"),
    )


def test_a_handler_failing_once_applies_its_effect_once(
    client, invoice, django_capture_on_commit_callbacks, monkeypatch
):
    real = billing_payments.payment_succeeded
    calls = {"n": 0}

    def flaky(event):
        calls["n"] += 1
        if calls["n"] == 1:
            real(event)  # does its work, then fails: the work must roll back
            raise ConnectionError("database went away")
        real(event)

    monkeypatch.setitem(billing_payments.HANDLERS, PaymentSucceeded, flaky)
    payload = se.event("payment_intent.succeeded", se.payment_intent(invoice.pk, amount=10000))
    assert deliver(client, django_capture_on_commit_callbacks, payload).status_code == 200

    # the first run failed: recorded, and its work rolled back
    stored = WebhookEvent.objects.get()
    assert (stored.status, stored.attempts) == ("failed", 1)
    assert "database went away" in stored.error
    assert Payment.objects.count() == 0

    # the retry (a broker runs it after the backoff) succeeds, once
    webhook_event_process(webhook_event_id=stored.pk)
    stored.refresh_from_db()
    assert (stored.status, stored.attempts, stored.error) == ("processed", 2, "")
    assert Payment.objects.count() == 1
    assert AuditEvent.objects.filter(action=InvoiceAudit.INVOICE_PAID).count() == 1


def test_a_handler_that_keeps_failing_ends_failed_with_its_error(
    client, invoice, django_capture_on_commit_callbacks, monkeypatch
):
    def broken(event):
        raise RuntimeError("bug in handler")

    monkeypatch.setitem(billing_payments.HANDLERS, PaymentSucceeded, broken)
    payload = se.event("payment_intent.succeeded", se.payment_intent(invoice.pk, amount=10000))
    assert deliver(client, django_capture_on_commit_callbacks, payload).status_code == 200
    stored = WebhookEvent.objects.get()
    for _ in range(WEBHOOK_MAX_ATTEMPTS - 1):  # the task's retries
        with pytest.raises(WebhookHandlerFailed, match="bug in handler"):
            webhook_event_process(webhook_event_id=stored.pk)
    stored.refresh_from_db()
    assert (stored.status, stored.attempts) == ("failed", WEBHOOK_MAX_ATTEMPTS)
    assert "bug in handler" in stored.error
    assert Payment.objects.count() == 0
    # out of attempts: the sweep leaves it to staff (admin "reprocess")
    stored.received_at = timezone.now() - timedelta(hours=1)
    stored.save()
    assert webhook_events_sweep_task.delay().get() == 0


def test_an_event_left_behind_by_a_dead_worker_is_processed_by_the_sweep(invoice):
    # given an event stored but never processed (its worker died before committing)
    payload = se.event("payment_intent.succeeded", se.payment_intent(invoice.pk, amount=10000))
    WebhookEvent.objects.create(
        provider="stripe",
        event_id=payload["id"],
        event_type=payload["type"],
        body=json.dumps(payload),
        received_at=timezone.now() - timedelta(minutes=10),
    )
    # when the sweep runs
    assert webhook_events_sweep_task.delay().get() == 1
    # then it is processed, once
    assert WebhookEvent.objects.get().status == "processed"
    assert webhook_events_sweep_task.delay().get() == 0
    assert Payment.objects.count() == 1


def test_processing_a_processed_event_again_changes_nothing(
    client, invoice, django_capture_on_commit_callbacks
):
    payload = se.event("payment_intent.succeeded", se.payment_intent(invoice.pk, amount=10000))
    deliver(client, django_capture_on_commit_callbacks, payload)
    stored = WebhookEvent.objects.get()
    webhook_event_process(webhook_event_id=stored.pk)
    stored.refresh_from_db()
    assert stored.attempts == 1
    assert Payment.objects.count() == 1


# --- bad input: 400 or ignored, and nothing applied ---------------------------------------


def _good(invoice_id) -> dict:
    return se.event("payment_intent.succeeded", se.payment_intent(invoice_id, amount=10000))


def _header(**parts) -> str:
    return ",".join(f"{key}={value}" for key, value in parts.items())


# The signing clock, frozen on a whole second while a case signs and is verified: a header's
# `t` is whole seconds, so on a running clock "now + 301" truncated could land within the
# 300 s tolerance of the verifier's later, fractional now (it did, when the clock crossed a
# second between signing and verifying). Frozen, 301 s is outside and 300 s inside, exactly.
SIGNING_CLOCK = 1_796_000_000


@pytest.fixture
def frozen_clock():
    with time_machine.travel(SIGNING_CLOCK, tick=False):
        yield SIGNING_CLOCK


SIGNATURE_CASES = {
    "missing header": lambda body: {},
    "empty header": lambda body: {"HTTP_STRIPE_SIGNATURE": ""},
    "wrong secret": lambda body: se.signed(body, secret="whsec_other")[1],
    "stale by 301 s": lambda body: se.signed(body, timestamp=int(time.time()) - 301)[1],
    "stale by a day": lambda body: se.signed(body, timestamp=int(time.time()) - 86400)[1],
    "future by 301 s": lambda body: se.signed(body, timestamp=int(time.time()) + 301)[1],
    "future by a day": lambda body: se.signed(body, timestamp=int(time.time()) + 86400)[1],
    "no timestamp": lambda body: {"HTTP_STRIPE_SIGNATURE": _header(v1="00" * 32)},
    "timestamp not a number": lambda body: {"HTTP_STRIPE_SIGNATURE": _header(t="soon", v1="00")},
    "no v1 signature": lambda body: {"HTTP_STRIPE_SIGNATURE": _header(t=int(time.time()), v0="ab")},
    "garbage v1": lambda body: {"HTTP_STRIPE_SIGNATURE": _header(t=int(time.time()), v1="zz")},
}


@pytest.mark.parametrize("case", SIGNATURE_CASES)
def test_bad_signatures_are_refused(client, invoice, frozen_clock, case):
    body = json.dumps(_good(invoice.pk))
    response = client.post(
        URL, body, content_type="application/json", **SIGNATURE_CASES[case](body)
    )
    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0
    assert Payment.objects.count() == 0


@pytest.mark.parametrize("offset", [-300, 300], ids=["stale by 300 s", "future by 300 s"])
def test_a_signature_at_the_tolerance_edge_is_taken(
    client, invoice, frozen_clock, offset, django_capture_on_commit_callbacks
):
    """The other side of the edge the 301 s cases refuse: 300 s either way is still in."""
    timestamp = frozen_clock + offset
    response = deliver(
        client, django_capture_on_commit_callbacks, _good(invoice.pk), timestamp=timestamp
    )
    assert response.status_code == 200
    assert Payment.objects.count() == 1


def test_a_tampered_body_is_refused(client, invoice):
    body, headers = se.signed(_good(invoice.pk))
    tampered = body.replace("10000", "1")
    assert client.post(URL, tampered, content_type="application/json", **headers).status_code == 400
    assert Payment.objects.count() == 0


MALFORMED_BODIES = {
    "not json": "{not json",
    "truncated": '{"id": "evt_1", "type": "payment_intent.succeeded"',
    "a list": "[]",
    "a string": '"event"',
    "a number": "42",
    "empty object": "{}",
    "no id": json.dumps({"type": "x", "data": {"object": {}}}),
    "no type": json.dumps({"id": "evt_1", "data": {"object": {}}}),
    "id not a string": json.dumps({"id": 7, "type": "x", "data": {"object": {}}}),
    "data not an object": json.dumps({"id": "evt_1", "type": "x", "data": []}),
    "no data.object": json.dumps({"id": "evt_1", "type": "x", "data": {}}),
}


@pytest.mark.parametrize("case", MALFORMED_BODIES)
def test_malformed_bodies_are_refused(client, case):
    body, headers = se.signed(MALFORMED_BODIES[case])
    assert client.post(URL, body, content_type="application/json", **headers).status_code == 400
    assert WebhookEvent.objects.count() == 0


def _intent_with_metadata(metadata) -> dict:
    intent = se.payment_intent(0, amount=10000)
    intent["metadata"] = metadata
    return intent


UNKNOWN_INVOICE_CASES = {
    "no metadata": lambda inv: _intent_with_metadata({}),
    "null metadata": lambda inv: _intent_with_metadata(None),
    "empty invoice id": lambda inv: _intent_with_metadata({"invoice_id": ""}),
    "non-numeric invoice id": lambda inv: _intent_with_metadata({"invoice_id": "abc"}),
    "float invoice id": lambda inv: _intent_with_metadata({"invoice_id": "1.5"}),
    "missing invoice": lambda inv: _intent_with_metadata({"invoice_id": str(inv.pk + 999)}),
    "negative invoice id": lambda inv: _intent_with_metadata({"invoice_id": "-1"}),
    "zero invoice id": lambda inv: _intent_with_metadata({"invoice_id": "0"}),
    "other key": lambda inv: _intent_with_metadata({"order": str(inv.pk)}),
    "list metadata value": lambda inv: _intent_with_metadata({"invoice_id": [inv.pk]}),
}


@pytest.mark.parametrize("case", UNKNOWN_INVOICE_CASES)
def test_events_for_unknown_invoices_are_ignored(
    client, invoice, django_capture_on_commit_callbacks, case
):
    payload = se.event("payment_intent.succeeded", UNKNOWN_INVOICE_CASES[case](invoice))
    assert deliver(client, django_capture_on_commit_callbacks, payload).status_code == 200
    assert WebhookEvent.objects.get().status == "ignored"
    assert Payment.objects.count() == 0
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.UNPAID


def test_endpoint_answers_404_when_stripe_is_not_configured(client, settings):
    settings.STRIPE_WEBHOOK_SECRET = ""
    body, headers = se.signed(se.event("x", {}))
    assert client.post(URL, body, content_type="application/json", **headers).status_code == 404


def test_only_post_is_accepted(client):
    assert client.get(URL).status_code == 405
    assert reverse("webhook-stripe") == URL


def test_staff_reprocess_a_failed_event(admin_client, invoice, django_capture_on_commit_callbacks):
    payload = se.event("payment_intent.succeeded", se.payment_intent(invoice.pk, amount=10000))
    stored = WebhookEvent.objects.create(
        provider="stripe",
        event_id=payload["id"],
        event_type=payload["type"],
        body=json.dumps(payload),
        status="failed",
        attempts=8,
        error="was broken",
    )
    changelist = reverse("admin:payments_webhookevent_changelist")
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(changelist, {"action": "reprocess", "_selected_action": [stored.pk]})
    stored.refresh_from_db()
    assert (stored.status, stored.attempts) == ("processed", 1)
    assert Payment.objects.count() == 1
