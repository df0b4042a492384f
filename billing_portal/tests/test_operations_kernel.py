"""The outbound-operation kernel (billing_portal.common.operations) on the database: claim,
backoff, permanent failure, calls that may have applied, and the sweeper. A real concrete
model (DnsOperation) runs under kinds whose call the test controls."""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from billing_portal.common import operations as kernel
from billing_portal.common.errors import (
    ExternalServiceError,
    ExternalServiceRejected,
    ExternalServiceUnavailable,
)
from billing_portal.common.operations import OperationKind, operation_run, operations_sweep
from billing_portal.common.testing import errors_of, run_together
from dnszones.models import DnsOperation

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("staff_alerts")]


class Remote:
    """The outside system: answers each call with the next scripted outcome (an exception
    to raise, or a value to return), and remembers the effects of what it did."""

    def __init__(self, *outcomes: Any) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[int] = []
        self.effects: list[tuple[int, Any]] = []
        self.failures: list[tuple[int, str]] = []

    def call(self, operation: DnsOperation) -> Any:
        self.calls.append(operation.pk)
        outcome = self.outcomes.pop(0) if self.outcomes else "ok"
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def kind(self, **overrides: Any) -> OperationKind[DnsOperation]:
        def alert(operation: DnsOperation, error: ExternalServiceError) -> tuple[str, str]:
            return f"Test operation {operation.status}", error.message

        base: OperationKind[DnsOperation] = OperationKind(
            model=DnsOperation,
            task_name="tests.operation_run",
            call=self.call,
            on_success=lambda op, result, now: self.effects.append((op.pk, result)),
            on_failure=lambda op, error: self.failures.append((op.pk, op.status)),
            alert=alert,
            target_field="zone_name",
            max_attempts=3,
        )
        return dataclasses.replace(base, **overrides)


@pytest.fixture
def queued(monkeypatch) -> list[tuple[str, int, float]]:
    """What the runner queued (task, id, countdown), instead of publishing it."""
    published: list[tuple[str, int, float]] = []
    monkeypatch.setattr(
        kernel,
        "task_publish_on_commit",
        lambda name, args, countdown=0: published.append((name, args[0], countdown)),
    )
    return published


def _operation(zone: str = "example.test", **fields: Any) -> DnsOperation:
    key = f"{zone}:{DnsOperation.objects.count()}"
    values = {"kind": "create_zone", "next_attempt_at": timezone.now(), **fields}
    return DnsOperation.objects.create(zone_name=zone, idempotency_key=key, **values)


def _later(minutes: float) -> datetime:
    return timezone.now() + timedelta(minutes=minutes)


def test_success_runs_the_call_once_and_applies_its_effect(queued):
    remote = Remote("created")
    operation = _operation()
    done = operation_run(remote.kind(), operation.pk)
    assert (done.status, done.attempts, done.last_error) == ("succeeded", 1, "")
    assert done.started_at is not None
    assert done.finished_at is not None
    assert remote.effects == [(operation.pk, "created")]
    # a duplicate message finds it finished and does nothing
    assert operation_run(remote.kind(), operation.pk).status == "succeeded"
    assert remote.calls == [operation.pk]


def test_claim_refuses_an_operation_already_running_or_not_due(queued):
    remote = Remote()
    kind = remote.kind()
    operation = _operation(next_attempt_at=_later(5))
    assert kernel.operation_claim(kind, operation.pk, timezone.now()) is None  # not due
    claimed = kernel.operation_claim(kind, operation.pk, _later(6))
    assert (claimed.status, claimed.attempts) == ("running", 1)
    assert kernel.operation_claim(kind, operation.pk, _later(6)) is None  # a duplicate
    operation.refresh_from_db()
    assert (operation.status, operation.attempts) == ("running", 1)


def test_an_operation_waits_for_the_earlier_unfinished_one_of_its_target(queued):
    remote = Remote()
    kind = remote.kind(wait_for_earlier=timedelta(seconds=5))
    first, second = _operation(), _operation()
    other_zone = _operation("other.test")
    now = timezone.now()
    assert operation_run(kind, second.pk, now=now).status == "pending"
    second.refresh_from_db()
    assert (second.attempts, second.next_attempt_at) == (0, now + timedelta(seconds=5))
    assert queued == [("tests.operation_run", second.pk, 5.0)]
    assert operation_run(kind, other_zone.pk, now=now).status == "succeeded"  # not held up
    assert operation_run(kind, first.pk, now=now).status == "succeeded"
    later = now + timedelta(seconds=5)
    assert operation_run(kind, second.pk, now=later).status == "succeeded"
    assert remote.calls == [other_zone.pk, first.pk, second.pk]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_messages_make_one_call(queued):
    operation = _operation()
    calls: list[int] = []
    lock = threading.Lock()

    def slow_call(op: DnsOperation) -> None:
        with lock:
            calls.append(op.pk)
        time.sleep(0.3)  # the call is in flight while the other workers arrive

    kind = Remote().kind(call=slow_call)
    outcomes = run_together([lambda: operation_run(kind, operation.pk)] * 5)
    assert errors_of(outcomes) == []
    assert calls == [operation.pk]
    operation.refresh_from_db()
    assert (operation.status, operation.attempts) == ("succeeded", 1)


