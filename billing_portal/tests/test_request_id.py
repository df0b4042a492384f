"""The request id: made or taken from the trusted proxy, on every log line (plain or JSON),
in the response, and carried into the tasks a request queues (eagerly and through a real
worker)."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import shared_task
from celery.signals import after_task_publish
from django.urls import reverse

from billing_portal.celery import app as celery_app
from billing_portal.common.context import (
    REQUEST_ID_HEADER,
    request_id_get,
    request_id_reset,
    request_id_set,
)
from billing_portal.common.log import RequestIdFilter, json_formatter
from billing_portal.common.tasks import email_send_task
from billing_portal.common.testing import celery_worker, database_url_for_tests

ROOT = Path(__file__).resolve().parents[2]


@shared_task(name="tests.request_id_echo")
def request_id_echo() -> str | None:
    return request_id_get()


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the root logger writes meanwhile, formatted as LOG_FORMAT=json does."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def _records(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


# --- the web side -------------------------------------------------------------------------


def test_each_request_gets_a_new_id_in_the_response(client, db):
    first = client.get(reverse("healthz"))["X-Request-ID"]
    second = client.get(reverse("healthz"))["X-Request-ID"]
    assert len(first) == 32
    assert int(first, 16) >= 0  # hex
    assert first != second


def test_the_trusted_proxy_id_is_kept(client, db, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    response = client.get(reverse("healthz"), HTTP_X_REQUEST_ID="edge-1f2e.3d_4c")
    assert response["X-Request-ID"] == "edge-1f2e.3d_4c"


@pytest.mark.parametrize(
    "incoming",
    ["", "x" * 65, "two words", "line\nbreak", '"quoted"', "<b>", "id;drop", "é"],
)
def test_a_malformed_proxy_id_is_replaced(client, db, settings, incoming):
    settings.TRUSTED_PROXY_COUNT = 1
    response = client.get(reverse("healthz"), HTTP_X_REQUEST_ID=incoming)
    assert response["X-Request-ID"] != incoming
    assert len(response["X-Request-ID"]) == 32


def test_without_a_trusted_proxy_a_client_cannot_choose_the_id(client, db, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    response = client.get(reverse("healthz"), HTTP_X_REQUEST_ID="chosen-by-client")
    assert response["X-Request-ID"] != "chosen-by-client"


def test_the_request_line_is_logged_with_its_id_and_no_path_tokens(client, db, json_lines):
    response = client.get("/accounts/verify/MQ/a-secret-token/")
    line = next(r for r in _records(json_lines) if r["logger"] == "billing_portal.request")
    assert line["request_id"] == response["X-Request-ID"]
    assert line["level"] == "INFO"
    assert line["status"] == response.status_code
    assert "a-secret-token" not in json.dumps(line)
    assert "accounts/verify/<uidb64>/<token>/" in line["message"]
    assert request_id_get() is None  # nothing leaks past the request


# --- log formats (settings, in a fresh process) -------------------------------------------

LOG_SCRIPT = (
    "from django.test import Client; import sys; "
    "r = Client(HTTP_HOST='127.0.0.1').get('/healthz'); "
    "print(r['X-Request-ID'], file=sys.stderr)"
)


def _manage(*args: str, **variables: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "LOG_FORMAT"}
    env.update({"DEBUG": "true", "READ_DOT_ENV_FILE": "false", **variables})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_log_format_json_writes_one_json_object_a_line():
    result = _manage("shell", "-v", "0", "-c", LOG_SCRIPT, LOG_FORMAT="json")
    *lines, request_id = result.stderr.strip().splitlines()
    records = [json.loads(line) for line in lines]  # every line is JSON
    line = next(r for r in records if r["logger"] == "billing_portal.request")
    assert line["level"] == "INFO"
    assert line["message"].startswith("GET healthz 200")
    assert line["request_id"] == request_id
    assert {"time", "level", "logger", "message", "request_id"} <= set(line)


def test_plain_text_is_the_default_with_the_id_in_brackets():
    result = _manage("shell", "-v", "0", "-c", LOG_SCRIPT)
    *lines, request_id = result.stderr.strip().splitlines()
    line = next(line for line in lines if "billing_portal.request" in line)
    assert f"INFO billing_portal.request [{request_id}] GET healthz 200" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_an_unknown_log_format_stops_the_portal():
    result = _manage("check", LOG_FORMAT="xml")
    assert result.returncode != 0
    assert "LOG_FORMAT must be plain or json" in result.stderr


# --- tasks --------------------------------------------------------------------------------


def test_an_eager_task_runs_with_the_callers_id_and_leaves_it_as_it_was():
    token = request_id_set("web-request-1")
    try:
        assert request_id_echo.delay().get() == "web-request-1"
        assert request_id_get() == "web-request-1"
    finally:
        request_id_reset(token)


def test_an_explicit_header_wins_over_the_callers_id():
    token = request_id_set("relay-context")
    try:
        result = request_id_echo.apply_async(headers={REQUEST_ID_HEADER: "stored-at-enqueue"})
        assert result.get() == "stored-at-enqueue"
        assert request_id_get() == "relay-context"
    finally:
        request_id_reset(token)


def test_a_task_queued_by_no_request_gets_an_id_of_its_own():
    first, second = request_id_echo.delay().get(), request_id_echo.delay().get()
    assert len(first) == 32
    assert first != second
    assert request_id_get() is None


def _worker_lines(log: Path, task_id: str, timeout: float = 60) -> list[dict]:
    """The worker's JSON log lines about one task, once it finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        mine = [line for line in lines if task_id in line["message"]]
        if any("succeeded" in line["message"] for line in mine):
            return mine
        time.sleep(0.2)
    raise AssertionError(log.read_text())


