"""What operators watch: one set of figures, shown to Prometheus at /metrics and to staff on
the admin's "System status" page.

The figures are read when asked (a scrape, a page view), from the database and the broker,
so every web process answers the same. They span the apps, which is why they live here,
with the wiring, and not in the kernel (common/) that every app builds on.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

import prometheus_client
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu import Connection
from kombu.exceptions import ChannelError
from prometheus_client import multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric

from accounts.models import User
from billing.models import BillingRun, RefundShortfall, TokenPurchase
from billing_portal.common.health import BROKER_TIMEOUT_SECONDS, broker_status, database_status
from billing_portal.common.models import PortalBackup
from dnszones.models import DnsOperation
from payments.models import WebhookEvent
from provisioning.models import ProvisioningOperation

PERMISSION = "common.monitor_system"
TOKEN_ATTENTION = (TokenPurchase.Status.UNCERTAIN, TokenPurchase.Status.FAILED)


@dataclass(frozen=True)
class Counts:
    """What needs a person, counted in the database."""

    failed_provisioning_operations: int
    failed_dns_operations: int
    failed_webhook_events: int
    token_purchases_needing_attention: int
    refund_shortfalls_open: int


@dataclass(frozen=True)
class SystemFigures:
    now: datetime
    database: dict[str, str]
    broker: dict[str, str]
    # Messages waiting per Celery queue; None when tasks run in-process or the broker is down.
    queues: dict[str, int] | None
    counts: Counts | None  # None when the database is down
    last_billing_run: BillingRun | None = None
    last_backup: PortalBackup | None = None
    last_good_backup: PortalBackup | None = None

    @property
    def last_billing_run_age_seconds(self) -> float | None:
        run = self.last_billing_run
        return None if run is None else (self.now - run.started_at).total_seconds()

    @property
    def last_good_backup_age_seconds(self) -> float | None:
        backup = self.last_good_backup
        return None if backup is None else (self.now - backup.finished_at).total_seconds()


def queue_lengths(names: Iterable[str]) -> dict[str, int]:
    """Messages waiting in each queue (a passive declare: Redis LLEN over the queue's
    priority lists); a queue nothing was ever sent to does not exist yet and holds 0."""
    lengths = {}
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=BROKER_TIMEOUT_SECONDS) as conn:
        conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
        for name in names:
            try:
                lengths[name] = conn.default_channel.queue_declare(
                    queue=name, passive=True
                ).message_count
            except ChannelError:
                lengths[name] = 0
    return lengths


def _counts() -> Counts:
    return Counts(
        failed_provisioning_operations=ProvisioningOperation.objects.filter(
            status=ProvisioningOperation.Status.FAILED
        ).count(),
        failed_dns_operations=DnsOperation.objects.filter(
            status=DnsOperation.Status.FAILED
        ).count(),
        failed_webhook_events=WebhookEvent.objects.filter(
            status=WebhookEvent.Status.FAILED
        ).count(),
        token_purchases_needing_attention=TokenPurchase.objects.filter(
            status__in=TOKEN_ATTENTION
        ).count(),
        refund_shortfalls_open=RefundShortfall.objects.filter(
            status=RefundShortfall.Status.OPEN
        ).count(),
    )


def system_figures() -> SystemFigures:
    database, broker = database_status(), broker_status()
    queues = None
    if broker["status"] == "ok" and broker["mode"] == "broker":
        try:
            queues = queue_lengths(queue.name for queue in settings.CELERY_TASK_QUEUES)
        except Exception:  # the broker went away since the health check: no lengths
            queues = None
    figures = {"now": timezone.now(), "database": database, "broker": broker, "queues": queues}
    if database["status"] != "ok":
        return SystemFigures(**figures, counts=None)
    try:
        return SystemFigures(
            **figures,
            counts=_counts(),
            last_billing_run=BillingRun.objects.first(),
            last_backup=PortalBackup.objects.first(),
            last_good_backup=PortalBackup.objects.filter(
                status=PortalBackup.Status.SUCCEEDED
            ).first(),
        )
    except DatabaseError:
        return SystemFigures(**figures, counts=None)


# --- Prometheus ---------------------------------------------------------------------------

PREFIX = "billing_portal"


def _gauge(name: str, documentation: str, value: float | None, **labels: str) -> Metric | None:
    if value is None:
        return None
    metric = GaugeMetricFamily(f"{PREFIX}_{name}", documentation, labels=list(labels))
    metric.add_metric(list(labels.values()), value)
    return metric


def _metrics(figures: SystemFigures) -> Iterator[Metric | None]:
    yield _gauge("database_up", "1 while the database answers.", figures.database["status"] == "ok")
    yield _gauge(
        "broker_up",
        "1 while the Celery broker answers (or tasks run in-process).",
        figures.broker["status"] == "ok",
    )
    if figures.queues is not None:
        queues = GaugeMetricFamily(
            f"{PREFIX}_queue_length", "Messages waiting in a Celery queue.", labels=["queue"]
        )
        for name, length in figures.queues.items():
            queues.add_metric([name], length)
        yield queues
    if (counts := figures.counts) is not None:
        failed = GaugeMetricFamily(
            f"{PREFIX}_failed_operations",
            "Provisioning and DNS operations that failed for good (the staff queue).",
            labels=["kind"],
        )
        failed.add_metric(["provisioning"], counts.failed_provisioning_operations)
        failed.add_metric(["dns"], counts.failed_dns_operations)
        yield failed
        yield _gauge(
            "failed_webhook_events",
            "Payment webhook events whose processing failed.",
            counts.failed_webhook_events,
        )
        yield _gauge(
            "token_purchases_needing_attention",
            "VPS token purchases uncertain or failed: staff must check the panel.",
            counts.token_purchases_needing_attention,
        )
        yield _gauge(
            "refund_shortfalls_open",
            "Refund shortfalls staff have not resolved.",
            counts.refund_shortfalls_open,
        )
    run = figures.last_billing_run
    yield _gauge(
        "billing_run_last_age_seconds",
        "Seconds since the last billing run started.",
        figures.last_billing_run_age_seconds,
    )
    yield _gauge(
        "billing_run_last_duration_seconds",
        "How long the last billing run took (absent while it runs).",
        run.duration_seconds if run else None,
    )
    yield _gauge(
        "billing_run_last_failed_items",
        "Items the last billing run could not do.",
        len(run.errors) if run else None,
    )
    yield _gauge(
        "backup_last_success_age_seconds",
        "Seconds since the last successful backup of the portal finished.",
        figures.last_good_backup_age_seconds,
    )


class PortalCollector:
    """The figures as Prometheus gauges, read at scrape time."""

    def collect(self) -> Iterator[Metric]:
        yield from (metric for metric in _metrics(system_figures()) if metric is not None)


class _Scrape:
    """The process's standard metrics (django-prometheus, process, Python; in gunicorn's
    multiprocess mode those of every worker) followed by the portal's figures."""

    def collect(self) -> Iterator[Metric]:
        if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
            standard = prometheus_client.CollectorRegistry()
            multiprocess.MultiProcessCollector(standard)
        else:
            standard = prometheus_client.REGISTRY
        yield from standard.collect()
        yield from PortalCollector().collect()


