"""Provisioning operations: every panel call is a row first, then the operation kernel
(`billing_portal.common.operations`) runs it.

- `operation_enqueue` records the call in the transaction that decides it (the service row
  locked) and queues the task on commit, so a rolled-back decision sends nothing.
- `operation_run` (the task's one service) runs it through the kernel: claimed under its
  row lock, waiting while an earlier operation of the same service is unfinished (so a
  suspend and the unsuspend after it never swap places), the panel called outside any
  transaction, its result applied to the service.
- Every adapter call is safe to repeat (see `provisioning.panels.base`): create adopts what
  carries our reference. So a retry after a lost answer, after a timeout or after a killed
  worker never makes a second server.
- Retryable errors (timeouts, connection errors, 429, 5xx) are retried with exponential
  backoff and jitter, for about two hours of panel downtime; permanent ones fail at once.
  Failed operations wait in the admin queue (retry, mark resolved) and staff get an email.
- `operations_sweep` (every few minutes) re-queues operations whose message was lost and
  puts back operations left running by a killed worker.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from billing_portal.common import operations as kernel
from billing_portal.common.db import in_batches
from billing_portal.common.errors import ExternalServiceError
from provisioning.errors import PanelError, ProvisioningError
from provisioning.locks import provisioning_operation_lock
from provisioning.models import ProvisioningOperation, Service
from provisioning.panels.base import AccountSpec, PackageChange, ProvisionResult
from provisioning.services import actions
from provisioning.services.servers import server_panel

logger = logging.getLogger(__name__)

Op = ProvisioningOperation


def operation_enqueue(*, service: Service, kind: str, payload: dict[str, Any] | None = None) -> Op:
    """Record a panel call for `service` (locked by the caller) and run it after commit."""
    sequence = service.operations.filter(kind=kind).count() + 1
    operation = Op.objects.create(
        service=service,
        kind=kind,
        idempotency_key=f"service:{service.pk}:{kind}:{sequence}",
        payload=payload or {},
        next_attempt_at=timezone.now(),
    )
    kernel.operation_queue(PANEL_CALL, operation.pk)
    return operation


def account_spec(service: Service) -> AccountSpec:
    customer = service.customer
    options = {opt.option.name: opt.quantity for opt in service.options.select_related("option")}
    # What this customer's other services on the server are, so a panel without a look-up
    # by our reference can still tell its own earlier creation from the customer's others.
    linked = (
        Service.objects.filter(customer=customer, server=service.server)
        .exclude(pk=service.pk)
        .exclude(external_id="")
        .values_list("external_id", flat=True)
    )
    return AccountSpec(
        reference=service.reference,
        service_id=service.pk,
        customer_id=customer.pk,
        email=customer.user.email,
        name=customer.name or customer.user.email,
        settings={
            **service.product.module_settings,
            "options": options,
            "linked_external_ids": sorted(linked),
        },
        hostname=service.hostname,
        domain=service.domain,
        username=service.username,
    )


def _panel_call(operation: Op, service: Service) -> ProvisionResult | dict[str, Any] | None:
    if service.server is None:  # _call refuses these first
        raise ValueError("The service is not placed on any server.")
    panel = server_panel(service.server)
    if operation.kind == Op.Kind.ACTION:
        return actions.action_call(operation, panel, service)
    if operation.kind == Op.Kind.CREATE:
        return panel.create(account_spec(service))
    if operation.kind == Op.Kind.SUSPEND:
        panel.suspend(service.external_id, reason=operation.payload.get("reason", ""))
    elif operation.kind == Op.Kind.UNSUSPEND:
        panel.unsuspend(service.external_id)
    elif operation.kind == Op.Kind.TERMINATE:
        panel.terminate(service.external_id)
    elif operation.kind == Op.Kind.CHANGE_PACKAGE:
        if not isinstance(panel, PackageChange):
            raise ValueError(f"The {service.server.module} module cannot change packages.")
        panel.change_package(service.external_id, settings=operation.payload.get("settings", {}))
    return None


def _call(operation: Op) -> ProvisionResult | dict[str, Any] | None:
    service = Service.objects.select_related("server", "product", "customer__user").get(
        pk=operation.service_id
    )
    Op.objects.filter(pk=operation.pk).update(request_summary=_request_summary(operation, service))
    if service.server is None:
        raise PanelError("The service is not placed on any server.", retryable=False)
    try:
        return _panel_call(operation, service)
    except (KeyError, ValueError, ProvisioningError) as error:  # set-up mistakes: for staff
        raise PanelError(str(error), retryable=False) from error


def _request_summary(operation: Op, service: Service) -> dict[str, Any]:
    """What was asked of which panel, for staff; never credentials or passwords."""
    return {
        "kind": operation.kind,
        "server": service.server.name if service.server else "",
        "module": service.server.module if service.server else "",
        "reference": service.reference,
        "external_id": service.external_id,
        "payload": operation.payload,
        "product_settings": sorted(service.product.module_settings),
    }


def _summary(result: ProvisionResult | dict[str, Any] | None) -> dict[str, Any]:
    """What the panel answered, without secrets."""
    if result is None or isinstance(result, dict):
        return {"ok": True}
    return {
        "external_id": result.external_id,
        "username": result.username,
        "panel_url": result.panel_url,
        "details": result.details,
    }


def _succeeded(
    operation: Op, result: ProvisionResult | dict[str, Any] | None, now: datetime
) -> None:
    from provisioning.services.lifecycle import service_provisioned

    if operation.kind == Op.Kind.ACTION:
        actions.action_succeeded(operation, result if isinstance(result, dict) else None)
        return
    operation.response_summary = _summary(result)
    if operation.kind == Op.Kind.CREATE and result is not None and not isinstance(result, dict):
        service_provisioned(service_id=operation.service_id, result=result)


def _failed(operation: Op, error: ExternalServiceError) -> None:
    from provisioning.services.lifecycle import service_provision_failed

    if operation.kind == Op.Kind.CREATE:
        service_provision_failed(service_id=operation.service_id, error=error.message)
    elif operation.kind == Op.Kind.ACTION:
        actions.action_failed(operation, error)


def _alert(operation: Op, error: ExternalServiceError) -> tuple[str, str] | None:
    if operation.status == Op.Status.UNCERTAIN:
        return f"Panel operation needs checking: {operation}", (
            f"{operation}: the panel's answer was lost ({error.message}) and this call is not "
            "safe to send twice. Check the panel, then retry it or mark it resolved in the "
            "admin (Provisioning > Provisioning operations)."
        )
    if operation.kind == Op.Kind.ACTION and not error.retryable:
        return None  # the panel refused a customer's request: the customer sees why
    message = (
        f"{operation} failed after {operation.attempts} attempt(s): {error.message}\n"
        "Retry it or mark it resolved in the admin (Provisioning > Provisioning operations)."
    )
    return f"Panel operation failed: {operation}", message


# 12 attempts, 30 s doubling to a 15 min cap: about two hours of panel downtime.
PANEL_CALL = kernel.OperationKind(
    model=Op,
    task_name="provisioning.operation_run",
    call=_call,
    on_success=_succeeded,
    on_failure=_failed,
    alert=_alert,
    target_field="service_id",
    # read along when recording an outcome, and by `repeatable` (the action of the module)
    related=("service__customer", "service__server", "service__product"),
    # Lifecycle calls adopt or accept what is already done; a customer's reinstall or
    # rollback is not sent twice: a lost answer waits for staff as `uncertain`.
    repeatable=actions.action_repeatable,
    uncertain=Op.Status.UNCERTAIN,
)


def operation_run(*, operation_id: int, now: datetime | None = None) -> Op:
    """Run one due operation once: claim, call the panel, record the outcome."""
    return kernel.operation_run(PANEL_CALL, operation_id, now=now)


def operations_sweep(*, now: datetime | None = None) -> list[int]:
    """Put back operations a killed worker left running and return every pending operation
    that is overdue (its message was lost), for the caller to queue."""
    return kernel.operations_sweep(PANEL_CALL, now=now)


@transaction.atomic
def operation_retry(*, operation_id: int, staff: User) -> Op:
    from provisioning.services.lifecycle import service_provision_retry

    operation = provisioning_operation_lock(operation_id)
    if operation.status not in (Op.Status.FAILED, Op.Status.UNCERTAIN):
        raise ProvisioningError("Only failed operations or those needing a check can be retried.")
    operation.resolution = f"Retried by {staff}"
    if operation.kind == Op.Kind.CREATE:
        service_provision_retry(service_id=operation.service_id, actor=staff)
    return kernel.operation_requeue(PANEL_CALL, operation)


@transaction.atomic
def operation_mark_resolved(*, operation_id: int, staff: User, note: str) -> Op:
    """Staff fixed it by hand on the panel: the operation is closed as cancelled."""
    if not note.strip():
        raise ProvisioningError("Say what was done: it is kept with the operation.")
    operation = provisioning_operation_lock(operation_id)
    if operation.status not in (Op.Status.FAILED, Op.Status.PENDING, Op.Status.UNCERTAIN):
        raise ProvisioningError(
            "Only failed, waiting or unchecked operations can be marked resolved."
        )
    operation.status, operation.finished_at = Op.Status.CANCELLED, timezone.now()
    operation.resolution = f"{staff}: {note.strip()}"
    operation.save()
    return operation


def operation_logs_prune() -> int:
    """Empty the request and response summaries of panel operations that ended (succeeded
    or cancelled) more than OPERATION_LOG_RETENTION_DAYS ago; returns how many. The rows
    stay: their idempotency keys count a service's operations of each kind, so a deleted
    one would let the next operation take its key. Failed ones keep everything for staff."""
    cutoff = timezone.now() - timedelta(days=settings.OPERATION_LOG_RETENTION_DAYS)
    ended = Op.objects.filter(
        status__in=(Op.Status.SUCCEEDED, Op.Status.CANCELLED), updated_at__lt=cutoff
    )
    old = ended.exclude(request_summary={}, response_summary={})
    # update() leaves updated_at as it was: the time the operation ended
    return in_batches(old, lambda rows: rows.update(request_summary={}, response_summary={}))
