"""What provisioning and DNS operations share: claiming a due operation for one run, and
finding the ones a lost message or a killed worker left behind.

An operation model has `status` (pending/running/...), `attempts`, `next_attempt_at` and
`started_at`, and belongs to a target (a service, a zone) whose operations run in order.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import models, transaction

PENDING, RUNNING = "pending", "running"


def operation_claim(
    model: type[models.Model],
    operation_id: int,
    now: datetime,
    *,
    target_field: str,
    wait: timedelta,
    requeue: Callable[[int, float], None],
) -> Any | None:
    """Take a due pending operation to running (committed, under its row lock) and count the
    attempt; None when it is not due, not pending (a duplicate message), or an earlier
    operation of the same target is unfinished (then it is requeued after `wait`)."""
    with transaction.atomic():
        operation = model.objects.select_for_update().get(pk=operation_id)
        if operation.status != PENDING or (
            operation.next_attempt_at and operation.next_attempt_at > now
        ):
            return None
        target = getattr(operation, target_field)
        earlier = model.objects.filter(
            **{target_field: target}, pk__lt=operation.pk, status__in=(PENDING, RUNNING)
        )
        if earlier.exists():
            operation.next_attempt_at = now + wait
            operation.save(update_fields=["next_attempt_at"])
            requeue(operation.pk, wait.total_seconds())
            return None
        operation.status, operation.started_at = RUNNING, now
        operation.attempts += 1
        operation.save(update_fields=["status", "started_at", "attempts"])
    return operation


def operations_overdue(
    model: type[models.Model], now: datetime, *, running_timeout: timedelta, grace: timedelta
) -> list[int]:
    """Put back operations left running past `running_timeout` (a killed worker: every
    operation is safe to run again) and return them with the pending ones overdue by
    `grace` (a lost message), for the caller to queue."""
    interrupted = model.objects.filter(status=RUNNING, started_at__lt=now - running_timeout)
    put_back = list(interrupted.values_list("pk", flat=True))
    interrupted.filter(pk__in=put_back).update(
        status=PENDING, next_attempt_at=now, last_error="Interrupted; run again."
    )
    overdue = model.objects.filter(status=PENDING, next_attempt_at__lte=now - grace)
    unscheduled = model.objects.filter(status=PENDING, next_attempt_at__isnull=True)
    return sorted(set(put_back) | set((overdue | unscheduled).values_list("pk", flat=True)))
