"""What acknowledging a webhook costs, on the Redis broker production uses (a redis-server of
the test's own, eager mode off): verify, store, queue, answer; a constant, small number of
statements, and no result-backend subscription for a result nobody reads."""

from __future__ import annotations

import json

import pytest
from celery import current_app
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing_portal.common.models import OutboxMessage
from billing_portal.common.outbox import OUTBOX_HEADER
from billing_portal.common.testing import RedisServer, celery_broker
from payments.models import WebhookEvent
from payments.services.payments import WEBHOOK_PROCESS_TASK
from payments.tests import stripe_events as se

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("stripe_settings"),
]

URL = "/webhooks/stripe/"


@pytest.fixture
def broker(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    try:
        with celery_broker(server.url):
            yield server
    finally:
        server.stop()


def _queued(broker: RedisServer) -> list[dict]:
    import redis

    client = redis.Redis.from_url(broker.url)
    try:
        return [json.loads(raw) for raw in client.lrange("default", 0, -1)]
    finally:
        client.close()


def _deliver(client, event_id: str):
    payload = se.event(
        "payment_intent.succeeded", se.payment_intent(1, amount=100), event_id=event_id
    )
    body, headers = se.signed(payload)
    return client.post(URL, data=body, content_type="application/json", **headers)


def test_a_webhook_is_stored_and_queued_in_five_statements_whatever_came_before(client, broker):
    _deliver(client, "evt_warm")  # the process has imported its tasks, as a server has
    counts = []
    for n in range(3):
        with CaptureQueriesContext(connection) as queries:
            response = _deliver(client, f"evt_{n}")
        assert response.status_code == 200, response.content
        counts.append([query["sql"].split()[0] for query in queries.captured_queries])
    # Store the event and its outbox row in one transaction, publish, mark the row sent:
    # no select, no lock, no session or user looked up.
    assert counts == [["BEGIN", "INSERT", "INSERT", "COMMIT", "UPDATE"]] * 3, counts
    assert WebhookEvent.objects.count() == 4
    assert OutboxMessage.objects.filter(sent_at__isnull=False).count() == 4


def test_a_webhook_never_subscribes_to_the_result_backend(client, broker, monkeypatch):
    app = current_app._get_current_object()
    subscribed = []
    monkeypatch.setattr(
        type(app.backend), "on_task_call", lambda self, producer, task_id: subscribed.append(1)
    )
    assert app.tasks[WEBHOOK_PROCESS_TASK].ignore_result is True  # and the publish says so
    response = _deliver(client, "evt_no_result")
    assert response.status_code == 200, response.content
    assert subscribed == []
    (message,) = _queued(broker)
    assert message["headers"]["task"] == WEBHOOK_PROCESS_TASK
    assert message["headers"]["ignore_result"] is True
    event = WebhookEvent.objects.get(event_id="evt_no_result")
    outbox = OutboxMessage.objects.get(task_name=WEBHOOK_PROCESS_TASK, args=[event.pk])
    assert message["headers"][OUTBOX_HEADER] == outbox.pk
