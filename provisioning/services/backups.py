"""Automatic (scheduled) backups of customers' services, made through the panel's `Backups`
capability. Each backup is an `AutomaticBackup` row run by the operation kernel
(`billing_portal.common.operations`, kind `auto_backup_kind()`) as the panel calls are: the
kernel claims it, retries a temporary failure with backoff (from AUTO_BACKUP_RETRY_MINUTES,
up to AUTO_BACKUP_MAX_ATTEMPTS), fails it for good with a staff alert, and its sweep hands out
rows whose message was lost (leased for AUTO_BACKUP_LEASE_MINUTES) and those a dead worker
left running (after AUTO_BACKUP_RUNNING_TIMEOUT_MINUTES). The task is named `backups.*`, so it
runs on the `backups` queue, never `panels`: a slow backup run never delays a provisioning
call (provisioning/tests/test_auto_backups_worker.py measures it).

- `auto_backups_due` (beat, every AUTO_BACKUP_SWEEP_MINUTES): writes one row per service due
  in the current slot (the day, or the week's Monday), in batches; the pair (service, slot)
  is unique, so two beats or a duplicate message never make a second. It returns the rows
  it wrote with those the kernel's sweep hands out, each to be queued as one task.
- The kernel's call (`_call`): a backup of the row's name the panel already has (an answer
  lost earlier) is adopted; else room is made and one is created. Making room deletes the
  oldest automatic backups, known by the ids recorded here, while one more would exceed the
  service's quota (`backup_quota`); a manual backup is never deleted. A service no longer
  active is skipped (failed, nobody alerted).
- `service_auto_backups_set`: the customer's toggle, where the product allows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Case, DateField, Exists, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone

from accounts.models import Customer, User
from billing_portal.common import operations as kernel
from billing_portal.common.audit import audit_record
from billing_portal.common.errors import ExternalServiceError
from billing_portal.common.request import RequestMeta
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

AB = AutomaticBackup
Interval = ProductBackupPolicy.Interval


class AutoBackupsRefused(ProvisioningError):
    """The customer may not change automatic backups here: the message says why."""

    code = "auto_backups_refused"


class BackupQuotaFull(PanelError):
    """No room for an automatic backup without deleting a manual one (never done)."""

    code = "backup_quota_full"


class BackupSkipped(PanelError):
    """The service is no longer active (suspended or ended since it was due): nothing to
    back up, and nobody to alert."""

    code = "backup_skipped"


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
    be queued as one `backups.service_backup` task): those written, and those the kernel's
    sweep hands out (a lost message, a dead worker). A constant number of queries per
    batch of AUTO_BACKUP_BATCH_SIZE."""
    now = now or timezone.now()
    written = _rows_for_due_services(now)
    handed_out = kernel.operations_sweep(auto_backup_kind(), now=now)
    return sorted(set(written) | set(handed_out))


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


def _rows_for_due_services(now: datetime) -> list[int]:
    """The ids of the rows written for the services due now."""
    size, after = int(settings.AUTO_BACKUP_BATCH_SIZE), 0
    written: list[int] = []
    due = _due_services(now)
    while True:
        batch = list(due.filter(pk__gt=after)[:size])
        if not batch:
            return written
        AB.objects.bulk_create(
            [
                AB(
                    service_id=pk,
                    slot=slot,
                    idempotency_key=f"auto_backup:{pk}:{slot:%Y%m%d}",
                    created_at=now,
                    next_attempt_at=now,
                )
                for pk, slot in batch
            ],
            ignore_conflicts=True,  # a second beat wrote it first: it is that one's to queue
        )
        ours = AB.objects.filter(service_id__in=[pk for pk, _ in batch], created_at=now)
        written += ours.values_list("pk", flat=True)
        if len(batch) < size:
            return written
        after = batch[-1][0]


# --- one backup: the kernel's kind ----------------------------------------------------------


