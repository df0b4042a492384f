"""The outbound-operation kernel: one runner for every call the portal makes to a system
outside it (panel calls, DNS pushes, VirtFusion token deliveries and removals).

Each call is an `Operation` row (billing_portal.common.models) written in the transaction
that decides it; a task queued on commit runs it through `operation_run`:

1. claim: under the row's lock, a due pending operation becomes running and its attempt is
   counted, committed, so a duplicate task message finds it running and does nothing. While
   an earlier operation of the same target is unfinished it waits (requeued after
   `wait_for_earlier`), so a suspend and the unsuspend after it never swap places;
2. call: the kind's function, outside any transaction; it raises ExternalServiceError;
3. success: the kind's effect is applied in the transaction that records the outcome;
4. failure: a retryable error is retried with exponential backoff (and jitter) until
   `max_attempts`; a permanent one, or the last attempt, fails the operation and staff
   are alerted by mail (once: a failed operation is never run again by itself). When the
   remote side may have applied a call that is not safe to repeat (`idempotent=False`), it
   is neither retried nor failed: it waits in `uncertain` for staff to check. A call
   whose worker died on every attempt fails when it comes back past `max_attempts`;
5. sweep (every few minutes, `operations_sweep`): pending operations whose message was lost
   (still waiting `lost_grace` after their time) are returned for queueing and leased for
   another `lost_grace`, so a long queue is not queued again at every sweep; running ones
   left by a killed worker are run again if the call is safe to repeat, else treated as a
   call that may have applied. Its queries are a constant number per batch, however many
   operations are due (the rows are selected, put back and marked together, never one by
   one).

A concrete kind supplies only an `OperationKind`: its model and task, its call, its success
effect and its messages (with optional status names, when its model's differ).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from django.core.mail import mail_admins
from django.db import transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from billing_portal.common.audit import audit_records_batched
from billing_portal.common.errors import ExternalServiceError, ExternalServiceUnavailable
from billing_portal.common.locks import LockKind, lock_many, lock_one
from billing_portal.common.models import Operation, OperationStatus
from billing_portal.common.outbox import task_publish_on_commit
from billing_portal.common.retry import backoff

logger = logging.getLogger(__name__)

OpT = TypeVar("OpT", bound=Operation)
Alert = tuple[str, str]  # (subject, body) of the mail to staff


def _no_effect(*args: Any) -> None:
    return None


def _no_alert(*args: Any) -> None:
    return None


@dataclass(frozen=True)
class OperationKind(Generic[OpT]):
    """What a concrete operation supplies to the runner.

    - `call(operation)`: the outbound call, outside any transaction; returns a result for
      `on_success` or raises ExternalServiceError (set-up mistakes too, as permanent ones);
    - `on_success(operation, result, now)`: the effect, in the recording transaction with
      the operation locked; it may set more fields on the operation (saved after it);
    - `on_failure(operation, error)`: the operation failed for good (or is uncertain), same
      transaction and rule; `alert(operation, error)`: the staff mail then, or None.
    """

    model: type[OpT]
    task_name: str
    call: Callable[[OpT], Any]
    on_success: Callable[[OpT, Any, datetime], None] = _no_effect
    on_failure: Callable[[OpT, ExternalServiceError], None] = _no_effect
    alert: Callable[[OpT, ExternalServiceError], Alert | None] = _no_alert
    # Operations of one target (e.g. "service_id") run in the order they were recorded.
    target_field: str | None = None
    # Safe to send again when the remote side may have applied it (lost answer, killed
    # worker); if not, such an operation goes to `uncertain` for staff instead.
    idempotent: bool = True
    # Per operation instead (a kind whose rows differ, e.g. a customer's power button and
    # a reinstall): True when that operation is safe to send again. Overrides `idempotent`.
    repeatable: Callable[[Any], bool] | None = None
    pending: str = OperationStatus.PENDING
    running: str = OperationStatus.RUNNING
    succeeded: str = OperationStatus.SUCCEEDED
    failed: str = OperationStatus.FAILED
    uncertain: str = ""
    max_attempts: int = 12
    backoff_base: timedelta = timedelta(seconds=30)
    backoff_cap: timedelta = timedelta(minutes=15)
    backoff_jitter: float = 0.2
    wait_for_earlier: timedelta = timedelta(seconds=30)
    running_timeout: timedelta = timedelta(minutes=10)  # far beyond the adapters' timeouts
    lost_grace: timedelta = timedelta(minutes=2)  # a queued message is that late: lost
    interrupted_message: str = "Interrupted; run again."
    related: tuple[str, ...] = field(default=())  # select_related when recording an outcome
    lock_kind: LockKind = LockKind.OPERATION  # its rows' place in the lock order

    def __post_init__(self) -> None:
        if (not self.idempotent or self.repeatable) and not self.uncertain:
            raise ValueError(f"{self.task_name}: a non-idempotent kind needs `uncertain`.")

    def safe_to_repeat(self, operation: Any) -> bool:
        return self.repeatable(operation) if self.repeatable else self.idempotent


def operation_queue(kind: OperationKind, operation_id: int, countdown: float = 0) -> None:
    """Run the operation after the current transaction commits (in `countdown` seconds)."""
    task_publish_on_commit(kind.task_name, [operation_id], countdown=countdown)


def operation_claim(kind: OperationKind[OpT], operation_id: int, now: datetime) -> OpT | None:
    """Take a due pending operation to running (committed, under its row lock) and count the
    attempt; None when it is not due, not pending (a duplicate message), or an earlier
    operation of the same target is unfinished (then it is requeued after a wait)."""
    with transaction.atomic():
        operation = lock_one(kind.model.objects.all(), kind=kind.lock_kind, pk=operation_id)
        if operation.status != kind.pending or (
            operation.next_attempt_at and operation.next_attempt_at > now
        ):
            return None
        if kind.target_field and _earlier_unfinished(kind, operation, kind.target_field):
            operation.next_attempt_at = now + kind.wait_for_earlier
            operation.save(update_fields=["next_attempt_at"])
            operation_queue(kind, operation.pk, kind.wait_for_earlier.total_seconds())
            return None
        operation.status, operation.started_at = kind.running, now
        operation.attempts += 1
        operation.save()
    return operation


def _earlier_unfinished(kind: OperationKind, operation: Operation, target_field: str) -> bool:
    target = {target_field: getattr(operation, target_field)}
    return (
        kind.model.objects.filter(**target, pk__lt=operation.pk)
        .filter(status__in=(kind.pending, kind.running))
        .exists()
    )


def operation_run(
    kind: OperationKind[OpT], operation_id: int, *, now: datetime | None = None
) -> OpT:
    """Run one due operation once: claim, call, record the outcome. Returns the row."""
    now = now or timezone.now()
    operation = operation_claim(kind, operation_id, now)
    if operation is None:
        return kind.model.objects.get(pk=operation_id)
    if operation.attempts > kind.max_attempts:
        # Only a call whose worker died each time (put back by the sweep) comes back this
        # often: every other attempt recorded its outcome, and the last one failed it.
        stopped = ExternalServiceError(
            f"Interrupted {operation.attempts - 1} times (the worker stopped during the call).",
            retryable=False,
        )
        with transaction.atomic():
            return _record_failure(kind, operation.pk, stopped, now)
    try:
        result = kind.call(operation)
    except ExternalServiceError as error:
        with transaction.atomic():
            return _record_failure(kind, operation.pk, error, now)
    with transaction.atomic():
        return _record_success(kind, operation.pk, result, now)


def _locked(kind: OperationKind[OpT], operation_id: int) -> OpT:
    rows = kind.model.objects.select_related(*kind.related)
    return lock_one(rows, kind=kind.lock_kind, pk=operation_id)


def _record_success(kind: OperationKind[OpT], operation_id: int, result: Any, now: datetime) -> OpT:
    operation = _locked(kind, operation_id)
    operation.status, operation.finished_at, operation.last_error = kind.succeeded, now, ""
    kind.on_success(operation, result, now)
    operation.save()
    return operation


def _record_failure(
    kind: OperationKind[OpT], operation_id: int, error: ExternalServiceError, now: datetime
) -> OpT:
    operation = _locked(kind, operation_id)
    operation.last_error = error.message
    if error.may_have_applied and not kind.safe_to_repeat(operation):
        operation.status = kind.uncertain  # sending it again could do it twice: for staff
    elif error.retryable and operation.attempts < kind.max_attempts:
        operation.status = kind.pending
        wait = backoff(
            operation.attempts,
            base=kind.backoff_base,
            cap=kind.backoff_cap,
            jitter=kind.backoff_jitter,
        )
        operation.next_attempt_at = now + wait
        operation.save()
        operation_queue(kind, operation.pk, wait.total_seconds())
        return operation
    else:
        operation.status = kind.failed
    _end(kind, operation, error, now)
    operation.save()
    return operation


def _end(
    kind: OperationKind[OpT], operation: OpT, error: ExternalServiceError, now: datetime
) -> None:
    """An operation failed for good or uncertain (its status set): its failure effect, and
    the staff alert once the transaction commits. The caller saves it."""
    operation.finished_at = now
    kind.on_failure(operation, error)
    alert = kind.alert(operation, error)
    if alert is not None:
        subject, body = alert
        transaction.on_commit(lambda: mail_admins(subject, body))
    logger.warning("%s #%s ended %s: %s", kind.task_name, operation.pk, operation.status, error)


# Interrupted calls not safe to repeat are marked uncertain this many at a time: a
# transaction of three statements each (lock the rows, append their audit events, update).
SWEEP_BATCH = 500


def operations_sweep(kind: OperationKind, *, now: datetime | None = None) -> list[int]:
    """Deal with operations left running past `running_timeout` by a killed worker (run
    again, or uncertain when the call is not safe to repeat) and return those to run with
    the pending ones overdue by `lost_grace` (a lost message), for the caller to queue."""
    now = now or timezone.now()
    stale = (
        kind.model.objects.filter(status=kind.running)
        # a row set running by hand has no started_at: its age counts from its creation
        .alias(since=Coalesce("started_at", "created_at"))
        .filter(since__lt=now - kind.running_timeout)
    )
    put_back, unsafe = _interrupted(kind, stale)
    if put_back:
        kind.model.objects.filter(pk__in=put_back, status=kind.running).update(
            status=kind.pending, next_attempt_at=now, last_error=kind.interrupted_message
        )
    for start in range(0, len(unsafe), SWEEP_BATCH):
        _interrupted_uncertain(kind, unsafe[start : start + SWEEP_BATCH], now)
    lost = Q(next_attempt_at__lte=now - kind.lost_grace) | Q(next_attempt_at__isnull=True)
    overdue = list(
        kind.model.objects.filter(lost, status=kind.pending).values_list("pk", flat=True)
    )
    if overdue:
        # Leased: handed out again only if still waiting `lost_grace` from now (a long
        # queue is not queued again at every sweep). Rows a worker took meanwhile stay.
        kind.model.objects.filter(lost, pk__in=overdue, status=kind.pending).update(
            next_attempt_at=now
        )
    return sorted(set(put_back) | set(overdue))


def _interrupted(kind: OperationKind, stale: QuerySet[Any]) -> tuple[list[int], list[int]]:
    """The ids of the interrupted operations safe to send again, and of the others: in the
    one query that finds them (a kind deciding per row reads the rows, with `related`)."""
    if kind.repeatable is None:
        ids = list(stale.values_list("pk", flat=True))
        return (ids, []) if kind.idempotent else ([], ids)
    safe: list[int] = []
    unsafe: list[int] = []
    for row in stale.select_related(*kind.related).order_by("pk"):
        (safe if kind.repeatable(row) else unsafe).append(row.pk)
    return safe, unsafe


def _interrupted_uncertain(
    kind: OperationKind[Any], operation_ids: list[int], now: datetime
) -> None:
    """Interrupted calls that are not safe to repeat wait in `uncertain` for staff, each as
    `_record_failure` leaves a call that may have applied (effect, audit, alert), but in
    one transaction for the batch: the rows still running are locked together in id order,
    their audit events appended in one statement and the rows written in one UPDATE."""
    error = ExternalServiceUnavailable(kind.interrupted_message, may_have_applied=True)
    with transaction.atomic(), audit_records_batched():
        rows = kind.model.objects.select_related(*kind.related)
        rows = rows.filter(pk__in=operation_ids, status=kind.running)  # not finished meanwhile
        running = lock_many(rows, kind=kind.lock_kind)
        before = [_values(operation) for operation in running]
        for operation in running:
            operation.status, operation.last_error = kind.uncertain, error.message
            _end(kind, operation, error, now)
        if running:
            kind.model.objects.bulk_update(running, _changed_fields(before, running))


def _values(row: Operation) -> dict[str, Any]:
    return {f.attname: getattr(row, f.attname) for f in row._meta.concrete_fields}


def _changed_fields(before: list[dict[str, Any]], rows: list[OpT]) -> list[str]:
    """The fields that differ from `before` on any of `rows` (the status, the error and
    whatever the failure effect set), and the auto_now ones, set as `save()` would set
    them: what `bulk_update` must write."""
    changed: list[str] = []
    saved_at = timezone.now()
    for field_ in rows[0]._meta.concrete_fields:
        if getattr(field_, "auto_now", False):
            for row in rows:
                setattr(row, field_.attname, saved_at)
            changed.append(field_.name)
        elif any(
            getattr(r, field_.attname) != b[field_.attname]
            for r, b in zip(rows, before, strict=True)
        ):
            changed.append(field_.name)
    return changed


def operation_requeue(kind: OperationKind[OpT], operation: OpT) -> OpT:
    """Queue an operation (again) from a fresh count of attempts: staff retrying a failed
    or uncertain one, or a row that starts another kind of operation (tokens delivered,
    then taken back). The caller holds its row lock, checks its state and records why."""
    operation.status, operation.attempts = kind.pending, 0
    operation.next_attempt_at = timezone.now()
    operation.save()
    operation_queue(kind, operation.pk)
    return operation
