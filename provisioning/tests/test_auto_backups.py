"""Automatic backups of customers' services (provisioning.services.backups): which services
are due, one backup per service and slot however often the beat or a task runs, rotation
within the quota that never deletes a manual backup, retries then a staff report; the
customer's toggle and what their page shows; the staff list. The panel is the fake
`fakebackups` module (provisioning/tests/fake_backups.py), the edge we cannot run."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from celery import current_app
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.test import TestCase
from django.urls import reverse

from accounts.tests.factories import CustomerFactory
from accounts.tests.helpers import assert_customer_isolation, logged_in, staff_user
from billing_portal.common import operations as kernel
from billing_portal.common.models import AuditEvent, Operation
from provisioning.errors import PanelError
from provisioning.models import (
    AutomaticBackup,
    ProductBackupPolicy,
    Service,
    ServiceBackupSetting,
    SitePlan,
)
from provisioning.panels.registry import MODULES, ModuleInfo, module_register
from provisioning.services.backups import (
    BackupQuota,
    auto_backup_run,
    auto_backups_due,
    backup_quota,
    backup_slot,
)
from provisioning.tasks import auto_backups_due_task
from provisioning.tests import fake_backups
from provisioning.tests.factories import ServerFactory, service_on

pytestmark = pytest.mark.django_db

AB = AutomaticBackup
# A Thursday, 00:05 UTC: the day's slot has just started.
NOW = datetime(2026, 12, 3, 0, 5, tzinfo=UTC)


@pytest.fixture
def panel():
    with fake_backups.registered() as fake:
        yield fake


@pytest.fixture
def server(panel):
    return ServerFactory(module=fake_backups.NAME)


def backed_up(server, *, interval="daily", keep=3, may_disable=True, **fields) -> Service:
    """An active service on `server` whose product has automatic backups."""
    fields.setdefault("status", Service.Status.ACTIVE)
    service = service_on(server, **fields)
    if not service.external_id and "external_id" not in fields:
        service.external_id = f"acct-{service.pk}"
        service.save(update_fields=["external_id"])
    ProductBackupPolicy.objects.create(
        product=service.product, interval=interval, keep=keep, customer_may_disable=may_disable
    )
    return service


def run_due(now=NOW) -> list[AutomaticBackup]:
    """What one beat does at `now`, the tasks run here: the rows it handed out, as they
    ended (what each does after commit, e.g. a staff email, done too; a retry the kernel
    queues runs then as well, at `now`, so before its time: it does nothing)."""
    with time_machine.travel(now, tick=False), TestCase.captureOnCommitCallbacks(execute=True):
        return [auto_backup_run(backup_id=pk, now=now) for pk in auto_backups_due(now=now)]


def run_retry(row: AutomaticBackup) -> AutomaticBackup:
    """What the retry message the kernel queued for `row` (with a countdown) does, delivered
    at its time."""
    at = row.next_attempt_at
    with time_machine.travel(at, tick=False), TestCase.captureOnCommitCallbacks(execute=True):
        return auto_backup_run(backup_id=row.pk, now=at)


def creates(panel) -> list[tuple[str, ...]]:
    return [call for call in panel.calls if call[0] == "backup_create"]


# --- which services are due ---------------------------------------------------------------


def test_the_due_run_takes_active_services_with_backups_on_and_nothing_else(server, panel):
    due = backed_up(server)
    weekly = backed_up(server, interval="weekly")
    forced = backed_up(server, may_disable=False)  # its customer's "off" does not count
    ServiceBackupSetting.objects.create(service=forced, enabled=False)
    turned_off = backed_up(server)
    ServiceBackupSetting.objects.create(service=turned_off, enabled=False)
    backed_up(server, status=Service.Status.SUSPENDED)
    backed_up(server, external_id="")  # not set up on its panel yet
    service_on(server, status=Service.Status.ACTIVE, external_id="no-policy")

    ids = auto_backups_due(now=NOW)

    rows = AB.objects.filter(pk__in=ids)
    assert {row.service_id for row in rows} == {due.pk, weekly.pk, forced.pk}
    slots = {row.service_id: row.slot for row in rows}
    assert slots[due.pk] == NOW.date()
    assert slots[weekly.pk] == NOW.date() - timedelta(days=3)  # that week's Monday
    assert AB.objects.count() == 3
    assert panel.calls == []  # the beat itself calls no panel


def test_slots_are_days_or_the_weeks_monday():
    thursday = NOW.date()
    assert backup_slot("daily", thursday) == thursday
    assert backup_slot("weekly", thursday).isoweekday() == 1
    assert backup_slot("weekly", thursday + timedelta(days=4)) == thursday + timedelta(days=4)


def test_the_beat_queues_one_backups_task_per_service_on_the_backups_queue(server, monkeypatch):
    services = [backed_up(server) for _ in range(3)]
    sent = []
    monkeypatch.setattr(
        "provisioning.tasks.auto_backup_task.delay", lambda backup_id: sent.append(backup_id)
    )

    assert auto_backups_due_task() == 3

    assert sorted(AB.objects.get(pk=pk).service_id for pk in sent) == [s.pk for s in services]
    router = current_app.amqp.router
    for name in ("backups.due_run", "backups.service_backup"):
        assert router.route({}, name)["queue"].name == "backups"
    entry = settings.CELERY_BEAT_SCHEDULE["backups.due_run"]
    assert entry["task"] == "backups.due_run"
    assert entry["schedule"] == timedelta(minutes=settings.AUTO_BACKUP_SWEEP_MINUTES)


def test_rows_are_written_in_batches(server, settings):
    settings.AUTO_BACKUP_BATCH_SIZE = 2
    services = [backed_up(server) for _ in range(5)]

    assert len(auto_backups_due(now=NOW)) == 5
    assert set(AB.objects.values_list("service_id", flat=True)) == {s.pk for s in services}


# --- making one ---------------------------------------------------------------------------


def test_a_due_backup_is_made_on_the_panel_and_recorded_as_automatic(server, panel):
    service = backed_up(server)

    [row] = run_due()

    assert row.status == AB.Status.SUCCEEDED
    assert row.name == f"AUTO20261203-{row.pk}"
    assert row.attempts == 1
    assert row.finished_at == NOW
    assert row.idempotency_key == f"auto_backup:{service.pk}:20261203"
    [backup] = panel.backups[service.external_id]
    assert (backup["id"], backup["name"]) == (row.backup_id, row.name)
    assert creates(panel) == [("backup_create", service.external_id, row.name)]


def _site_plan(service: Service, backups: int) -> None:
    SitePlan.objects.create(name="tiny", memory_gb=1, disk_gb=5, backups=backups, domains=1)
    service.product.module_settings = {"plan": "tiny"}
    service.product.save()


def test_rotation_deletes_the_oldest_automatic_backup_and_never_a_manual_one(server, panel):
    service = backed_up(server, keep=None)
    _site_plan(service, backups=3)  # three in all, manual ones included
    manual = panel.give(service.external_id, "BAK20261201-1")

    made = []
    for day in range(5):
        [row] = run_due(NOW + timedelta(days=day))
        assert row.status == AB.Status.SUCCEEDED
        made.append(row)
        on_panel = panel.backups[service.external_id]
        assert len(on_panel) <= 3  # within the quota, every day
        assert manual in {b["id"] for b in on_panel}

    on_panel = {b["id"] for b in panel.backups[service.external_id]}
    assert on_panel == {manual, made[3].backup_id, made[4].backup_id}
    statuses = [AB.objects.get(pk=row.pk).status for row in made]
    assert statuses == ["rotated", "rotated", "rotated", "succeeded", "succeeded"]
    deleted = [call[2] for call in panel.calls if call[0] == "backup_delete"]
    assert deleted == [made[0].backup_id, made[1].backup_id, made[2].backup_id]


def test_the_policy_keeps_fewer_automatic_ones_leaving_room_for_manual_ones(server, panel):
    service = backed_up(server, keep=2)
    _site_plan(service, backups=4)
    manual = panel.give(service.external_id, "BAK20261201-1")

    made = [run_due(NOW + timedelta(days=day))[0] for day in range(4)]

    on_panel = {b["id"] for b in panel.backups[service.external_id]}
    assert on_panel == {manual, made[2].backup_id, made[3].backup_id}  # one place left free


def test_a_quota_full_of_manual_backups_fails_without_deleting_any(server, panel, staff_alerts):
    service = backed_up(server, keep=None)
    _site_plan(service, backups=2)
    manual = {panel.give(service.external_id, f"BAK20261201-{n}") for n in (1, 2)}

    [row] = run_due()

    assert row.status == AB.Status.FAILED
    assert row.attempts == 1  # permanent: not retried
    assert "full of manual backups" in row.last_error
    assert {b["id"] for b in panel.backups[service.external_id]} == manual
    assert [c[0] for c in panel.calls] == ["backups_list"]  # no delete, no create
    assert len(mail.outbox) == 1
    assert "Automatic backup failed" in mail.outbox[0].subject


def test_the_quota_comes_from_the_site_plan_and_the_policy(server):
    service = backed_up(server, keep=None)
    assert backup_quota(service) == BackupQuota(None, settings.AUTO_BACKUP_DEFAULT_KEEP)
    ProductBackupPolicy.objects.filter(product=service.product).update(keep=5)
    assert backup_quota(service) == BackupQuota(None, 5)
    _site_plan(service, backups=2)
    assert backup_quota(service) == BackupQuota(2, 2)  # the plan caps all of them
    ProductBackupPolicy.objects.filter(product=service.product).update(keep=1)
    assert backup_quota(service) == BackupQuota(2, 1)
    ProductBackupPolicy.objects.filter(product=service.product).update(keep=None)
    assert backup_quota(service) == BackupQuota(2, 2)


# --- retries and the staff report -----------------------------------------------------------


def test_temporary_failures_are_retried_with_backoff_then_reported_to_staff(
    server, panel, staff_alerts, settings
):
    settings.AUTO_BACKUP_MAX_ATTEMPTS = 3
    service = backed_up(server)
    panel.failures = [
        PanelError(f"Panel answered 503: busy {n}", retryable=True) for n in (1, 2, 3)
    ]

    [row] = run_due()
    assert (row.status, row.attempts) == ("pending", 1)
    assert AB.objects.get(pk=row.pk).attempts == 1  # its retry, queued, is not due yet
    assert row.next_attempt_at >= NOW + timedelta(minutes=settings.AUTO_BACKUP_RETRY_MINUTES)
    assert auto_backups_due(now=NOW + timedelta(minutes=1)) == []  # not before its time

    later = row.next_attempt_at
    row = run_retry(row)  # the kernel's retry message, at its time
    assert (row.status, row.attempts) == ("pending", 2)
    assert row.next_attempt_at - later > later - NOW  # the wait doubles
    assert mail.outbox == []

    # This retry's message is lost: the beat hands the row out once its lease has passed.
    assert auto_backups_due(now=row.next_attempt_at) == []  # its message may still come
    lost = row.next_attempt_at + timedelta(minutes=settings.AUTO_BACKUP_LEASE_MINUTES)
    [row] = run_due(lost)
    assert (row.status, row.attempts) == ("failed", 3)
    assert row.last_error == "Panel answered 503: busy 3"
    assert creates(panel) == []
    assert len(mail.outbox) == 1
    assert str(service.pk) in mail.outbox[0].body
    assert "busy 3" in mail.outbox[0].body
    event = AuditEvent.objects.get(action="service.auto_backup_failed")
    assert event.details["attempts"] == 3
    assert auto_backups_due(now=NOW + timedelta(hours=3)) == []  # not tried again


def test_a_backup_is_an_operation_whose_retry_the_kernel_queues_on_the_backups_queue(
    server, panel, monkeypatch
):
    queued = []
    monkeypatch.setattr(
        kernel,
        "task_publish_on_commit",
        lambda name, args, countdown=0: queued.append((name, args, countdown)),
    )
    backed_up(server)
    panel.failures = [PanelError("Panel answered 503: busy", retryable=True)]

    [row] = run_due()

    assert isinstance(row, Operation)
    assert queued == [
        ("backups.service_backup", [row.pk], (row.next_attempt_at - NOW).total_seconds())
    ]
    assert current_app.amqp.router.route({}, "backups.service_backup")["queue"].name == "backups"


def test_a_retry_after_success_of_a_lost_answer_adopts_the_backup_instead_of_a_second(
    server, panel
):
    service = backed_up(server)
    [pk] = auto_backups_due(now=NOW)
    # The first attempt made it, then its answer was lost (the worker died): running, stale.
    row = auto_backup_run(backup_id=pk, now=NOW)
    AB.objects.filter(pk=pk).update(status=AB.Status.RUNNING, backup_id="")
    assert auto_backups_due(now=NOW + timedelta(minutes=5)) == []  # still within its time

    stale = NOW + timedelta(minutes=settings.AUTO_BACKUP_RUNNING_TIMEOUT_MINUTES + 1)
    [again] = run_due(stale)

    assert again.pk == row.pk
    assert again.status == AB.Status.SUCCEEDED
    assert again.backup_id == row.backup_id
    assert again.attempts == 2
    assert len(panel.backups[service.external_id]) == 1
    assert len(creates(panel)) == 1


# --- idempotency ----------------------------------------------------------------------------


def test_two_beats_and_duplicate_task_messages_make_one_backup_per_slot(server, panel):
    service = backed_up(server)

    first = auto_backups_due(now=NOW)
    second = auto_backups_due(now=NOW + timedelta(minutes=10))  # the next beat, same day
    assert len(first) == 1
    assert second == []
    for _ in range(3):  # the message delivered three times
        auto_backup_run(backup_id=first[0], now=NOW)
    assert run_due(NOW + timedelta(hours=5)) == []

    assert AB.objects.filter(service=service).count() == 1
    assert len(creates(panel)) == 1
    # the next day is a new slot
    [tomorrow] = run_due(NOW + timedelta(days=1))
    assert tomorrow.slot == NOW.date() + timedelta(days=1)
    assert len(creates(panel)) == 2


def test_a_message_for_a_row_another_worker_runs_does_nothing(server, panel):
    backed_up(server)
    [pk] = auto_backups_due(now=NOW)
    AB.objects.filter(pk=pk).update(status=AB.Status.RUNNING, started_at=NOW)

    assert auto_backup_run(backup_id=pk, now=NOW).status == AB.Status.RUNNING
    assert panel.calls == []


def test_the_database_refuses_a_second_row_for_a_service_and_slot(server):
    service = backed_up(server)
    AB.objects.create(service=service, slot=NOW.date(), name="AUTO20261203-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        AB.objects.create(service=service, slot=NOW.date(), name="AUTO20261203-2")


def test_a_service_suspended_after_it_was_due_is_skipped_without_a_call(
    server, panel, staff_alerts
):
    service = backed_up(server)
    [pk] = auto_backups_due(now=NOW)
    Service.objects.filter(pk=service.pk).update(status=Service.Status.SUSPENDED)

    row = auto_backup_run(backup_id=pk, now=NOW)

    assert row.status == AB.Status.FAILED
    assert "no longer active" in row.last_error
    assert panel.calls == []
    assert mail.outbox == []


class _PowerOnlyPanel(fake_backups.FakeBackupPanel):
    """A panel whose module has no backup calls."""

    backups_list = backup_create = backup_delete = backup_restore = None  # type: ignore[assignment]


def test_a_panel_without_backups_fails_clearly(panel, staff_alerts):
    module_register(ModuleInfo("nobackups", "No backups", _PowerOnlyPanel))
    try:
        backed_up(ServerFactory(module="nobackups"))
        [row] = run_due()
    finally:
        MODULES.pop("nobackups")

    assert row.status == AB.Status.FAILED
    assert row.last_error == "This service's panel cannot make backups."
    assert panel.calls == []


# --- the customer's page and toggle ---------------------------------------------------------


@pytest.fixture
def site(customer):
    """An active WordPress-like site of `customer` on the sandbox (its page has a section),
    with daily automatic backups the customer may turn off."""
    sandbox = ServerFactory(module="sandbox")
    service = backed_up(sandbox, customer=customer)
    service.product.module_settings = {"stands_in_for": "wordpress"}
    service.product.save()
    return service


def _page(client, service) -> str:
    response = client.get(reverse("provisioning:service_detail", args=[service.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_page_shows_whether_they_run_and_the_last_one(client, customer, site):
    client.force_login(customer.user)
    page = _page(client, site)
    assert 'data-testid="auto-backups-state">On, daily<' in page
    assert "No automatic backup has run yet" in page

    AB.objects.create(
        service=site,
        slot=NOW.date() - timedelta(days=1),
        name="AUTO20261202-1",
        status=AB.Status.SUCCEEDED,
        backup_id="b1",
        finished_at=NOW - timedelta(days=1),
    )
    page = _page(client, site)
    assert "Last automatic backup: <strong>2026-12-02 00:05 UTC</strong>" in page

    AB.objects.create(
        service=site,
        slot=NOW.date(),
        name="AUTO20261203-2",
        status=AB.Status.FAILED,
        finished_at=NOW,
        last_error='API POST /backups failed: HTTP 500: {"error": "Storage node offline"}',
    )
    page = _page(client, site)
    assert "The last automatic backup (2026-12-03 00:05 UTC) failed: Storage node offline" in page
    assert "The last one made is from 2026-12-02 00:05 UTC" in page
    assert "HTTP 500" not in page


def test_the_customer_turns_them_off_and_on_and_the_beat_follows(client, customer, site):
    client.force_login(customer.user)
    url = reverse("provisioning:service_auto_backups", args=[site.pk])

    response = client.post(url, {"enabled": "off"})
    assert response.status_code == 302
    assert ServiceBackupSetting.objects.get(service=site).enabled is False
    assert 'data-testid="auto-backups-state">Off<' in _page(client, site)
    assert auto_backups_due(now=NOW) == []
    event = AuditEvent.objects.get(action="service.auto_backups_changed")
    assert event.details == {"enabled": False}
    assert event.actor_id == customer.user_id

    response = client.post(url, {"enabled": "on"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "Automatic backups are on." in response.content.decode()
    assert 'id="auto-backups"' in response.content.decode()
    assert len(auto_backups_due(now=NOW)) == 1


@pytest.mark.parametrize(
    ("change", "data", "message"),
    [
        ("forced", {"enabled": "off"}, "always on for this plan"),
        ("no_policy", {"enabled": "off"}, "does not include automatic backups"),
        ("suspended", {"enabled": "off"}, "Only an active service"),
        (None, {"enabled": "maybe"}, "Choose whether"),
        (None, {}, "Choose whether"),
    ],
)
def test_a_toggle_the_plan_does_not_allow_is_refused_with_a_message(
    client, customer, site, change, data, message
):
    if change == "forced":
        ProductBackupPolicy.objects.filter(product=site.product).update(customer_may_disable=False)
    elif change == "no_policy":
        ProductBackupPolicy.objects.filter(product=site.product).delete()
    elif change == "suspended":
        Service.objects.filter(pk=site.pk).update(status=Service.Status.SUSPENDED)
    client.force_login(customer.user)

    response = client.post(
        reverse("provisioning:service_auto_backups", args=[site.pk]), data, follow=True
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ServiceBackupSetting.objects.exists()
    assert not AuditEvent.objects.filter(action="service.auto_backups_changed").exists()


def test_another_customers_service_is_a_404_and_unchanged(client, customer, site):
    intruder = CustomerFactory()
    url = reverse("provisioning:service_auto_backups", args=[site.pk])
    client.force_login(intruder.user)
    assert client.post(url, {"enabled": "off"}).status_code == 404
    assert not ServiceBackupSetting.objects.exists()
    client.force_login(customer.user)
    assert client.post("/services/999999/auto-backups/", {"enabled": "on"}).status_code == 404
    assert_customer_isolation(
        client, urls=[url], owner=customer, intruder=intruder, method="post", data={"enabled": "on"}
    )


def test_a_toggle_needs_a_login(client, site):
    response = client.post(reverse("provisioning:service_auto_backups", args=[site.pk]))
    assert response.status_code == 302
    assert "/accounts/login/" in response.url


# --- staff ----------------------------------------------------------------------------------


def test_staff_list_them_read_only_and_need_the_permission(server, panel, staff_alerts):
    service = backed_up(server, keep=0)
    [row] = run_due()  # fails: the plan holds no backups
    assert row.status == AB.Status.FAILED
    url = reverse("admin:provisioning_automaticbackup_changelist")

    assert logged_in(staff_user()).get(url).status_code == 403
    viewer = logged_in(staff_user("view_automaticbackup"))
    page = viewer.get(url + "?status__exact=failed")
    assert page.status_code == 200
    assert row.name in page.content.decode()
    change = reverse("admin:provisioning_automaticbackup_change", args=[row.pk])
    assert viewer.post(change, {"status": "succeeded"}).status_code == 403
    add = reverse("admin:provisioning_automaticbackup_add")
    assert viewer.get(add).status_code == 403

    # retrying is its own permission
    data = {"action": "retry", "_selected_action": [row.pk]}
    viewer.post(url, data)
    assert AB.objects.get(pk=row.pk).status == AB.Status.FAILED
    ProductBackupPolicy.objects.filter(product=service.product).update(keep=3)
    retrier = logged_in(staff_user("view_automaticbackup", "retry_automatic_backup"))
    retrier.post(url, data)
    row.refresh_from_db()
    assert row.status == AB.Status.PENDING
    assert row.attempts == 0
    assert AuditEvent.objects.filter(action="service.auto_backup_retried").exists()
    # what the task queued on commit does
    assert auto_backup_run(backup_id=row.pk).status == AB.Status.SUCCEEDED


def test_staff_set_a_products_backup_policy_on_its_admin_page(server):
    service = backed_up(server)
    page = logged_in(staff_user(superuser=True)).get(
        reverse("admin:catalogue_product_change", args=[service.product.pk])
    )
    assert page.status_code == 200
    assert 'name="backup_policy-0-interval"' in page.content.decode()


def test_the_command_runs_the_due_backups_now(server, panel):
    service = backed_up(server)
    out = io.StringIO()
    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command("auto_backups", stdout=out)
    assert "1 automatic backup(s) queued." in out.getvalue()
    # tasks run in-process here (no broker), as with `make run`
    assert AB.objects.get(service=service).status == AB.Status.SUCCEEDED
    assert len(panel.backups[service.external_id]) == 1


def test_the_demo_site_and_vps_products_have_automatic_backups():
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())  # idempotent
    policies = dict(ProductBackupPolicy.objects.values_list("product__slug", "interval"))
    assert policies == {"wordpress-basic": "daily", "vps-small": "weekly"}


def test_a_backup_that_keeps_stopping_its_worker_fails_after_the_attempts(
    server, panel, staff_alerts, settings
):
    settings.AUTO_BACKUP_MAX_ATTEMPTS = 2
    backed_up(server)
    [pk] = auto_backups_due(now=NOW)
    # Claimed twice, and each time its worker died: left running.
    AB.objects.filter(pk=pk).update(status=AB.Status.RUNNING, started_at=NOW, attempts=2)
    stale = NOW + timedelta(minutes=settings.AUTO_BACKUP_RUNNING_TIMEOUT_MINUTES + 1)

    [row] = run_due(stale)

    assert row.status == AB.Status.FAILED
    assert row.last_error.startswith("Interrupted 2 times")
    assert panel.calls == []
    assert len(mail.outbox) == 1