def auto_backup_kind() -> kernel.OperationKind[AutomaticBackup]:
    """Automatic backups as the kernel runs them, with the settings' numbers as they are
    now. A backup is safe to repeat (a second attempt adopts the first one's backup)."""
    return kernel.OperationKind(
        model=AB,
        task_name="backups.service_backup",
        call=_call,
        on_success=_succeeded,
        on_failure=_failed,
        alert=_alert,
        related=("service__customer",),
        max_attempts=int(settings.AUTO_BACKUP_MAX_ATTEMPTS),
        backoff_base=timedelta(minutes=settings.AUTO_BACKUP_RETRY_MINUTES),
        backoff_cap=timedelta(hours=6),
        running_timeout=timedelta(minutes=settings.AUTO_BACKUP_RUNNING_TIMEOUT_MINUTES),
        lost_grace=timedelta(minutes=settings.AUTO_BACKUP_LEASE_MINUTES),
        interrupted_message="Interrupted (the worker stopped during the backup); run again.",
    )


def auto_backup_run(*, backup_id: int, now: datetime | None = None) -> AutomaticBackup:
    """Run the row's backup once through the kernel (a row already claimed or done is left
    alone); returns the row as it ended."""
    return kernel.operation_run(auto_backup_kind(), backup_id, now=now)


def _call(row: AutomaticBackup) -> str:
    """The kernel's call, outside any transaction: the panel's id of the backup made (or
    adopted) for the row."""
    from provisioning.services.servers import server_panel

    service = Service.objects.select_related("server", "product").get(pk=row.service_id)
    if service.status != Service.Status.ACTIVE or not service.external_id:
        raise BackupSkipped("Skipped: the service was no longer active.", retryable=False)
    if not row.name:  # the same on every attempt: what an attempt made is found by it
        row.name = auto_backup_name(row)
        AB.objects.filter(pk=row.pk).update(name=row.name)
    try:
        if service.server is None:
            raise PanelError("The service is not placed on any server.", retryable=False)
        panel = server_panel(service.server)
        if not isinstance(panel, Backups):
            raise PanelError("This service's panel cannot make backups.", retryable=False)
        return _make(panel, service, row, row.started_at or timezone.now())
    except (KeyError, ValueError, ProvisioningError) as error:  # set-up or answer: for staff
        raise PanelError(str(error), retryable=False) from error


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


def _succeeded(row: AutomaticBackup, made: str, now: datetime) -> None:
    row.backup_id = made


def _failed(row: AutomaticBackup, error: ExternalServiceError) -> None:
    """Failed for good (the kernel's recording transaction, the row locked): audited, but
    a skipped one (nothing was wrong)."""
    if isinstance(error, BackupSkipped):
        return
    audit_record(
        action=ProvisioningAudit.SERVICE_AUTO_BACKUP_FAILED,
        customer=row.service.customer,
        target=row.service,
        details={"backup": row.pk, "attempts": row.attempts, "error": row.last_error},
    )


def _alert(row: AutomaticBackup, error: ExternalServiceError) -> kernel.Alert | None:
    if isinstance(error, BackupSkipped):
        return None
    service = row.service
    return f"Automatic backup failed: {service}", (
        f"The automatic backup {row.name} of {service} (service {service.pk}) failed after "
        f"{row.attempts} attempt(s): {row.last_error}\n"
        "See Provisioning > Automatic backups in the admin."
    )


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
    commit by the kernel; anything but a failed one is refused."""
    with transaction.atomic():
        row = automatic_backup_lock(backup_id)
        if row.status != AB.Status.FAILED:
            raise AutoBackupsRefused("Only a failed automatic backup can be retried.")
        service = Service.objects.select_related("customer").get(pk=row.service_id)
        audit_record(
            action=ProvisioningAudit.SERVICE_AUTO_BACKUP_RETRIED,
            actor=staff,
            customer=service.customer,
            target=service,
            details={"backup": row.pk, "error": row.last_error},
        )
        row.finished_at = None
        kernel.operation_requeue(auto_backup_kind(), row)
    return row
