"""What operators watch: the figures (database and broker, read when asked), /metrics for
Prometheus (bearer token or staff with the permission) and the admin's System status page."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from kombu import Queue
from prometheus_client.parser import text_string_to_metric_families

from accounts.models import User
from accounts.tests.factories import CustomerFactory, UserFactory
from accounts.tests.helpers import logged_in, staff_user
from billing import services as billing_services
from billing import status
from billing.models import BillingRun, RefundShortfall, TokenPurchase
from billing_portal.celery import app as celery_app
from billing_portal.common.models import PortalBackup
from billing_portal.common.testing import usd
from dnszones.models import DnsOperation
from invoices import services as invoice_services
from payments.models import WebhookEvent
from provisioning.models import ProvisioningOperation
from provisioning.tests.factories import ServerFactory, service_on

pytestmark = pytest.mark.django_db

TOKEN = "m" * 40
USD = "USD"


def _provisioning_operation(status_: str) -> ProvisioningOperation:
    server = ServerFactory()
    service = service_on(server, customer=CustomerFactory(), status="failed")
    return ProvisioningOperation.objects.create(
        service=service, kind="create", idempotency_key=uuid.uuid4().hex, status=status_
    )


def _dns_operation(status_: str) -> DnsOperation:
    return DnsOperation.objects.create(
        zone_name="example.test",
        kind="create_zone",
        idempotency_key=uuid.uuid4().hex,
        status=status_,
    )


def _webhook_event(status_: str) -> WebhookEvent:
    return WebhookEvent.objects.create(
        provider="stripe", event_id=uuid.uuid4().hex, event_type="x.y", body="{}", status=status_
    )


def _token_purchase(status_: str) -> TokenPurchase:
    return TokenPurchase.objects.create(
        customer=CustomerFactory(),
        source="staff",
        status=status_,
        tokens=Decimal("500"),
        rate=Decimal("100"),
        currency=USD,
        amount=usd("0"),
        reason="Outage",
    )


def _shortfall(status_: str) -> RefundShortfall:
    line = invoice_services.LineDraft(kind="manual", description="Work", unit_price=usd("40"))
    draft = invoice_services.invoice_create_draft(
        customer=CustomerFactory(), currency=USD, lines=[line]
    )
    invoice = billing_services.invoice_issue(invoice_id=draft.pk)
    resolved = {"resolved_at": timezone.now()} if status_ == "resolved" else {}
    return RefundShortfall.objects.create(
        customer=invoice.customer,
        invoice=invoice,
        kind="credit",
        currency=USD,
        amount=usd("5"),
        description="Spent.",
        status=status_,
        **resolved,
    )


@pytest.fixture
def troubles() -> None:
    """Two of everything that needs staff, next to rows that do not."""
    for status_ in ("failed", "failed", "succeeded", "pending"):
        _provisioning_operation(status_)
    for status_ in ("failed", "failed", "succeeded", "running"):
        _dns_operation(status_)
    for status_ in ("failed", "failed", "processed", "received"):
        _webhook_event(status_)
    for status_ in ("uncertain", "failed", "delivered", "pending"):
        _token_purchase(status_)
    for status_ in ("open", "open", "resolved"):
        _shortfall(status_)


@pytest.fixture
def last_billing_run() -> BillingRun:
    started = timezone.now() - timedelta(hours=2)
    earlier = started - timedelta(days=1)
    BillingRun.objects.create(
        as_of=date(2026, 1, 1), started_at=earlier, finished_at=earlier, status="completed"
    )
    return BillingRun.objects.create(
        as_of=date(2026, 1, 2),
        started_at=started,
        finished_at=started + timedelta(seconds=95),
        status="completed_with_errors",
        errors=[{"item": "service 4"}, {"item": "service 9"}],
    )


def _view_only() -> User:
    """Staff with every view_* permission and nothing else."""
    user = UserFactory(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    return User.objects.get(pk=user.pk)


def _scrape(client: Client | None = None, **headers) -> dict[str, dict[tuple, float]]:
    """/metrics parsed: metric name -> {labels: value}."""
    response = (client or Client()).get(reverse("metrics"), **headers)
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/plain")
    parsed = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            parsed.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return parsed


def _bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


# --- the figures --------------------------------------------------------------------------


def test_the_figures_count_what_needs_staff(troubles):
    counts = status.system_figures().counts
    assert counts == status.Counts(
        failed_provisioning_operations=2,
        failed_dns_operations=2,
        failed_webhook_events=2,
        token_purchases_needing_attention=2,
        refund_shortfalls_open=2,
    )


def test_the_figures_have_the_last_billing_run_and_backup(last_billing_run):
    now = timezone.now()
    good = PortalBackup.objects.create(
        status="succeeded",
        file_name="portal-a.enc",
        size_bytes=10,
        database_vendor="postgresql",
        started_at=now - timedelta(hours=30),
        finished_at=now - timedelta(hours=29),
    )
    failed = PortalBackup.objects.create(
        status="failed",
        database_vendor="postgresql",
        error="pg_dump: connection refused",
        started_at=now - timedelta(hours=5),
        finished_at=now - timedelta(hours=5),
    )
    figures = status.system_figures()
    assert figures.last_billing_run == last_billing_run
    assert figures.last_billing_run_age_seconds == pytest.approx(7200, abs=60)
    assert (figures.last_backup, figures.last_good_backup) == (failed, good)
    assert figures.last_good_backup_age_seconds == pytest.approx(29 * 3600, abs=60)


def test_in_process_tasks_have_no_queues(settings):
    assert settings.CELERY_TASK_ALWAYS_EAGER
    figures = status.system_figures()
    assert figures.queues is None
    assert figures.broker["mode"] == "in-process"


@pytest.fixture
def broker_queue(settings):
    """The broker for real (not in-process), with one private queue configured."""
    name = f"test-status-{uuid.uuid4().hex[:8]}"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_TASK_QUEUES = (Queue(name), Queue(f"{name}-empty"))
    yield name
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge(name)


@pytest.mark.redis
def test_queue_lengths_are_read_from_the_broker(broker_queue):
    for _ in range(3):
        celery_app.send_task("tests.never_runs", queue=broker_queue)
    figures = status.system_figures()
    assert figures.queues == {broker_queue: 3, f"{broker_queue}-empty": 0}
    metrics = _scrape(logged_in(staff_user("monitor_system")))
    assert metrics["billing_portal_queue_length"] == {
        (("queue", broker_queue),): 3.0,
        (("queue", f"{broker_queue}-empty"),): 0.0,
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_broker_that_does_not_answer_is_reported_without_lengths(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{_free_port()}/0"
    figures = status.system_figures()
    assert figures.broker["status"] == "error"
    assert figures.queues is None
    metrics = _scrape(logged_in(staff_user("monitor_system")))
    assert metrics["billing_portal_broker_up"] == {(): 0.0}
    assert "billing_portal_queue_length" not in metrics
    page = logged_in(staff_user("monitor_system")).get(reverse("system-status")).content.decode()
    assert "the broker does not answer" in page


def test_a_database_that_does_not_answer_leaves_only_the_health_figures(monkeypatch, troubles):
    monkeypatch.setattr(status, "database_status", lambda: {"status": "error", "error": "X"})
    figures = status.system_figures()
    assert figures.counts is None
    assert figures.last_billing_run is None
    metrics = {m.name: m for m in status.PortalCollector().collect()}
    assert set(metrics) == {"billing_portal_database_up", "billing_portal_broker_up"}
    assert metrics["billing_portal_database_up"].samples[0].value == 0


# --- /metrics -----------------------------------------------------------------------------


def test_metrics_has_the_standard_and_the_portal_figures(settings, troubles, last_billing_run):
    settings.METRICS_TOKEN = TOKEN
    Client().get(reverse("healthz"))  # a request for django-prometheus to count
    metrics = _scrape(**_bearer(TOKEN))
    assert sum(metrics["django_http_requests_total_by_method_total"].values()) >= 1
    assert "process_cpu_seconds_total" in metrics or "python_info" in metrics
    assert metrics["billing_portal_failed_operations"] == {
        (("kind", "provisioning"),): 2.0,
        (("kind", "dns"),): 2.0,
    }
    for name in (
        "failed_webhook_events",
        "token_purchases_needing_attention",
        "refund_shortfalls_open",
    ):
        assert metrics[f"billing_portal_{name}"] == {(): 2.0}, name
    assert metrics["billing_portal_billing_run_last_duration_seconds"] == {(): 95.0}
    assert metrics["billing_portal_billing_run_last_failed_items"] == {(): 2.0}
    (age,) = metrics["billing_portal_billing_run_last_age_seconds"].values()
    assert age == pytest.approx(7200, abs=60)
    assert metrics["billing_portal_database_up"] == {(): 1.0}
    assert metrics["billing_portal_broker_up"] == {(): 1.0}
    assert "billing_portal_queue_length" not in metrics  # tasks run in-process here
    assert "billing_portal_backup_last_success_age_seconds" not in metrics  # none yet


def test_a_running_billing_run_has_an_age_but_no_duration(settings):
    settings.METRICS_TOKEN = TOKEN
    BillingRun.objects.create(as_of=date(2026, 1, 3))
    metrics = _scrape(**_bearer(TOKEN))
    assert "billing_portal_billing_run_last_age_seconds" in metrics
    assert "billing_portal_billing_run_last_duration_seconds" not in metrics


def test_metrics_answers_staff_with_the_permission():
    _scrape(logged_in(staff_user("monitor_system")))


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("anonymous", 404),
        ("customer", 404),
        ("view-only staff", 403),
        ("a bearer while no token is set", 403),
        ("wrong token", 403),
        ("token without scheme", 404),
    ],
)
def test_metrics_is_refused_to_everyone_else(settings, who, expected):
    settings.METRICS_TOKEN = "" if who == "a bearer while no token is set" else TOKEN
    client, headers = Client(), {}
    if who == "customer":
        client.force_login(CustomerFactory().user)
    elif who == "view-only staff":
        client = logged_in(_view_only())
    elif who == "a bearer while no token is set":
        headers = _bearer("")
    elif who == "wrong token":
        headers = _bearer(TOKEN[:-1] + "x")
    elif who == "token without scheme":
        headers = {"HTTP_AUTHORIZATION": TOKEN}
    response = client.get(reverse("metrics"), **headers)
    assert response.status_code == expected
    assert b"billing_portal_" not in response.content


def test_a_short_metrics_token_stops_the_portal():
    env = {**os.environ, "DEBUG": "true", "READ_DOT_ENV_FILE": "false", "METRICS_TOKEN": "short"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=status.settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "METRICS_TOKEN must be at least 32 characters" in result.stderr


# --- the admin page -----------------------------------------------------------------------


def test_the_status_page_shows_the_figures(troubles, last_billing_run):
    client = logged_in(staff_user("monitor_system", "view_refundshortfall"))
    response = client.get(reverse("system-status"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "System status" in page
    assert 'id="database-status">ok' in page
    assert "tasks run in-process" in page
    # linked where the user may open the list, plain text where not
    assert "Open refund shortfalls</a></th><td>2" in page
    assert '<th scope="row">Failed provisioning operations</th><td>2' in page
    assert "All billing runs" not in page
    assert "Completed with errors" in page
    assert "95.0 s" in page
    assert "No backup yet." in page


def test_every_link_on_the_status_page_opens(admin_client, troubles, last_billing_run):
    response = admin_client.get(reverse("system-status"))
    for _label, _count, url in response.context["attention"]:
        assert admin_client.get(url).status_code == 200, url
    assert admin_client.get(response.context["billing_runs_url"]).status_code == 200
    run_page = reverse("admin:billing_billingrun_change", args=[last_billing_run.pk])
    assert run_page in response.content.decode()


def test_the_admin_index_links_the_page_for_those_allowed():
    allowed = logged_in(staff_user("monitor_system")).get(reverse("admin:index")).content.decode()
    assert reverse("system-status") in allowed
    refused = logged_in(_view_only()).get(reverse("admin:index")).content.decode()
    assert reverse("system-status") not in refused


def test_a_view_only_staff_user_is_refused_the_page():
    assert logged_in(_view_only()).get(reverse("system-status")).status_code == 403


def test_the_page_is_for_staff_only():
    client = Client()
    client.force_login(CustomerFactory().user)
    response = client.get(reverse("system-status"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert Client().get(reverse("system-status")).status_code == 302


def test_the_page_and_metrics_only_read(settings):
    settings.METRICS_TOKEN = TOKEN
    post = logged_in(staff_user("monitor_system")).post(reverse("system-status"))
    assert post.status_code == 405
    assert Client().post(reverse("metrics"), **_bearer(TOKEN)).status_code == 405
