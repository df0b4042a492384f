"""A worker that loses its database while processing webhooks applies them within seconds
of the database coming back, without waiting for the five-minute sweep (PostgreSQL + Redis).

The worker reaches PostgreSQL through a loopback TCP relay that the test can cut
(`CuttableRelay`)."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
from django.db import connection
from djmoney.money import Money

from accounts.tests.factories import CustomerFactory
from billing import services as billing_services
from billing.tasks import webhook_event_process_task
from billing_portal.common.testing import (
    CuttableRelay,
    celery_worker,
    database_url_for_tests,
    wait_for,
)
from invoices import services as invoice_services
from invoices.models import Invoice
from payments.models import Payment, WebhookEvent
from payments.tests import stripe_events as se

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

EVENTS = 5


def _events() -> list[WebhookEvent]:
    customer = CustomerFactory()
    events = []
    for n in range(EVENTS):
        line = invoice_services.LineDraft(
            kind="manual", description="x", unit_price=Money(Decimal("10"), "USD")
        )
        draft = invoice_services.invoice_create_draft(
            customer=customer, currency="USD", lines=[line]
        )
        invoice = billing_services.invoice_issue(invoice_id=draft.pk)
        payload = se.event(
            "payment_intent.succeeded", se.payment_intent(invoice.pk, amount=1000, pi=f"pi_{n}")
        )
        events.append(
            WebhookEvent.objects.create(
                provider="stripe",
                event_id=payload["id"],
                event_type=payload["type"],
                body=json.dumps(payload),
            )
        )
    return events


def test_events_processed_while_the_database_is_cut_are_applied_once_it_is_back(tmp_path):
    events = _events()
    db = connection.settings_dict
    relay = CuttableRelay((db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)))
    worker_database = database_url_for_tests().replace(f":{db['PORT'] or 5432}/", f":{relay.port}/")
    log = tmp_path / "worker.log"
    try:
        with celery_worker(log, env={"DATABASE_URL": worker_database}) as (queue, _):
            assert wait_for(lambda: "ready" in log.read_text(), 60), log.read_text()
            relay.cut()
            for event in events:
                webhook_event_process_task.apply_async(args=[event.pk], queue=queue)
            time.sleep(4)  # the worker meets the outage on every event meanwhile
            assert WebhookEvent.objects.filter(status="processed").count() == 0
            relay.restore()

            def all_processed() -> bool:
                return WebhookEvent.objects.filter(status="processed").count() == EVENTS

            assert wait_for(all_processed, 60), log.read_text()[-3000:]
    finally:
        relay.close()
    assert Payment.objects.count() == EVENTS
    assert Invoice.objects.filter(status="paid").count() == EVENTS
    assert "OperationalError" in log.read_text()  # the outage was really met