def test_a_retryable_failure_backs_off_and_is_retried(queued):
    remote = Remote(ExternalServiceUnavailable("down", status=503), "up")
    kind = remote.kind(backoff_jitter=0)
    operation = _operation()
    now = timezone.now()
    failed = operation_run(kind, operation.pk, now=now)
    assert (failed.status, failed.attempts, failed.last_error) == ("pending", 1, "down")
    assert failed.next_attempt_at == now + timedelta(seconds=30)
    assert queued == [("tests.operation_run", operation.pk, 30.0)]
    assert operation_run(kind, operation.pk, now=now).status == "pending"  # not due yet
    done = operation_run(kind, operation.pk, now=now + timedelta(seconds=30))
    assert (done.status, done.attempts) == ("succeeded", 2)
    assert remote.calls == [operation.pk, operation.pk]
    assert mail.outbox == []
    assert remote.failures == []


def test_a_permanent_failure_fails_at_once_and_alerts_staff_once(
    queued, django_capture_on_commit_callbacks
):
    remote = Remote(ExternalServiceRejected("refused", status=422))
    operation = _operation()
    with django_capture_on_commit_callbacks(execute=True):
        failed = operation_run(remote.kind(), operation.pk)
        operation_run(remote.kind(), operation.pk, now=_later(60))  # never run again
    assert (failed.status, failed.attempts, failed.last_error) == ("failed", 1, "refused")
    assert failed.finished_at is not None
    assert [m.subject for m in mail.outbox] == ["[Django] Test operation failed"]
    assert remote.failures == [(operation.pk, "failed")]
    assert remote.calls == [operation.pk]
    assert queued == []


def test_running_out_of_attempts_fails_and_alerts_staff_once(
    queued, django_capture_on_commit_callbacks
):
    remote = Remote(*[ExternalServiceUnavailable("down")] * 5)
    operation = _operation()
    with django_capture_on_commit_callbacks(execute=True):
        for hours in range(5):
            last = operation_run(remote.kind(), operation.pk, now=_later(60 * hours))
    assert (last.status, last.attempts) == ("failed", 3)  # max_attempts
    assert len(remote.calls) == 3
    assert len(mail.outbox) == 1
    assert remote.failures == [(operation.pk, "failed")]


def test_a_call_that_may_have_applied_is_repeated_when_that_is_safe(queued):
    remote = Remote(ExternalServiceUnavailable("lost answer", may_have_applied=True))
    operation = _operation()
    assert operation_run(remote.kind(), operation.pk).status == "pending"
    assert operation_run(remote.kind(), operation.pk, now=_later(60)).status == "succeeded"


def test_a_non_idempotent_call_that_may_have_applied_waits_for_staff(
    queued, django_capture_on_commit_callbacks
):
    remote = Remote(ExternalServiceUnavailable("lost answer", may_have_applied=True))
    # DnsOperation's status has no such choice; the column takes it, which is all we need
    kind = remote.kind(idempotent=False, uncertain="uncertain")
    operation = _operation()
    with django_capture_on_commit_callbacks(execute=True):
        uncertain = operation_run(kind, operation.pk)
    assert (uncertain.status, uncertain.last_error) == ("uncertain", "lost answer")
    assert operation_run(kind, operation.pk, now=_later(600)).status == "uncertain"
    assert operations_sweep(kind, now=_later(600)) == []
    assert remote.calls == [operation.pk]
    assert queued == []
    assert [m.subject for m in mail.outbox] == ["[Django] Test operation uncertain"]
    # a retryable error known not to have applied is retried as usual
    retried = _operation("retried.test")
    remote.outcomes = [ExternalServiceUnavailable("refused", may_have_applied=False)]
    assert operation_run(kind, retried.pk).status == "pending"


def test_a_non_idempotent_kind_must_say_where_uncertain_calls_wait():
    with pytest.raises(ValueError, match="uncertain"):
        Remote().kind(idempotent=False)


