"""Celery tasks of the provisioning app: take ids, reload, call one service. Panel calls run
on the `panels` queue (routes in settings)."""

from celery import shared_task
from django.core.mail import mail_admins

from provisioning.models import AutomaticBackup, Server
from provisioning.services import (
    operation_logs_prune,
    operation_run,
    operations_sweep,
    server_check,
)
from provisioning.services.backups import auto_backup_run, auto_backups_due


@shared_task(name="provisioning.operation_run")
def operation_run_task(operation_id: int) -> str:
    return operation_run(operation_id=operation_id).status


@shared_task(name="provisioning.operations_sweep")
def operations_sweep_task() -> int:
    """Every few minutes: queue operations whose message was lost or whose worker died."""
    due = operations_sweep()
    for operation_id in due:
        operation_run_task.delay(operation_id)
    return len(due)


@shared_task(name="provisioning.operation_logs_prune")
def operation_logs_prune_task() -> int:
    """Daily: empty the summaries of old finished panel operations (the rows stay)."""
    return operation_logs_prune()


@shared_task(name="provisioning.server_check")
def server_check_task(server_id: int) -> bool:
    return server_check(server_id=server_id).is_online


@shared_task(name="provisioning.servers_check")
def servers_check_task() -> int:
    """Every few minutes: test each active server's connection (one task each)."""
    ids = list(Server.objects.filter(is_active=True).values_list("pk", flat=True))
    for server_id in ids:
        server_check_task.delay(server_id)
    return len(ids)


@shared_task(name="provisioning.staff_alert")
def staff_alert_task(subject: str, message: str) -> None:
    mail_admins(subject, message)


# Automatic backups of customers' services: named `backups.*`, so routed to the `backups`
# queue (settings), never `panels`: however slow the backups, panel calls are not held up.
@shared_task(name="backups.due_run")
def auto_backups_due_task() -> int:
    """Every AUTO_BACKUP_SWEEP_MINUTES (beat): one task per backup due (or to try again)."""
    due = auto_backups_due()
    for backup_id in due:
        auto_backup_task.delay(backup_id)
    return len(due)


@shared_task(name="backups.service_backup")
def auto_backup_task(backup_id: int) -> str:
    """One automatic backup, run by the operation kernel (also its retries' task)."""
    try:
        return auto_backup_run(backup_id=backup_id).status
    except AutomaticBackup.DoesNotExist:
        return "gone"  # its service was deleted meanwhile, and the row with it
