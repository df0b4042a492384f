"""The transactional outbox (billing_portal/common/outbox.py): written with the caller's
transaction, published after commit or by the relay, never twice by racing relays, and
consumed once by a task whose effect must not repeat."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta

import pytest
from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from kombu.connection import Connection

from billing import services as billing_services
from billing_portal.common import outbox
from billing_portal.common.context import request_id_reset, request_id_set
from billing_portal.common.models import OutboxMessage
from billing_portal.common.outbox import (
    OUTBOX_HEADER,
    RELAY_GRACE,
    outbox_enqueue,
    outbox_relay,
    task_publish_on_commit,
)
from billing_portal.common.tasks import email_send_task
from billing_portal.common.testing import RedisServer, celery_broker, run_together
from provisioning.errors import NoServerCapacity
from provisioning.tests.factories import ServerFactory, panel_product

EMAIL = "common.email_send"
# A task that is not run-once (most of them: webhook processing, say).
OPERATION = "provisioning.operation_run"


def _email(to: str = "a@example.com") -> dict:
    return {"to": [to], "name": "account_password_changed", "context": {"email": to}}


# --- in-process (eager: the embedded default and the test suite) -------------------------


@pytest.mark.django_db
def test_in_process_the_task_runs_after_commit_and_the_row_is_sent(
    mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        message = outbox_enqueue(EMAIL, kwargs=_email())
        assert OutboxMessage.objects.filter(pk=message.pk).exists()
        assert mailoutbox == []  # nothing before commit
    assert len(mailoutbox) == 1
    message.refresh_from_db()
    assert message.sent_at is not None
    assert message.consumed_at is not None
    assert message.attempts == 1


@pytest.mark.django_db
def test_a_rolled_back_transaction_leaves_no_message(
    mailoutbox, django_capture_on_commit_callbacks
):
    def failing_change() -> None:
        with transaction.atomic():
            outbox_enqueue(EMAIL, kwargs=_email())
            raise RuntimeError("the change failed")

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        failing_change()
    assert not OutboxMessage.objects.exists()
    assert mailoutbox == []


@pytest.mark.django_db
def test_a_dedupe_key_already_queued_returns_that_message(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = outbox_enqueue(EMAIL, kwargs=_email(), dedupe_key="welcome:1")
        second = outbox_enqueue(EMAIL, kwargs=_email("b@example.com"), dedupe_key="welcome:1")
    assert second.pk == first.pk
    assert OutboxMessage.objects.count() == 1


@pytest.mark.django_db
def test_the_request_id_is_kept_on_the_row_for_a_relay_sending_it_later(
    django_capture_on_commit_callbacks,
):
    token = request_id_set("req-42")
    try:
        with django_capture_on_commit_callbacks(execute=False):
            message = outbox_enqueue(EMAIL, kwargs=_email(), headers={"other": "x"})
    finally:
        request_id_reset(token)
    assert OutboxMessage.objects.get(pk=message.pk).headers == {
        "request_id": "req-42",
        "other": "x",
    }


@pytest.mark.django_db
def test_an_email_delivered_twice_is_sent_once(mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = outbox_enqueue(EMAIL, kwargs=_email())
    assert len(mailoutbox) == 1
    # The broker hands the same message over again (a relay's commit was lost after it
    # published): the task finds the row consumed and sends nothing.
    again = email_send_task.apply(kwargs=_email(), headers={OUTBOX_HEADER: message.pk})
    assert again.get() is False
    assert len(mailoutbox) == 1
    # Without an outbox row (sent directly), it just sends.
    assert email_send_task.apply(kwargs=_email()).get() is True
    assert len(mailoutbox) == 2


@pytest.mark.django_db
def test_a_failing_email_is_not_recorded_sent(
    mailoutbox, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "billing_portal.tests.test_outbox.Broken"
    with django_capture_on_commit_callbacks(execute=True):
        message = outbox_enqueue(EMAIL, kwargs=_email())  # the request is not failed by it
    message.refresh_from_db()
    assert message.consumed_at is None  # so a retry of the task sends it


class Broken:
    """An email backend whose server refuses every message."""

    def __init__(self, **kwargs) -> None:
        pass

    def send_messages(self, messages) -> int:
        raise ConnectionRefusedError("smtp is down")


def test_the_relay_runs_every_30_seconds_from_beat():
    entry = settings.CELERY_BEAT_SCHEDULE["common.outbox_relay"]
    assert entry["task"] == "common.outbox_relay"
    assert entry["schedule"] == timedelta(seconds=30)


# --- on a broker (a redis-server of the test's own) ---------------------------------------


@pytest.fixture
def broker(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    try:
        with celery_broker(server.url):
            yield server
    finally:
        server.stop()


def _queued(broker: RedisServer, queue: str = "default") -> list[dict]:
    """The task messages waiting in a queue of the broker (the Redis transport's list)."""
    import redis

    client = redis.Redis.from_url(broker.url)
    try:
        return [json.loads(raw) for raw in client.lrange(queue, 0, -1)]
    finally:
        client.close()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_enqueueing_is_fast_and_the_row_waits(broker):
    broker.stop()
    started = time.monotonic()
    with transaction.atomic():
        message = outbox_enqueue(EMAIL, kwargs=_email())
    elapsed = time.monotonic() - started  # the commit includes the publishing attempt
    assert elapsed < 1.5, elapsed
    message.refresh_from_db()
    assert message.sent_at is None
    assert message.attempts == 1
    assert "Connection refused" in message.last_error

    broker.start()
    assert outbox_relay() == 1
    message.refresh_from_db()
    assert message.sent_at is not None
    assert message.attempts == 2
    assert message.last_error == ""
    assert len(_queued(broker)) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_relays_publish_every_row_exactly_once(broker):
    broker.stop()
    for n in range(30):
        with transaction.atomic():
            outbox_enqueue(EMAIL, kwargs=_email(f"r{n}@example.com"))
    assert OutboxMessage.objects.filter(sent_at__isnull=True).count() == 30
    broker.start()

    counts = run_together([lambda: outbox_relay(batch=4) for _ in range(3)])
    assert sum(counts) == 30, counts
    assert outbox_relay() == 0  # and later passes find nothing left
    recipients = sorted(m["headers"]["kwargsrepr"] for m in _queued(broker))
    assert len(recipients) == 30 == len(set(recipients))
    assert not OutboxMessage.objects.filter(sent_at__isnull=True).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_message_carries_its_row_id_headers_queue_and_countdown(broker):
    with transaction.atomic():
        later = outbox_enqueue(
            EMAIL,
            kwargs=_email(),
            queue="panels",
            countdown=600,
            headers={"request_id": "req-42"},
        )
    (message,) = _queued(broker, "panels")
    assert message["headers"][OUTBOX_HEADER] == later.pk
    assert message["headers"]["request_id"] == "req-42"
    assert message["headers"]["eta"] is not None  # not run before its countdown
    _args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
    assert kwargs == _email()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_row_that_cannot_be_published_does_not_hold_up_the_others(broker):
    broker.stop()
    with transaction.atomic():
        unknown = outbox_enqueue("common.no_such_task")
        known = outbox_enqueue(EMAIL, kwargs=_email())
    broker.start()
    assert outbox_relay() == 1
    unknown.refresh_from_db()
    known.refresh_from_db()
    assert known.sent_at is not None
    assert unknown.sent_at is None
    assert "NotRegistered" in unknown.last_error


@pytest.mark.parametrize(
    "queue_it",
    [
        lambda: outbox_enqueue(EMAIL, kwargs=_email()),
        lambda: task_publish_on_commit("provisioning.operation_run", [1]),
    ],
    ids=["outbox", "direct"],
)
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_publish_after_commit_tries_a_broker_that_is_down_once(broker, monkeypatch, queue_it):
    broker.stop()
    connects = []
    factory = Connection._connection_factory

    def counted(self):
        connects.append(self.as_uri())
        return factory(self)

    monkeypatch.setattr(Connection, "_connection_factory", counted)
    started = time.monotonic()
    with transaction.atomic():
        queue_it()
    assert time.monotonic() - started < 1.0
    assert len(connects) == 1, connects  # no retries: the request goes on at once


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_order_refused_for_capacity_is_refused_with_the_broker_down(broker, customer):
    # The staff alert is queued outside the order's transaction (which rolls back); with
    # the broker down it is logged, and the customer still gets the refusal, not a 500.
    product = panel_product(ServerFactory(capacity_accounts=1, current_accounts=1))
    request = billing_services.OrderRequest(product=product, cycle="monthly", currency="USD")
    broker.stop()
    with pytest.raises(NoServerCapacity):
        billing_services.order_place(customer=customer, request=request)


def _statements(queries: CaptureQueriesContext) -> list[str]:
    """The first word of each statement run (BEGIN, SELECT, INSERT, UPDATE, COMMIT...)."""
    return [query["sql"].split()[0] for query in queries.captured_queries]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_after_commit_the_row_is_published_as_written_and_marked_sent_in_one_update(broker):
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        message = outbox_enqueue(OPERATION, [7])
    # No re-select and no lock of the row just written: insert, commit, publish, one update.
    assert _statements(queries) == ["BEGIN", "INSERT", "COMMIT", "UPDATE"], queries
    (queued,) = _queued(broker, "panels")
    assert queued["headers"][OUTBOX_HEADER] == message.pk
    assert queued["headers"]["ignore_result"] is True  # nothing waits for a result
    message.refresh_from_db()
    assert message.sent_at is not None
    assert (message.attempts, message.last_error) == (1, "")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_run_once_row_is_published_under_its_lock_after_commit(broker):
    # Its consumer holds the row's lock around the effect: marking it without the lock
    # could wait for an email to be sent; with SKIP LOCKED the request never waits.
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        outbox_enqueue(EMAIL, kwargs=_email())
    assert any("SKIP LOCKED" in q["sql"] for q in queries.captured_queries), [
        q["sql"] for q in queries.captured_queries
    ]
    assert len(_queued(broker)) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_sweep_leaves_a_row_to_its_publish_after_commit_for_the_grace(broker, monkeypatch):
    # The committing process has not published yet (or died before it could).
    monkeypatch.setattr(outbox, "_publish_after_commit", lambda *args: None)
    with transaction.atomic():
        message = outbox_enqueue(OPERATION, [7])
    assert outbox_relay() == 0  # its publish after commit is under way: not twice
    OutboxMessage.objects.filter(pk=message.pk).update(
        created_at=timezone.now() - RELAY_GRACE - timedelta(seconds=1)
    )
    assert outbox_relay() == 1  # it never came: the sweep publishes it
    assert len(_queued(broker, "panels")) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_staff_relaying_chosen_rows_need_not_wait_for_the_grace(broker, monkeypatch):
    monkeypatch.setattr(outbox, "_publish_after_commit", lambda *args: None)
    with transaction.atomic():
        message = outbox_enqueue(OPERATION, [7])
    assert outbox_relay(ids=[message.pk]) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_relay_batch_runs_the_same_queries_for_10_rows_as_for_100(broker, monkeypatch):
    monkeypatch.setattr(outbox, "_publish_after_commit", lambda *args: None)

    def relay_queries(count: int) -> list[str]:
        with transaction.atomic():
            for n in range(count):
                outbox_enqueue(OPERATION, [n])
        OutboxMessage.objects.update(created_at=timezone.now() - 2 * RELAY_GRACE)
        with CaptureQueriesContext(connection) as queries:
            assert outbox_relay(batch=500) == count
        return _statements(queries)

    ten, hundred = relay_queries(10), relay_queries(100)
    # Lock the batch, mark the published rows sent in one update, commit.
    assert ten == hundred == ["BEGIN", "SELECT", "UPDATE", "COMMIT"], (ten, hundred)
    assert len(_queued(broker, "panels")) == 110
    assert not OutboxMessage.objects.filter(sent_at__isnull=True).exists()
    assert set(OutboxMessage.objects.values_list("attempts", flat=True)) == {1}


def test_threads_asking_for_a_task_whose_module_is_not_imported_yet_all_get_it(monkeypatch):
    # Celery's task discovery runs once per process: a second caller returns at once, even
    # while the first is still importing. A gthread worker's first requests raced it.
    app = current_app._get_current_object()
    name = "common.test_not_imported_yet"
    started = []

    def discovery() -> None:
        if started:
            return
        started.append(True)
        time.sleep(0.2)
        app.tasks[name] = email_send_task

    monkeypatch.setattr(app.loader, "import_default_modules", discovery)
    try:
        found = run_together([lambda: outbox._task(name) for _ in range(4)])
    finally:
        app.tasks.pop(name, None)
    assert found == [email_send_task] * 4, found