@pytest.fixture
def published() -> Iterator[dict[str, str | None]]:
    """Task id -> the request id in its message headers, for every task published meanwhile."""
    seen: dict[str, str | None] = {}

    def record(headers: dict | None = None, **_) -> None:
        seen[headers["id"]] = headers.get(REQUEST_ID_HEADER)

    after_task_publish.connect(record, weak=False)
    try:
        yield seen
    finally:
        after_task_publish.disconnect(record)


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)  # the email is queued when the service commits
def test_a_request_id_follows_the_request_into_a_real_worker(
    client, customer, tmp_path, json_lines, published
):
    log = tmp_path / "worker.log"
    env = {
        "LOG_FORMAT": "json",
        "EMAIL_URL": f"filemail:///{tmp_path}",
        "DATABASE_URL": database_url_for_tests(),
    }  # the email task reads its outbox row
    with celery_worker(log, env=env) as (queue, _):
        default_queue = celery_app.conf.task_default_queue
        celery_app.conf.task_default_queue = queue  # where the view's email task goes
        try:
            response = client.post(
                reverse("accounts:password_reset"), {"email": customer.user.email}
            )
            # a publisher outside any request (the outbox relay) passes the id it stored
            relayed = email_send_task.apply_async(
                kwargs={
                    "to": ["relay@example.com"],
                    "name": "account_password_changed",
                    "context": {"email": "relay@example.com"},
                },
                headers={REQUEST_ID_HEADER: "stored-by-the-outbox"},
            )
        finally:
            celery_app.conf.task_default_queue = default_queue
        relayed.get(timeout=60)

        # the web request's JSON line, the message's header and the worker's line agree
        web = next(r for r in _records(json_lines) if r["logger"] == "billing_portal.request")
        assert response.status_code == 302
        assert web["request_id"] == response["X-Request-ID"]
        (task_id,) = [key for key in published if key != relayed.id]
        assert published[task_id] == web["request_id"]
        done = [line for line in _worker_lines(log, task_id) if "succeeded" in line["message"]]
        assert done[0]["request_id"] == web["request_id"]
        assert done[0]["logger"] == "celery.app.trace"

        assert published[relayed.id] == "stored-by-the-outbox"
        done = [line for line in _worker_lines(log, relayed.id) if "succeeded" in line["message"]]
        assert done[0]["request_id"] == "stored-by-the-outbox"
