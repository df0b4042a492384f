"""A worker that loses its database while processing webhooks applies them within seconds
of the database coming back, without waiting for the five-minute sweep (PostgreSQL + Redis).

The worker reaches PostgreSQL through a loopback TCP relay that the test can cut: while cut,
it drops every open connection and closes each new one at once, as a network partition or a
restarting database server would."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection
from djmoney.money import Money

from accounts.tests.factories import CustomerFactory
from billing_portal.common.testing import celery_worker, database_url_for_tests
from invoices import services as invoice_services
from invoices.models import Invoice
from payments.models import Payment, WebhookEvent
from payments.tasks import webhook_event_process_task
from payments.tests import stripe_events as se

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

EVENTS = 5


class CuttableRelay:
    """Relays loopback TCP connections to `target`; `cut()` severs them until `restore()`."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.severed = threading.Event()
        self.open: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.severed.is_set():
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass  # the other side was cut
        finally:
            for end in (source, sink):
                end.close()

    def cut(self) -> None:
        self.severed.set()
        with self.lock:
            for end in self.open:
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()
            self.open.clear()

    def restore(self) -> None:
        self.severed.clear()

    def close(self) -> None:
        self.cut()
        self.listener.close()


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
        invoice = invoice_services.invoice_issue(invoice_id=draft.pk)
        payload = se.event(
            "payment_intent.succeeded", se.payment_intent(invoice.pk, amount=1000, pi=f"pi_{n}")
        )
        events.append(WebhookEvent.objects.create(
            provider="stripe", event_id=payload["id"], event_type=payload["type"],
            body=json.dumps(payload),
        ))  # fmt: skip
    return events


def _wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.25)
    return False


def test_events_processed_while_the_database_is_cut_are_applied_once_it_is_back(tmp_path):
    events = _events()
    db = connection.settings_dict
    relay = CuttableRelay((db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)))
    worker_database = database_url_for_tests().replace(f":{db['PORT'] or 5432}/", f":{relay.port}/")
    log = tmp_path / "worker.log"
    try:
        with celery_worker(log, env={"DATABASE_URL": worker_database}) as (queue, _):
            assert _wait_for(lambda: "ready" in log.read_text(), 60), log.read_text()
            relay.cut()
            for event in events:
                webhook_event_process_task.apply_async(args=[event.pk], queue=queue)
            time.sleep(4)  # the worker meets the outage on every event meanwhile
            assert WebhookEvent.objects.filter(status="processed").count() == 0
            relay.restore()

            def all_processed() -> bool:
                return WebhookEvent.objects.filter(status="processed").count() == EVENTS

            assert _wait_for(all_processed, 60), log.read_text()[-3000:]
    finally:
        relay.close()
    assert Payment.objects.count() == EVENTS
    assert Invoice.objects.filter(status="paid").count() == EVENTS
    assert "OperationalError" in log.read_text()  # the outage was really met
