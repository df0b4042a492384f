"""Automatic (scheduled) backups of customers' services, made through the panel's `Backups`
capability by tasks on the `backups` queue, never `panels`: a slow backup run never delays a
provisioning call (provisioning/tests/test_auto_backups_worker.py measures it).

- `auto_backups_due` (beat, every AUTO_BACKUP_SWEEP_MINUTES): writes one AutomaticBackup row
  per service due in the current slot (the day, or the week's Monday), in batches; the pair
  (service, slot) is unique, so two beats or a duplicate message never make a second. It
  then hands out the rows waiting to run (new ones, retries whose time came, and ones whose
  message was lost or whose worker died), each leased for AUTO_BACKUP_LEASE_MINUTES so a
  long queue is not handed out again at every beat.
- `auto_backup_run(id)`: claims the row (a row already claimed or done is left alone),
  adopts a backup of the row's name the panel already has (an answer lost earlier) or makes
  room and creates one. Making room deletes the oldest automatic backups, known by the ids
  recorded here, while one more would exceed the service's quota (`backup_quota`); a manual
  backup is never deleted. A temporary failure is tried again with backoff, up to
  AUTO_BACKUP_MAX_ATTEMPTS; then, or at once for a permanent one, the row fails and staff
  are told.
- `service_auto_backups_set`: the customer's toggle, where the product allows it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import mail_admins
from django.db import transaction
from django.db.models import Case, DateField, Exists, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone

from accounts.models import Customer, User
from billing_portal.common.audit import audit_record
from billing_portal.common.errors import ExternalServiceError
from billing_portal.common.request import RequestMeta
from billing_portal.common.retry import backoff
from provisioning.audit import ProvisioningAudit
from provisioning.errors import PanelError, ProvisioningError
from provisioning.locks import automatic_backup_lock, service_lock
from provisioning.models import (
    AutomaticBackup,
    ProductBackupPolicy,
    Service,
    ServiceBackupSetting,
    SitePlan,
)
from provisioning.panels.base import Backups

logger = logging.getLogger(__name__)

AB = AutomaticBackup
Interval = ProductBackupPolicy.Interval


class AutoBackupsRefused(ProvisioningError):
    """The customer may not change automatic backups here: the message says why."""

    code = "auto_backups_refused"


class BackupQuotaFull(PanelError):
    """No room for an automatic backup without deleting a manual one (never done)."""

    code = "backup_quota_full"


# --- slots and quotas -----------------------------------------------------------------------


def backup_slot(interval: str, today: date) -> date:
    """The slot a backup made today belongs to: the day, or for weekly backups the Monday."""
    if interval == Interval.WEEKLY:
        return today - timedelta(days=today.weekday())
    return today


def auto_backup_name(row: AutomaticBackup) -> str:
    """`AUTO{YYYYMMDD}-{N}`: apart from manual `BAK...` backups, and the same on every
    attempt of the row, so a backup made by an attempt whose answer was lost is found."""
    return f"AUTO{row.slot:%Y%m%d}-{row.pk}"


@dataclass(frozen=True)
class BackupQuota:
    """How many backups a service may hold: `total` on its panel, manual ones included (its
    site plan's `backups`; None: no plan says), and `automatic` of them made by the portal
    (the product policy's `keep`, else the total, else AUTO_BACKUP_DEFAULT_KEEP). A `keep`
    below the plan's total leaves room for the customer's own backups."""

    total: int | None
    automatic: int


def backup_quota(service: Service) -> BackupQuota:
    policy = ProductBackupPolicy.objects.filter(product_id=service.product_id).first()
    plan_name = service.product.module_settings.get("plan")
    plan = SitePlan.objects.filter(name=plan_name).first() if plan_name else None
    total = plan.backups if plan is not None else None
    keep = policy.keep if policy is not None else None
    automatic = keep if keep is not None else total
    if automatic is None:
        automatic = int(settings.AUTO_BACKUP_DEFAULT_KEEP)
    if total is not None:
        automatic = min(automatic, total)
    return BackupQuota(total=total, automatic=automatic)


# --- the beat: rows for due services, then the rows to run ----------------------------------


def auto_backups_due(*, now: datetime | None = None) -> list[int]:
    """Write the rows of services due now and return the ids of the rows to run (each to
    be queued as one `backups.service_backup` task). A constant number of queries per
    batch of AUTO_BACKUP_BATCH_SIZE."""
    now = now or timezone.now()
    _rows_for_due_services(now)
    return _rows_to_run(now)


def _due_services(now: datetime) -> QuerySet[Service, tuple[int, date]]:
    """(id, slot) of active services set up on a panel whose product includes automatic
    backups, left on by their customer (or not theirs to turn off), without a row for the
    current slot; in id order."""
    today = timezone.localdate(now)
    slot = Case(
        When(
            product__backup_policy__interval=Interval.WEEKLY,
            then=Value(backup_slot(Interval.WEEKLY, today)),
        ),
        default=Value(backup_slot(Interval.DAILY, today)),
        output_field=DateField(),
    )
    made = AB.objects.filter(service=OuterRef("pk"), slot=OuterRef("backup_slot"))
    wanted = (
        Q(backup_setting__isnull=True)
        | Q(backup_setting__enabled=True)
        | Q(product__backup_policy__customer_may_disable=False)
    )
    return (
        Service.objects.filter(
            wanted, status=Service.Status.ACTIVE, product__backup_policy__isnull=False
        )
        .exclude(external_id="")
        .exclude(server=None)
        .annotate(backup_slot=slot)
        .filter(~Exists(made))
        .order_by("pk")
        .values_list("pk", "backup_slot")
    )


def _rows_for_due_services(now: datetime) -> None:
    size, after = int(settings.AUTO_BACKUP_BATCH_SIZE), 0
    due = _due_services(now)
    while True:
        batch = list(due.filter(pk__gt=after)[:size])
        if not batch:
            return
        AB.objects.bulk_create(
            [
                AB(service_id=pk, slot=slot, created_at=now, next_attempt_at=now)
                for pk, slot in batch
            ],
            ignore_conflicts=True,  # a second beat wrote it first: it is that one's
        )
        if len(batch) < size:
            return
        after = batch[-1][0]


def _rows_to_run(now: datetime) -> list[int]:
    """Rows waiting whose time came (new, a retry, a lost message), and rows left running
    past AUTO_BACKUP_RUNNING_TIMEOUT_MINUTES (the worker died): leased and returned."""
    size = int(settings.AUTO_BACKUP_BATCH_SIZE)
    stale = now - timedelta(minutes=settings.AUTO_BACKUP_RUNNING_TIMEOUT_MINUTES)
    lease = now + timedelta(minutes=settings.AUTO_BACKUP_LEASE_MINUTES)
    waiting = Q(status=AB.Status.PENDING, next_attempt_at__lte=now) | Q(
        status=AB.Status.RUNNING, started_at__lte=stale
    )
    ids: list[int] = []
    after = 0
    while True:
        batch = list(
            AB.objects.filter(waiting, pk__gt=after)
            .order_by("pk")
            .values_list("pk", flat=True)[:size]
        )
        if not batch:
            return ids
        # Only rows still as selected (a worker may have claimed one meanwhile).
        AB.objects.filter(waiting, pk__in=batch).update(
            status=AB.Status.PENDING, next_attempt_at=lease
        )
        ids += batch
        if len(batch) < size:
            return ids
        after = batch[-1]


# --- one backup -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Claimed:
    row: AutomaticBackup
    service: Service


def auto_backup_run(*, backup_id: int, now: datetime | None = None) -> AutomaticBackup:
    """Make the row's backup (see the module's docstring); returns the row as it ended."""
    from provisioning.services.servers import server_panel

    now = now or timezone.now()
    claimed = _claim(backup_id, now)
    if claimed is None:
        return AB.objects.get(pk=backup_id)
    row, service = claimed.row, claimed.service
    assert service.server is not None  # noqa: S101 (checked by the claim)
    if row.attempts > settings.AUTO_BACKUP_MAX_ATTEMPTS:
        # Only rows left running come back this often: each try stopped its worker.
        interrupted = PanelError(
            f"Interrupted {row.attempts - 1} times (the worker stopped during the backup).",
            retryable=False,
        )
        return _failed(row.pk, interrupted, now)
    try:
        panel = server_panel(service.server)
        if not isinstance(panel, Backups):
            raise PanelError("This service's panel cannot make backups.", retryable=False)
        made = _make(panel, service, row, now)
    except ExternalServiceError as error:
        return _failed(row.pk, error, now)
    return _succeeded(row.pk, made, now)


def _claim(backup_id: int, now: datetime) -> _Claimed | None:
    """Take a waiting row (None when another worker has it or it is done)."""
    with transaction.atomic():
        try:
            row = automatic_backup_lock(backup_id)
        except AB.DoesNotExist:
            return None
        if row.status != AB.Status.PENDING:
            return None  # a duplicate message, or a second beat's
        service = Service.objects.select_related("server", "product").get(pk=row.service_id)
        if service.status != Service.Status.ACTIVE or not service.external_id:
            # Suspended or ended since it was due: nothing to back up, nobody to alert.
            row.status, row.finished_at = AB.Status.FAILED, now
            row.last_error = "Skipped: the service was no longer active."
            row.save(update_fields=["status", "finished_at", "last_error"])
            return None
        row.status, row.started_at = AB.Status.RUNNING, now
        row.attempts += 1
        row.name = row.name or auto_backup_name(row)
        row.save(update_fields=["status", "started_at", "attempts", "name"])
    return _Claimed(row=row, service=service)


def _make(panel: Backups, service: Service, row: AutomaticBackup, now: datetime) -> str:
    """The backup's id on the panel: adopted when an earlier attempt made it, else made
    after room is made for it. Outside any transaction (panel calls)."""
    listed = panel.backups_list(service.external_id)
    for backup in listed:
        if backup.get("name") == row.name:
            return str(backup["id"])
    _make_room(panel, service, listed, now)
    created = panel.backup_create(service.external_id, name=row.name)
    return str(created["id"])


def _make_room(
    panel: Backups, service: Service, listed: list[dict[str, Any]], now: datetime
) -> None:
    """Delete the service's oldest automatic backups while one more would exceed its quota
    (of automatic backups, or of all its backups); only backups this portal made
    automatically (their ids are on its rows) are ever deleted."""
    quota = backup_quota(service)
    if quota.automatic < 1:
        raise BackupQuotaFull("This plan includes no automatic backups.", retryable=False)
    on_panel = {str(backup["id"]) for backup in listed}
    ours = list(
        AB.objects.filter(
            service=service, status=AB.Status.SUCCEEDED, backup_id__in=on_panel
        ).order_by("slot", "pk")
    )
    held = len(on_panel)

    def over() -> bool:
        return len(ours) + 1 > quota.automatic or (
            quota.total is not None and held + 1 > quota.total
        )

    while ours and over():
        old = ours.pop(0)
        panel.backup_delete(service.external_id, backup_id=old.backup_id)
        AB.objects.filter(pk=old.pk).update(status=AB.Status.ROTATED, rotated_at=now)
        held -= 1
    if over():
        raise BackupQuotaFull(
            f"The backup quota ({quota.total}) is full of manual backups; automatic backups "
            "never delete those. Delete a manual backup to make room.",
            retryable=False,
        )


def _succeeded(backup_id: int, made: str, now: datetime) -> AutomaticBackup:
    with transaction.atomic():
        row = automatic_backup_lock(backup_id)
        row.status, row.backup_id, row.finished_at = AB.Status.SUCCEEDED, made, now
        row.last_error = ""
        row.save(update_fields=["status", "backup_id", "finished_at", "last_error"])
    return row


def _failed(backup_id: int, error: ExternalServiceError, now: datetime) -> AutomaticBackup:
    """Again later (backoff) while the failure is temporary and attempts remain; else failed
    for good, audited, and staff told."""
    with transaction.atomic():
        row = automatic_backup_lock(backup_id)
        row.last_error = error.message[:2000]
        if error.retryable and row.attempts < settings.AUTO_BACKUP_MAX_ATTEMPTS:
            row.status = AB.Status.PENDING
            row.next_attempt_at = now + backoff(
                row.attempts,
                base=timedelta(minutes=settings.AUTO_BACKUP_RETRY_MINUTES),
                cap=timedelta(hours=6),
            )
            row.save(update_fields=["status", "next_attempt_at", "last_error"])
            return row
        row.status, row.finished_at = AB.Status.FAILED, now
        row.save(update_fields=["status", "finished_at", "last_error"])
        service = Service.objects.select_related("customer").get(pk=row.service_id)
        audit_record(
            action=ProvisioningAudit.SERVICE_AUTO_BACKUP_FAILED,
            customer=service.customer,
            target=service,
            details={"backup": row.pk, "attempts": row.attempts, "error": row.last_error},
        )
        subject = f"Automatic backup failed: {service}"
        body = (
            f"The automatic backup {row.name} of {service} (service {service.pk}) failed after "
            f"{row.attempts} attempt(s): {row.last_error}\n"
            "See Provisioning > Automatic backups in the admin."
        )
        transaction.on_commit(lambda: mail_admins(subject, body))
    logger.warning("Automatic backup %s failed: %s", row.pk, row.last_error)
    return row


# --- the customer's toggle ------------------------------------------------------------------


def service_auto_backups_set(
    *,
    customer: Customer,
    service_id: int,
    enabled: bool,
    actor: User | None = None,
    meta: RequestMeta | None = None,
) -> ServiceBackupSetting:
    """Turn automatic backups of the customer's own active service on or off, where its
    product allows it (Service.DoesNotExist for anyone else's)."""
    with transaction.atomic():
        service = service_lock(service_id, related=("product",))
        if service.customer_id != customer.pk:
            raise Service.DoesNotExist
        if service.status != Service.Status.ACTIVE:
            raise AutoBackupsRefused("Only an active service's backups can be changed.")
        policy = ProductBackupPolicy.objects.filter(product_id=service.product_id).first()
        if policy is None:
            raise AutoBackupsRefused("This plan does not include automatic backups.")
        if not policy.customer_may_disable:
            raise AutoBackupsRefused("Automatic backups are always on for this plan.")
        setting, _ = ServiceBackupSetting.objects.update_or_create(
            service=service, defaults={"enabled": enabled, "changed_at": timezone.now()}
        )
        audit_record(
            action=ProvisioningAudit.SERVICE_AUTO_BACKUPS_CHANGED,
            actor=actor,
            customer=customer,
            target=service,
            meta=meta,
            details={"enabled": enabled},
        )
    return setting


# --- staff ----------------------------------------------------------------------------------


def auto_backup_retry(*, backup_id: int, staff: User) -> AutomaticBackup:
    """Staff try a failed automatic backup again (from its first attempt), queued after
    commit; anything but a failed one is refused."""
    from provisioning.tasks import auto_backup_task

    with transaction.atomic():
        row = automatic_backup_lock(backup_id)
        if row.status != AB.Status.FAILED:
            raise AutoBackupsRefused("Only a failed automatic backup can be retried.")
        row.status, row.attempts = AB.Status.PENDING, 0
        row.next_attempt_at = timezone.now() + timedelta(minutes=settings.AUTO_BACKUP_LEASE_MINUTES)
        row.finished_at = None
        row.save(update_fields=["status", "attempts", "next_attempt_at", "finished_at"])
        service = Service.objects.select_related("customer").get(pk=row.service_id)
        audit_record(
            action=ProvisioningAudit.SERVICE_AUTO_BACKUP_RETRIED,
            actor=staff,
            customer=service.customer,
            target=service,
            details={"backup": row.pk, "error": row.last_error},
        )
        transaction.on_commit(lambda: auto_backup_task.delay(backup_id))
    return row
