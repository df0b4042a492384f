"""Celery wiring: configuration, routing, the beat schedule, and a real worker on Redis."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from billing_portal.celery import app as celery_app
from billing_portal.common.tasks import email_send_task
from billing_portal.common.testing import celery_worker

ROOT = Path(__file__).resolve().parents[2]


def test_celery_configuration_follows_the_design():
    conf = celery_app.conf
    assert conf.task_serializer == "json"
    assert conf.result_serializer == "json"
    assert conf.accept_content == ["json"]
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.task_time_limit == 300
    assert conf.task_soft_time_limit == 240
    assert {queue.name for queue in conf.task_queues} == {"default", "panels", "backups"}
    assert conf.task_default_queue == "default"


def test_a_broker_that_is_down_cannot_hold_up_a_publish():
    # Issue 12: results are not kept (publishing never waits on the result backend), one
    # connect try with a one-second timeout, few publish retries (requests pass retry=False).
    conf = celery_app.conf
    assert conf.task_ignore_result is True
    assert conf.broker_connection_timeout == 1
    assert conf.broker_transport_options["socket_connect_timeout"] == 1
    assert conf.broker_transport_options["max_retries"] == 0
    assert conf.task_publish_retry_policy["max_retries"] <= 2


def test_tasks_are_routed_to_their_queues():
    router = celery_app.amqp.router
    assert router.route({}, "provisioning.operation_run")["queue"].name == "panels"
    assert router.route({}, "backups.site_backup")["queue"].name == "backups"
    assert router.route({}, "common.email_send")["queue"].name == "default"


def test_every_scheduled_task_exists():
    celery_app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in celery_app.tasks, entry["task"]


def test_without_a_broker_tasks_run_in_process(db, mailoutbox):  # db: overrides are read
    # The embedded default (no REDIS_URL) and the test run both execute tasks eagerly.
    assert celery_app.conf.task_always_eager
    email_send_task.delay(
        to=["someone@example.com"],
        name="account_password_changed",
        context={"email": "someone@example.com"},
    )
    assert len(mailoutbox) == 1


def test_login_logs_prune_task_runs(db):
    from accounts.tasks import login_logs_prune_task

    assert login_logs_prune_task.delay().get() == 0


@pytest.fixture
def real_worker(tmp_path):
    """A real `celery worker` process on the Redis broker, consuming a private queue."""
    # django-environ drops the first slash of the path, hence four.
    with celery_worker(tmp_path / "worker.log", env={"EMAIL_URL": f"filemail:///{tmp_path}"}) as (
        queue,
        _process,
    ):
        yield queue, tmp_path


@pytest.mark.redis
def test_a_real_worker_runs_a_task_to_completion(real_worker):
    queue, mail_dir = real_worker
    result = email_send_task.apply_async(
        kwargs={
            "to": ["worker@example.com"],
            "name": "account_password_changed",
            "context": {"email": "worker@example.com"},
        },
        queue=queue,
        ignore_result=False,  # results are kept only where code reads them, as here
    )
    try:
        result.get(timeout=60)
    except Exception:
        print((mail_dir / "worker.log").read_text())  # noqa: T201 - shown on failure
        raise
    assert result.successful()
    sent = [p for p in mail_dir.iterdir() if p.suffix == ".log" and p.name != "worker.log"]
    assert len(sent) == 1
    assert "worker@example.com" in sent[0].read_text()
