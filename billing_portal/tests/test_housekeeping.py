"""Housekeeping: expired sessions go; old login logs, handled webhook payloads and finished
operation logs are pruned after their retention period; failed ones stay for staff; audit
events and the credit ledger are never touched; running it again prunes nothing twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from axes.models import AccessLog
from django.apps import apps
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.urls import reverse
from djmoney.money import Money

from accounts.tests.factories import AuditEventFactory, CustomerFactory
from billing_portal.common.audit import AuditEvent
from billing_portal.common.db import in_batches
from billing_portal.common.models import OutboxMessage
from credits.models import CreditEntry
from credits.services import credit_entry_append
from dnszones.models import DnsOperation
from payments.models import Payment, WebhookEvent
from payments.services import webhook_event_reprocess
from payments.tests import stripe_events as se
from provisioning.models import ProvisioningOperation
from provisioning.tests.factories import ServerFactory, service_on

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
LATER = T0 + timedelta(days=100)  # past the default 90 days
RECENT = LATER - timedelta(days=5)
SUMMARY = {"kind": "create", "server": "node-1"}


def _event(status: str, name: str) -> WebhookEvent:
    return WebhookEvent.objects.create(
        provider="stripe",
        event_id=f"evt_{name}",
        event_type="payment_intent.succeeded",
        headers={"Stripe-Signature": "t=1,v1=x"},
        body='{"id": "evt"}',
        status=status,
    )


def _operation(status: str, name: str) -> ProvisioningOperation:
    server = ServerFactory()
    service = service_on(
        server, customer=CustomerFactory(), recurring_amount=Money(Decimal("5"), "USD")
    )
    return ProvisioningOperation.objects.create(
        service=service,
        kind="create",
        idempotency_key=f"service:{service.pk}:create:{name}",
        status=status,
        request_summary=SUMMARY,
        response_summary={"external_id": "7"},
    )


def _dns(status: str, name: str) -> DnsOperation:
    return DnsOperation.objects.create(
        zone_name=f"{name}.test",
        kind="push_rrset",
        idempotency_key=name,
        status=status,
        finished_at=datetime.now(UTC),
    )


def _session(expires: datetime) -> str:
    store = SessionStore()
    store["_auth_user_id"] = "1"
    store.set_expiry(expires)
    store.create()
    return store.session_key


def _axes_log() -> AccessLog:
    return AccessLog.objects.create(
        username="someone@example.com",
        ip_address="203.0.113.9",
        user_agent="test",
        path_info="/accounts/login/",
    )


def _snapshot() -> dict[str, list[dict]]:
    return {
        model._meta.label: list(model._base_manager.order_by("pk").values())
        for model in apps.get_models()
        if model._meta.managed  # reports.Report holds permissions, not rows
    }


EVIDENCE = ("common.AuditEvent", "credits.CreditEntry", "credits.CreditAccount")


def _evidence() -> dict[str, list[dict]]:
    return {label: rows for label, rows in _snapshot().items() if label in EVIDENCE}


@pytest.fixture
def old_and_new():
    """Rows made at T0 (old by LATER) and at RECENT (within the retention period)."""
    made = {}
    with time_machine.travel(T0, tick=False):
        made["expired session"] = _session(T0 + timedelta(days=1))
        made["live session"] = _session(LATER + timedelta(days=30))
        for status in ("processed", "ignored", "failed", "received"):
            made[f"{status} event"] = _event(status, status)
        for status in ("succeeded", "cancelled", "failed"):
            made[f"{status} operation"] = _operation(status, status)
        made["succeeded push"], made["failed push"] = _dns("succeeded", "a"), _dns("failed", "b")
        made["old login log"] = _axes_log()
        for _ in range(3):
            AuditEventFactory()
            credit_entry_append(
                customer=CustomerFactory(),
                amount=Money(Decimal("5"), "USD"),
                kind="admin_add",
                idempotency_key="k",
            )
    with time_machine.travel(RECENT, tick=False):
        made["recent event"] = _event("processed", "recent")
        made["recent operation"] = _operation("succeeded", "recent")
        made["recent push"] = _dns("succeeded", "c")
        made["recent login log"] = _axes_log()
    return made


def _housekeeping() -> str:
    out = StringIO()
    call_command("housekeeping", stdout=out)
    return out.getvalue()


def _fresh(obj):
    return type(obj)._base_manager.filter(pk=obj.pk).first()


def test_housekeeping_prunes_what_is_old_and_keeps_evidence(old_and_new):
    made, evidence = old_and_new, _evidence()
    assert AuditEvent.objects.count() == 3
    assert CreditEntry.objects.count() == 3
    with time_machine.travel(LATER, tick=False):
        output = _housekeeping()
    assert "accounts.sessions_clear_expired: 1" in output
    assert set(Session.objects.values_list("session_key", flat=True)) == {made["live session"]}
    for name in ("processed event", "ignored event"):
        event = _fresh(made[name])
        assert (event.body, event.headers, event.event_id) == ("", {}, f"evt_{name.split()[0]}")
    for name in ("failed event", "received event", "recent event"):
        assert _fresh(made[name]).body == '{"id": "evt"}', name
    for name in ("succeeded operation", "cancelled operation"):
        operation = _fresh(made[name])
        assert (operation.request_summary, operation.response_summary) == ({}, {}), name
    for name in ("failed operation", "recent operation"):
        assert _fresh(made[name]).request_summary == SUMMARY, name
    assert _fresh(made["succeeded push"]) is None
    assert _fresh(made["failed push"]) is not None
    assert _fresh(made["recent push"]) is not None
    assert _fresh(made["old login log"]) is None
    assert _fresh(made["recent login log"]) is not None
    assert _evidence() == evidence  # audit events and the ledger survive, unchanged


def test_housekeeping_twice_prunes_nothing_twice(old_and_new):
    with time_machine.travel(LATER, tick=False):
        _housekeeping()
        after_first = _snapshot()
        output = _housekeeping()
    assert _snapshot() == after_first
    assert all(line.endswith(": 0") for line in output.splitlines()), output


def test_nothing_is_pruned_within_the_retention_period(old_and_new):
    before = _snapshot()
    with time_machine.travel(T0 + timedelta(days=89), tick=False):
        _housekeeping()
    after = _snapshot()
    assert after.pop("sessions.Session") != before.pop("sessions.Session")  # only expiry
    assert after == before


def test_retention_comes_from_the_settings(old_and_new, settings):
    settings.WEBHOOK_RETENTION_DAYS = 200
    with time_machine.travel(LATER, tick=False):
        _housekeeping()
    assert _fresh(old_and_new["processed event"]).body == '{"id": "evt"}'
    assert _fresh(old_and_new["succeeded operation"]).request_summary == {}  # its own setting


def test_every_housekeeping_task_is_on_the_beat_schedule():
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert set(settings.HOUSEKEEPING_TASKS) <= scheduled


def test_a_redelivery_of_a_pruned_event_is_still_not_run_twice(
    client, stripe_settings, django_capture_on_commit_callbacks, invoice_factory
):
    with time_machine.travel(T0, tick=False):
        invoice = invoice_factory(amount="100")
        payload = se.event("payment_intent.succeeded", se.payment_intent(invoice.pk, amount=10000))
        body, headers = se.signed(payload)
        with django_capture_on_commit_callbacks(execute=True):
            client.post("/webhooks/stripe/", body, content_type="application/json", **headers)
    assert Payment.objects.count() == 1
    with time_machine.travel(LATER, tick=False):
        _housekeeping()
        assert WebhookEvent.objects.get().body == ""
        body, headers = se.signed(payload)  # the provider sends it again, signed anew
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/webhooks/stripe/", body, content_type="application/json", **headers
            )
    assert response.json() == {"received": True, "duplicate": True}
    assert Payment.objects.count() == 1


def test_a_pruned_event_is_not_reprocessed(admin_client, old_and_new):
    with time_machine.travel(LATER, tick=False):
        _housekeeping()
    event = _fresh(old_and_new["ignored event"])
    assert webhook_event_reprocess(webhook_event_id=event.pk) is False
    changelist = reverse("admin:payments_webhookevent_changelist")
    data = {"action": "reprocess", "_selected_action": [event.pk]}
    response = admin_client.post(changelist, data, follow=True)
    assert "their payload was pruned" in response.content.decode()
    assert _fresh(event).status == "ignored"


def test_pruning_goes_a_batch_at_a_time_and_leaves_what_stopped_matching():
    events = [_event("processed", str(n)) for n in range(5)]
    batches = []

    def blank(rows) -> int:
        batches.append(sorted(rows.values_list("pk", flat=True)))
        # meanwhile staff or a worker change the last one: it no longer matches
        WebhookEvent.objects.filter(pk=events[-1].pk).update(status="failed")
        return rows.update(body="")

    old = WebhookEvent.objects.filter(status="processed").exclude(body="")
    assert in_batches(old, blank, size=2) == 4
    assert batches == [[events[0].pk, events[1].pk], [events[2].pk, events[3].pk]]
    assert _fresh(events[-1]).body == '{"id": "evt"}'


def test_outbox_rows_go_once_sent_and_done_and_unsent_or_unrecorded_ones_stay(settings):
    def row(task: str, *, sent: bool, consumed: bool) -> OutboxMessage:
        at = T0 if sent else None
        return OutboxMessage.objects.create(
            task_name=task, created_at=T0, sent_at=at, consumed_at=T0 if consumed else None
        )

    gone = [
        row("common.email_send", sent=True, consumed=True),
        row("payments.webhook_event_process", sent=True, consumed=False),
    ]
    kept = [
        row("common.email_send", sent=False, consumed=False),
        row("common.email_send", sent=True, consumed=False),  # never recorded as sent
        row("payments.webhook_event_process", sent=False, consumed=False),
    ]
    with time_machine.travel(T0 + timedelta(days=6), tick=False):
        _housekeeping()
    assert OutboxMessage.objects.count() == 5  # within OUTBOX_RETENTION_DAYS (7)
    with time_machine.travel(T0 + timedelta(days=8), tick=False):
        _housekeeping()
    assert set(OutboxMessage.objects.values_list("pk", flat=True)) == {r.pk for r in kept}
    assert not any(OutboxMessage.objects.filter(pk=r.pk).exists() for r in gone)
