"""Celery tasks of the DNS app: take ids, reload, call one service (pushes on `panels`)."""

from celery import shared_task

from dnszones.services import (
    dns_operation_run,
    dns_operations_prune,
    dns_operations_sweep,
    dns_reconcile,
)


@shared_task(name="dns.operation_run")
def dns_operation_run_task(operation_id: int) -> str:
    return dns_operation_run(operation_id=operation_id).status


@shared_task(name="dns.operations_sweep")
def dns_operations_sweep_task() -> int:
    due = dns_operations_sweep()
    for operation_id in due:
        dns_operation_run_task.delay(operation_id)
    return len(due)


@shared_task(name="dns.reconcile")
def dns_reconcile_task() -> dict[str, int]:
    return dns_reconcile()


@shared_task(name="dns.operations_prune")
def dns_operations_prune_task() -> int:
    """Daily: delete old succeeded DNS pushes."""
    return dns_operations_prune()
