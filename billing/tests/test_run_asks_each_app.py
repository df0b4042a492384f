"""The billing run orchestrates: each step asks the owning app what is due and hands every
item to that app's own rule, which locks and judges its own row; the run counts the answers."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from djmoney.money import Money

from billing.models import BillingRun
from billing.services import billing_run
from billing.services import run as module
from billing_portal.celery import app as celery_app
from billing_portal.common.audit import AuditEvent
from catalogue.tests.factories import ProductPriceFactory
from invoices.models import Invoice, InvoiceNotice
from invoices.selectors import unpaid_service_bills
from provisioning.models import Service

pytestmark = pytest.mark.django_db

STEPS = [
    "renewals",
    "reminders",
    "suspended",
    "terminated",
    "ended",
    "orders_cancelled",
    "purchases_cancelled",
    "upgrades_expired",
]


def _service(customer, next_due: date, **extra) -> Service:
    return Service.objects.create(
        customer=customer,
        product=ProductPriceFactory().product,
        cycle="monthly",
        currency="USD",
        recurring_amount=Money(Decimal("10.00"), "USD"),
        status="active",
        next_due_date=next_due,
        **extra,
    )


def _spy(monkeypatch, name: str) -> list[dict]:
    """Record each call the run makes to `name` (still calling the real one)."""
    calls: list[dict] = []
    real = getattr(module, name)

    def spy(**kwargs):
        result = real(**kwargs)
        calls.append({**kwargs, "result": result})
        return result

    monkeypatch.setattr(module, name, spy)
    return calls


def test_a_service_is_suspended_because_provisioning_judged_it(customer, monkeypatch):
    service = _service(customer, next_due=date(2026, 2, 1))
    billing_run(today=date(2026, 1, 26))  # the renewal, unpaid from here on
    calls = _spy(monkeypatch, "service_suspend_if_overdue")

    run = billing_run(today=date(2026, 2, 4))

    assert calls == [
        {
            "service_id": service.pk,
            "today": date(2026, 2, 4),
            "bills": unpaid_service_bills,
            "result": True,
        }
    ]
    assert run.counts["suspended"] == 1
    service.refresh_from_db()
    assert service.status == Service.Status.SUSPENDED


def test_provisioning_not_the_run_decides_a_suspension(customer, monkeypatch):
    """Even offered a service on a suspension hold, the run suspends only what the rule says."""
    service = _service(customer, next_due=date(2026, 2, 1))
    billing_run(today=date(2026, 1, 26))
    Service.objects.filter(pk=service.pk).update(suspension_hold_until=date(2026, 2, 10))
    monkeypatch.setattr(module, "services_overdue_for_suspension", lambda **_: [service.pk])
    calls = _spy(monkeypatch, "service_suspend_if_overdue")

    run = billing_run(today=date(2026, 2, 4))

    assert [call["result"] for call in calls] == [False]
    assert run.counts["suspended"] == 0
    service.refresh_from_db()
    assert service.status == Service.Status.ACTIVE


def test_termination_is_provisionings_rule_and_the_renewal_is_cancelled_by_invoices(
    customer, monkeypatch
):
    service = _service(customer, next_due=date(2026, 2, 1))
    billing_run(today=date(2026, 1, 26))
    calls = _spy(monkeypatch, "service_terminate_if_overdue")
    cancels = _spy(monkeypatch, "renewals_cancel_for_ended_service")

    run = billing_run(today=date(2026, 3, 3))  # 30 days after the due date

    assert [(call["service_id"], call["result"]) for call in calls] == [(service.pk, True)]
    assert cancels == [{"service_id": service.pk, "result": 1}]
    assert run.counts["terminated"] == 1
    assert Invoice.objects.get().status == Invoice.Status.CANCELLED


def test_a_run_that_finds_nothing_changes_nothing(customer, mailoutbox):
    _service(customer, next_due=date(2026, 6, 1))
    before = list(Service.objects.values())
    events = AuditEvent.objects.count()

    run = billing_run(today=date(2026, 1, 26))

    assert list(run.counts) == STEPS  # every step ran, in order (late fees are off)
    assert set(run.counts.values()) == {0}
    assert (run.status, run.errors) == (BillingRun.Status.COMPLETED, [])
    assert list(Service.objects.values()) == before
    assert not Invoice.objects.exists()
    assert not InvoiceNotice.objects.exists()
    assert AuditEvent.objects.count() == events
    assert mailoutbox == []


def test_the_run_calls_each_rule_in_order_and_counts_its_answers(monkeypatch, settings):
    """Each step: ask for what is due, hand every item to the app's rule, count the Trues."""
    settings.BILLING_LATE_FEE_AFTER_DAYS = 5
    calls: list[tuple[str, dict]] = []

    def rule(name: str, answer: bool = True):
        def call(**kwargs):
            calls.append((name, kwargs))
            return answer

        monkeypatch.setattr(module, name, call)

    for due, items in (
        ("invoice_reminders_due", [(11, "due"), (12, "overdue_1")]),
        ("invoice_late_fees_due", [13]),
        ("services_overdue_for_suspension", [21, 22]),
        ("services_overdue_for_termination", [23]),
        ("orders_unpaid_due", [31]),
        ("purchases_abandoned_due", [41]),
        ("services_ending", [61]),
        ("plan_changes_expiring", [51]),
    ):
        monkeypatch.setattr(module, due, lambda items=items, **_: items)

    def reminders(**kwargs):  # a batch of reminders, counted as it answers
        calls.append(("invoice_reminders_send", kwargs))
        return len(kwargs["items"])

    monkeypatch.setattr(module, "invoice_reminders_send", reminders)
    for name in (
        "invoice_late_fee_charge",
        "service_terminate_if_overdue",
        "renewals_cancel_for_ended_service",
        "order_cancel_if_pending",
        "purchase_cancel_if_unpaid",
        "plan_change_expire",
        "service_end_if_due",
    ):
        rule(name)
    rule("service_suspend_if_overdue", answer=False)

    run = billing_run(today=date(2026, 1, 26))

    today = date(2026, 1, 26)
    bills = unpaid_service_bills
    assert calls == [
        ("invoice_reminders_send", {"items": [(11, "due"), (12, "overdue_1")]}),
        ("invoice_late_fee_charge", {"invoice_id": 13, "today": today}),
        ("service_suspend_if_overdue", {"service_id": 21, "today": today, "bills": bills}),
        ("service_suspend_if_overdue", {"service_id": 22, "today": today, "bills": bills}),
        ("service_terminate_if_overdue", {"service_id": 23, "today": today, "bills": bills}),
        ("renewals_cancel_for_ended_service", {"service_id": 23}),
        ("service_end_if_due", {"service_id": 61, "today": today}),
        ("renewals_cancel_for_ended_service", {"service_id": 61}),
        ("order_cancel_if_pending", {"order_id": 31}),
        ("purchase_cancel_if_unpaid", {"invoice_id": 41}),
        ("plan_change_expire", {"change_id": 51}),
    ]
    assert run.counts == {
        "renewals": 0,
        "reminders": 2,
        "late_fees": 1,
        "suspended": 0,
        "terminated": 1,
        "ended": 1,
        "orders_cancelled": 1,
        "purchases_cancelled": 1,
        "upgrades_expired": 1,
    }


def test_a_message_queued_under_the_old_task_name_still_runs(customer):
    """The task was `invoices.billing_run` before the run moved to billing."""
    celery_app.loader.import_default_modules()
    with time_machine.travel(datetime(2026, 1, 26, 3, tzinfo=UTC), tick=False):
        _service(customer, next_due=date(2026, 2, 1))
        run_id = celery_app.tasks["invoices.billing_run"].delay().get()

    assert BillingRun.objects.get(pk=run_id).counts["renewals"] == 1


def test_the_beat_schedule_sends_the_billing_task(settings):
    celery_app.loader.import_default_modules()
    (entry,) = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if "billing_run" in e["task"]]
    assert entry["task"] == "billing.billing_run"
    assert celery_app.tasks["billing.billing_run"].name == "billing.billing_run"