def _refuse_unless_allowed(request: HttpRequest) -> None:
    """Prometheus with the METRICS_TOKEN bearer token, or staff with the permission; a wrong
    token or a staff user without it gets 403, anyone else 404 (nothing here to find)."""
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        token = settings.METRICS_TOKEN
        if token and hmac.compare_digest(presented.encode(), token.encode()):
            return
        raise PermissionDenied
    if request.user.is_authenticated and request.user.is_staff:
        if request.user.has_perm(PERMISSION):
            return
        raise PermissionDenied
    raise Http404


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    _refuse_unless_allowed(request)
    return HttpResponse(
        prometheus_client.generate_latest(_Scrape()),
        content_type=prometheus_client.CONTENT_TYPE_LATEST,
    )


# --- the admin page -----------------------------------------------------------------------


def _changelist(user: User, model: type[Model], query: str = "") -> str | None:
    """The model's admin list, for a user who may see it."""
    opts = model._meta
    if not user.has_perm(f"{opts.app_label}.view_{opts.model_name}"):
        return None
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist") + query


def _attention(counts: Counts, user: User) -> list[tuple[str, int, str | None]]:
    """(what, how many, where staff deal with them)."""
    failed = "?status__exact=failed"
    return [
        (
            "Failed provisioning operations",
            counts.failed_provisioning_operations,
            _changelist(user, ProvisioningOperation, failed),
        ),
        (
            "Failed DNS operations",
            counts.failed_dns_operations,
            _changelist(user, DnsOperation, failed),
        ),
        (
            "Failed webhook events",
            counts.failed_webhook_events,
            _changelist(user, WebhookEvent, failed),
        ),
        (
            "VPS token purchases needing attention",
            counts.token_purchases_needing_attention,
            _changelist(user, TokenPurchase),
        ),
        (
            "Open refund shortfalls",
            counts.refund_shortfalls_open,
            _changelist(user, RefundShortfall, "?status__exact=open"),
        ),
    ]


@require_GET
def system_status(request: HttpRequest) -> TemplateResponse:
    """The admin's "System status" page (wrapped in admin_view: staff only)."""
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    figures = system_figures()
    context = {
        **admin.site.each_context(request),
        "title": "System status",
        "figures": figures,
        "attention": _attention(figures.counts, request.user) if figures.counts else None,
        "billing_runs_url": _changelist(request.user, BillingRun),
    }
    return TemplateResponse(request, "admin/system_status.html", context)
