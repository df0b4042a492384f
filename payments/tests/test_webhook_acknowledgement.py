"""What acknowledging a webhook costs, on the Redis broker production uses (a redis-server of
the test's own, eager mode off): verify, store, queue, answer; one statement, and no
result-backend subscription for a result nobody reads. And what it still guarantees: stored
once, never lost (a publish that failed, or a message no worker took, is relayed), a
redelivery writes nothing."""

from __future__ import annotations

import json
from datetime import timedelta

import psycopg
import pytest
from celery import current_app
from celery.app.task import Context
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing_portal.common.models import OutboxMessage
from billing_portal.common.outbox import OUTBOX_HEADER, RELAY_GRACE, outbox_delivered, outbox_relay
from billing_portal.common.testing import (
    RedisServer,
    celery_broker,
    celery_worker,
    database_url_for_tests,
    wait_for,
)
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


def _statements(queries: CaptureQueriesContext) -> list[str]:
    return [query["sql"].split()[0] for query in queries.captured_queries]


def test_a_webhook_is_stored_and_queued_in_one_statement_whatever_came_before(
    client, broker, monkeypatch
):
    _deliver(client, "evt_warm")  # the process has imported its tasks, as a server has
    health_checks = []
    wrapper = type(connections["default"])
    is_usable = wrapper.is_usable
    monkeypatch.setattr(
        wrapper, "is_usable", lambda self: health_checks.append(1) or is_usable(self)
    )
    counts = []
    for n in range(3):
        # What a server does as each request starts: the connection's health check is due.
        connection.close_if_unusable_or_obsolete()
        with CaptureQueriesContext(connection) as queries:
            response = _deliver(client, f"evt_{n}")
        assert response.status_code == 200, response.content
        assert response.json() == {"received": True, "duplicate": False}
        counts.append(_statements(queries))
    # The event and its outbox row in one statement (autocommit: no BEGIN, no COMMIT), then
    # the publish; no mark-sent UPDATE (the processing task marks it), no select, no lock,
    # no session or user looked up, and no `SELECT 1` health check before it.
    assert counts == [["WITH"]] * 3, counts
    assert health_checks == []
    assert WebhookEvent.objects.count() == 4
    outbox = OutboxMessage.objects.filter(task_name=WEBHOOK_PROCESS_TASK)
    rows = {row.args[0]: row for row in outbox}
    assert set(rows) == set(WebhookEvent.objects.values_list("pk", flat=True))
    assert {(row.sent_at, row.attempts, row.last_error) for row in rows.values()} == {(None, 0, "")}
    queued = sorted(message["headers"][OUTBOX_HEADER] for message in _queued(broker))
    assert queued == sorted(row.pk for row in rows.values())


def test_a_duplicate_delivery_stores_and_queues_nothing_new(client, broker):
    assert _deliver(client, "evt_twice").json() == {"received": True, "duplicate": False}
    with CaptureQueriesContext(connection) as queries:
        response = _deliver(client, "evt_twice")
    assert response.status_code == 200, response.content
    assert response.json() == {"received": True, "duplicate": True}
    # The statement inserted nothing (ON CONFLICT DO NOTHING); the stored event is read.
    assert _statements(queries) == ["WITH", "SELECT"], queries.captured_queries
    (event,) = WebhookEvent.objects.filter(event_id="evt_twice")
    (row,) = OutboxMessage.objects.all()
    assert row.args == [event.pk]
    assert [message["headers"][OUTBOX_HEADER] for message in _queued(broker)] == [row.pk]


def test_a_dead_database_connection_is_replaced_and_the_event_stored_once(client, broker):
    _deliver(client, "evt_before")
    victim = connection.connection.info.backend_pid
    with psycopg.connect(database_url_for_tests(scheme="postgresql"), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [victim])
    connection.close_if_unusable_or_obsolete()  # a new request: its health check is due
    response = _deliver(client, "evt_after_restart")
    assert response.status_code == 200, response.content
    assert connection.connection.info.backend_pid != victim
    event = WebhookEvent.objects.get(event_id="evt_after_restart")
    (row,) = OutboxMessage.objects.filter(args=[event.pk])
    assert row.pk in [message["headers"][OUTBOX_HEADER] for message in _queued(broker)]


def test_a_webhook_whose_publish_fails_is_stored_and_relayed_later(client, broker):
    broker.stop()
    response = _deliver(client, "evt_broker_down")
    assert response.status_code == 200, response.content  # stored: the provider is answered
    event = WebhookEvent.objects.get(event_id="evt_broker_down")
    row = OutboxMessage.objects.get(args=[event.pk])
    assert (row.sent_at, row.attempts) == (None, 1)
    assert "Connection refused" in row.last_error  # a failure: the sweep takes it at once

    broker.start()
    assert outbox_relay() == 1
    row.refresh_from_db()
    assert row.sent_at is not None
    assert [message["headers"][OUTBOX_HEADER] for message in _queued(broker)] == [row.pk]


def test_a_message_no_worker_took_within_the_grace_is_published_again_once(client, broker):
    _deliver(client, "evt_unconsumed")
    (row,) = OutboxMessage.objects.all()
    assert outbox_relay() == 0  # published after commit, young: left alone
    OutboxMessage.objects.filter(pk=row.pk).update(
        created_at=timezone.now() - RELAY_GRACE - timedelta(seconds=1)
    )
    # No worker marked it delivered (or the process died before publishing): once more,
    # and marked sent, so a long outage of the workers costs one duplicate, not one a pass.
    assert outbox_relay() == 1
    assert outbox_relay() == 0
    row.refresh_from_db()
    assert row.sent_at is not None
    assert [message["headers"][OUTBOX_HEADER] for message in _queued(broker)] == [row.pk] * 2


def test_the_processing_task_marks_its_message_delivered(client, broker):
    _deliver(client, "evt_consumed")
    (row,) = OutboxMessage.objects.all()
    (message,) = _queued(broker)
    # The task's request as a worker builds it from the message (not eager).
    request = Context(headers=message["headers"], is_eager=False)
    outbox_delivered(request)
    row.refresh_from_db()
    assert row.sent_at is not None
    assert row.attempts == 1
    OutboxMessage.objects.filter(pk=row.pk).update(
        created_at=timezone.now() - RELAY_GRACE - timedelta(seconds=1)
    )
    assert outbox_relay() == 0  # delivered: never published again


@pytest.mark.redis
def test_a_worker_processing_the_event_marks_its_message_delivered(client, broker, tmp_path):
    _deliver(client, "evt_worker")
    (row,) = OutboxMessage.objects.all()
    env = {"DATABASE_URL": database_url_for_tests(), "REDIS_URL": broker.url}
    with celery_worker(tmp_path / "worker.log", env=env, queue="default"):
        marked = wait_for(
            lambda: OutboxMessage.objects.filter(pk=row.pk, sent_at__isnull=False).exists(), 60
        )
    assert marked, (tmp_path / "worker.log").read_text()[-3000:]
    assert WebhookEvent.objects.get(event_id="evt_worker").attempts == 1


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