def test_the_sweeper_finds_lost_pending_and_interrupted_running_operations(queued):
    remote = Remote()
    kind = remote.kind()
    now = timezone.now()
    lost = _operation("a.test", next_attempt_at=now - timedelta(minutes=5))
    unscheduled = _operation("b.test", next_attempt_at=None)
    fresh = _operation("c.test", next_attempt_at=now)
    killed = _operation("d.test", status="running", started_at=now - timedelta(minutes=30))
    busy = _operation("e.test", status="running", started_at=now - timedelta(minutes=1))
    due = operations_sweep(kind, now=now)
    assert due == sorted([lost.pk, unscheduled.pk, killed.pk])
    killed.refresh_from_db()
    assert (killed.status, killed.last_error) == ("pending", "Interrupted; run again.")
    busy.refresh_from_db()
    assert busy.status == "running"
    assert fresh.pk not in due
    assert operation_run(kind, killed.pk, now=now).status == "succeeded"  # runs again


def test_the_sweeper_leaves_an_interrupted_non_idempotent_call_for_staff(
    queued, django_capture_on_commit_callbacks
):
    remote = Remote()
    kind = remote.kind(idempotent=False, uncertain="uncertain", interrupted_message="Cut off.")
    killed = _operation(status="running", started_at=timezone.now() - timedelta(minutes=30))
    with django_capture_on_commit_callbacks(execute=True):
        assert operations_sweep(kind) == []
    killed.refresh_from_db()
    assert (killed.status, killed.last_error) == ("uncertain", "Cut off.")
    assert remote.failures == [(killed.pk, "uncertain")]
    assert len(mail.outbox) == 1
    assert remote.calls == []


def test_a_per_row_decision_reads_the_interrupted_rows_in_the_query_that_finds_them(
    queued, django_assert_num_queries
):
    remote = Remote()
    kind = remote.kind(repeatable=lambda op: op.kind != "delete_zone", uncertain="uncertain")
    started = timezone.now() - timedelta(minutes=30)
    safe = [_operation(f"s{n}.test", status="running", started_at=started) for n in range(3)]
    # find the interrupted rows (read whole), put the safe ones back, look for lost ones
    with django_assert_num_queries(3):
        assert operations_sweep(kind) == sorted(op.pk for op in safe)
    unsafe = _operation("u.test", kind="delete_zone", status="running", started_at=started)
    again = _operation("r.test", status="running", started_at=started)
    assert operations_sweep(kind) == [again.pk]
    unsafe.refresh_from_db()
    assert unsafe.status == "uncertain"


def test_lost_operations_handed_out_by_a_sweep_are_leased_until_the_grace_passes_again(queued):
    kind = Remote().kind()
    now = timezone.now()
    lost = _operation(next_attempt_at=now - timedelta(minutes=5))
    assert operations_sweep(kind, now=now) == [lost.pk]
    lost.refresh_from_db()
    assert lost.next_attempt_at == now  # still due: the queued message runs it
    assert operations_sweep(kind, now=now + timedelta(minutes=1)) == []  # the next sweep
    assert operations_sweep(kind, now=now + kind.lost_grace) == [lost.pk]  # lost again
    assert operation_run(kind, lost.pk, now=now + kind.lost_grace).status == "succeeded"


def test_a_call_whose_worker_dies_every_time_fails_after_its_attempts(
    queued, django_capture_on_commit_callbacks
):
    remote = Remote()
    kind = remote.kind()  # three attempts
    killed = _operation(status="running", attempts=3, started_at=_later(-60))
    with django_capture_on_commit_callbacks(execute=True):
        assert operations_sweep(kind) == [killed.pk]
        failed = operation_run(kind, killed.pk)
    assert (failed.status, failed.attempts) == ("failed", 4)
    assert failed.last_error == "Interrupted 3 times (the worker stopped during the call)."
    assert remote.calls == []
    assert remote.failures == [(killed.pk, "failed")]
    assert [m.subject for m in mail.outbox] == ["[Django] Test operation failed"]


def test_staff_requeue_a_failed_operation_from_a_fresh_count(queued):
    remote = Remote(ExternalServiceRejected("refused"))
    kind = remote.kind()
    operation = operation_run(kind, _operation().pk)
    assert operation.status == "failed"
    kernel.operation_requeue(kind, operation)
    assert (operation.status, operation.attempts) == ("pending", 0)
    assert queued == [("tests.operation_run", operation.pk, 0)]
    assert operation_run(kind, operation.pk).status == "succeeded"
