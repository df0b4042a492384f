"""GET /healthz."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connections
from django.test import TestCase

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_and_broker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok"
    assert body["database"]["vendor"] == connections["default"].vendor
    assert body["broker"]["status"] == "ok"
    assert response["Cache-Control"].startswith("max-age=0")


def test_healthz_is_503_when_the_database_is_unreachable(client, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connections["default"], "cursor", refuse)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"] == {"status": "error", "error": "OperationalError"}


def test_healthz_reports_an_unreachable_broker_as_degraded(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"  # discard port: nothing listens
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["broker"]["status"] == "error"


@pytest.mark.redis
def test_healthz_reaches_the_real_broker(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = settings.REDIS_URL
    body = client.get("/healthz").json()
    assert body["broker"] == {"status": "ok", "mode": "broker"}


def test_healthz_only_answers_get(client):
    assert client.post("/healthz").status_code == 405


def test_a_disallowed_host_is_logged_and_never_mailed_to_staff(client, settings, mailoutbox):
    # A probe (or a scanner) naming a host the portal does not serve gets 400; staff are not
    # mailed for it (a probe every 30 s would be 2,880 mails a day per container).
    settings.ADMINS = [("Staff", "ops@example.com")]
    settings.ALLOWED_HOSTS = ["portal.example.com"]
    response = client.get("/healthz", HTTP_HOST="127.0.0.1:8000")
    assert response.status_code == 400
    assert mailoutbox == []
    with TestCase().assertLogs("django.security.DisallowedHost", "ERROR") as logged:
        client.get("/healthz", HTTP_HOST="127.0.0.1:8000")
    assert "Invalid HTTP_HOST header: '127.0.0.1:8000'" in logged.output[0]
