"""A batch written to the outbox at once (`outbox_enqueue_many`, the billing run's emails):
one INSERT, one message after commit, every row still sent once by the relay's rules."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from billing_portal.common import outbox
from billing_portal.common.models import OutboxMessage
from billing_portal.common.outbox import RELAY_IDS_TASK, outbox_enqueue_many

pytestmark = pytest.mark.django_db


def _emails(count: int) -> list[dict]:
    return [
        {"to": [f"{n}@example.com"], "name": "account_password_changed", "context": {"email": ""}}
        for n in range(count)
    ]


def test_a_batch_is_one_insert_and_runs_in_process_after_commit(
    mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with CaptureQueriesContext(connection) as queries, transaction.atomic():
            rows = outbox_enqueue_many("common.email_send", _emails(3))
        statements = [q["sql"] for q in queries if "SAVEPOINT" not in q["sql"]]
        assert len(statements) == 1
        assert statements[0].startswith('INSERT INTO "common_outboxmessage"')
        assert len(rows) == 3
    assert len(callbacks) == 1
    assert OutboxMessage.objects.filter(sent_at__isnull=False).count() == 3
    assert sorted(m.to[0] for m in mailoutbox) == [f"{n}@example.com" for n in range(3)]


def test_with_a_broker_one_message_takes_the_batch_to_a_worker(
    django_capture_on_commit_callbacks, monkeypatch
):
    from celery import current_app

    published: list[tuple[str, list]] = []

    class Task:
        def __init__(self, name: str) -> None:
            self.name = name

        def apply_async(self, args, *rest, **options):
            published.append((self.name, args))

    monkeypatch.setattr(outbox, "_task", Task)
    conf = current_app._get_current_object().conf
    eager, conf.task_always_eager = conf.task_always_eager, False
    try:
        with django_capture_on_commit_callbacks(execute=True):
            rows = outbox_enqueue_many("common.email_send", _emails(4))
    finally:
        conf.task_always_eager = eager
    assert published == [(RELAY_IDS_TASK, [[row.pk for row in rows]])]
    assert OutboxMessage.objects.filter(sent_at__isnull=True).count() == 4  # the worker's


def test_nothing_to_write_writes_nothing(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        assert outbox_enqueue_many("common.email_send", []) == []
    assert callbacks == []
    assert not OutboxMessage.objects.exists()


def test_the_relay_ids_task_publishes_those_rows(mailoutbox, django_capture_on_commit_callbacks):
    from billing_portal.common.tasks import outbox_relay_ids_task

    rows = OutboxMessage.objects.bulk_create(
        OutboxMessage(task_name="common.email_send", kwargs=kwargs) for kwargs in _emails(2)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox_relay_ids_task([rows[0].pk]) == 1
    assert [m.to for m in mailoutbox] == [["0@example.com"]]
