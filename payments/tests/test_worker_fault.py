"""A worker killed in the middle of processing a webhook loses nothing (PostgreSQL + Redis)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from django.utils import timezone

from billing.tasks import webhook_event_process_task, webhook_events_sweep_task
from billing_portal.common.testing import celery_worker, database_url_for_tests, wait_for
from invoices.models import Invoice
from payments.models import Payment, WebhookEvent
from payments.tests import stripe_events as se

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def test_a_worker_killed_mid_processing_leaves_the_event_to_be_processed_later(
    tmp_path, invoice_factory
):
    # given a stored webhook event for an unpaid invoice
    invoice = invoice_factory(amount="10", description="x")
    payload = se.event("payment_intent.succeeded", se.payment_intent(invoice.pk, amount=1000))
    event = WebhookEvent.objects.create(
        provider="stripe",
        event_id=payload["id"],
        event_type=payload["type"],
        body=json.dumps(payload),
    )

    # and the invoice row locked by another session, so the worker blocks mid-transaction
    blocker = psycopg.connect(database_url_for_tests(scheme="postgresql"))
    blocker.execute("SELECT id FROM invoices_invoice WHERE id = %s FOR UPDATE", [invoice.pk])

    try:
        with celery_worker(
            tmp_path / "worker.log", env={"DATABASE_URL": database_url_for_tests()}
        ) as (
            queue,
            worker,
        ):
            webhook_event_process_task.apply_async(args=[event.pk], queue=queue)

            # when the worker is inside its transaction, waiting for the lock...
            # (watched from a separate autocommit session: pg_stat_activity is a snapshot
            # taken once per transaction, so the blocker's own transaction would never see
            # a change)
            watcher = psycopg.connect(blocker.info.dsn, autocommit=True)

            def worker_is_waiting() -> bool:
                rows = watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                ).fetchone()
                return rows[0] > 0

            waiting = wait_for(worker_is_waiting, 30)
            watcher.close()
            assert waiting, (tmp_path / "worker.log").read_text()
            # ...it is killed outright
            worker.kill()
            worker.wait(timeout=30)
    finally:
        blocker.rollback()
        blocker.close()

    # then nothing was applied and the event is still waiting, not lost
    event.refresh_from_db()
    assert (event.status, event.attempts) == ("received", 0)
    assert Payment.objects.count() == 0
    assert Invoice.objects.get(pk=invoice.pk).status == "unpaid"

    # and the sweep processes it, once
    WebhookEvent.objects.filter(pk=event.pk).update(
        received_at=timezone.now() - timedelta(minutes=10)
    )
    assert webhook_events_sweep_task.apply().get() == 1
    event.refresh_from_db()
    assert event.status == "processed"
    assert Payment.objects.count() == 1
