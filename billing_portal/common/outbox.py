"""The transactional outbox: work that must not be lost when the broker is down.

`outbox_enqueue` writes the task as a row (`OutboxMessage`) in the caller's transaction, so
it exists exactly when the change that needs it committed. After commit one publishing
attempt is made at once (no retries, a one-second connect timeout: a request never waits
on a broker that is down), from the row as it is in memory, and one UPDATE marks it sent
(or records the error): no re-select and no lock, because no one else publishes a row that
young. The beat task `common.outbox_relay` publishes whatever is still unsent every 30 s,
oldest first, in batches under `SELECT ... FOR UPDATE SKIP LOCKED` (one UPDATE marks a
batch sent), so relays running side by side never publish one row twice; it leaves a row
nobody tried to publish alone for RELAY_GRACE (its after-commit publish is under way) and
takes it after that (the process that committed it died first) or at once when that
attempt failed. A run-once task's row is published and marked under its lock, as by the
relay, because its consumer holds that lock around its effect. Only a mark lost after the
broker took the message (or a relay meeting a row of a transaction that ran longer than
the grace in the instant between its commit and its publish) publishes it again, so
delivery is at least once and the consumer tolerates a repeat: the row id travels as the
`outbox_id` message header, and a task whose effect is not idempotent (email) runs it
through `outbox_run_once`, which records it on the row. The row's `headers` travel with it
(a request id, for one). Nothing waits for a result: results are ignored
(CELERY_TASK_IGNORE_RESULT), so publishing never subscribes to the result backend.

Rows marked by their consumer (`outbox_enqueue_with_insert`, webhook processing). Where the
row is written together with one other row and its publish is on a hot path (a provider's
webhook acknowledged at the provider's rate), both go in one statement (a CTE: the row's
`INSERT ... ON CONFLICT DO NOTHING RETURNING id` and the outbox row selected from it), and
the publish after commit does not mark the row: the task consuming the message marks it
sent as it starts (`outbox_delivered`), so a request is one statement and one publish. A row
no one marked is then one the relay cannot tell from a row whose publish never happened:
after RELAY_GRACE it publishes it again, once (marking it sent then), whether the process
died before publishing or no worker took the message within the grace (workers down, a
backlog longer than 30 s). The consumer tolerates the repeat (webhook processing claims the
event row and skips a handled one), and a backlog costs at most one extra message per row,
not one per relay pass. A failed publish is still recorded at once (one UPDATE, only then),
so the relay takes that row without waiting for the grace.

Without a broker (CELERY_TASK_ALWAYS_EAGER, the embedded default and the test suite) the
task runs in this process right after commit and the row is marked sent.

Which call sites use it. A task goes through the outbox unless a durable row of its own
already says the work is due and a sweeper queues that row again while it is:
- outbox: email (`email_send_on_commit`), webhook processing (`webhook_event_receive`
  through `outbox_enqueue_with_insert`, marked by its consumer; `webhook_event_reprocess`);
  a batch of emails (the billing run's renewals and reminders) through
  `outbox_enqueue_many`: one INSERT, and after commit one `common.outbox_relay_ids` message
  whose worker publishes the rows.
- published once after commit (`task_publish_on_commit`): provisioning and DNS operations,
  token deliveries and removals: each is an operation row whose sweeper (provisioning/dns
  every 2 min, tokens every 5 min) queues it again while it is pending, so a publish lost to
  an outage costs a delay, never the work.
- in-process after commit (not the broker): billing's `invoice_issued` reaction and the
  `service_ended` hook, cache invalidation, lockout resets, `mail_admins` staff alerts.
- sweepers and fan-outs inside tasks publish directly: they run again on their schedule.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

# The portal's app (billing_portal/celery.py), current once Django is set up: the kernel
# does not import the project.
from celery import current_app
from celery.exceptions import NotRegistered
from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import KombuError

from billing_portal.common.context import REQUEST_ID_HEADER, request_id_get
from billing_portal.common.db import fetchone_idempotent, in_batches
from billing_portal.common.locks import LockKind, lock_first, lock_many
from billing_portal.common.models import OutboxMessage

logger = logging.getLogger(__name__)

OUTBOX_HEADER = "outbox_id"
RELAY_BATCH = 100
# How long a row nobody tried to publish yet is left to the publish after its commit before
# the sweep takes it (the commit's process may have died in between).
RELAY_GRACE = timedelta(seconds=30)
# The broker did not take the message: stop this pass, the next one tries again.
BROKER_ERRORS = (KombuError, OSError)


def _request_id_headers() -> dict[str, str]:
    request_id = request_id_get()
    return {REQUEST_ID_HEADER: request_id} if request_id else {}


def outbox_enqueue(
    task_name: str,
    args: list | tuple = (),
    kwargs: dict[str, Any] | None = None,
    *,
    queue: str | None = None,
    countdown: float | None = None,
    dedupe_key: str | None = None,
    headers: dict[str, Any] | None = None,
) -> OutboxMessage:
    """Write `task_name(*args, **kwargs)` to the outbox in the caller's transaction and
    publish it after commit (never if the transaction rolls back). Arguments must be
    JSON-serialisable. A `dedupe_key` already in the outbox returns that row unchanged."""
    values = {
        "task_name": task_name,
        "args": list(args),
        "kwargs": kwargs or {},
        "queue": queue or "",
        # the request id travels with the row, so a relay sending it later keeps it
        "headers": {**_request_id_headers(), **(headers or {})},
        "available_at": timezone.now() + timedelta(seconds=countdown or 0),
    }
    if dedupe_key:
        message, created = OutboxMessage.objects.get_or_create(
            dedupe_key=dedupe_key, defaults=values
        )
        if not created:
            return message
    else:
        message = OutboxMessage.objects.create(**values)
    transaction.on_commit(functools.partial(_publish_after_commit, message.pk, message))
    return message


def outbox_enqueue_with_insert(
    row: models.Model, *, unique: Sequence[str], task_name: str
) -> OutboxMessage | None:
    """Insert `row` unless a row with the same `unique` fields exists and, in the same
    statement, the outbox message `task_name(row.pk)`, published after commit without
    marking it sent: its consumer does that (`outbox_delivered`), and until then the relay
    treats it as a row nobody tried yet (see the module's docstring). Returns the message
    (and sets `row.pk`), or None when the row existed: then nothing was written.

    On PostgreSQL this is one statement (`WITH row AS (INSERT ... ON CONFLICT DO NOTHING
    RETURNING id) INSERT INTO outbox ... SELECT ... FROM row`), atomic by itself: called
    outside a transaction it is one round trip with no BEGIN or COMMIT. Elsewhere (SQLite in
    development) the ORM writes both in a transaction, a conflict rolling it back."""
    message = OutboxMessage(
        task_name=task_name,
        args=[],  # the row's id, known once it is inserted
        headers=_request_id_headers(),
        available_at=timezone.now(),
    )
    if connection.vendor == "postgresql":
        inserted = _insert_with_message(row, unique, message)
        if inserted is None:
            return None
        row.pk, message.pk = inserted
        row._state.adding, message._state.adding = False, False
        message.args = [row.pk]
    else:
        try:
            with transaction.atomic():
                row.save(force_insert=True)
                message.args = [row.pk]
                message.save(force_insert=True)
        except IntegrityError:
            return None
    transaction.on_commit(functools.partial(_publish_after_commit, message.pk, message, False))
    return message


def _insert_with_message(
    row: models.Model, unique: Sequence[str], message: OutboxMessage
) -> tuple[int, int] | None:
    """(row id, message id) of the one statement inserting both, or None on a conflict."""
    sql, row_fields, message_fields = _insert_with_message_sql(type(row), tuple(unique))
    params = [*_db_values(row, row_fields), *_db_values(message, message_fields)]
    found = fetchone_idempotent(sql, params)  # ON CONFLICT DO NOTHING: safe to run again
    return (found[0], found[1]) if found else None


@functools.cache
def _insert_with_message_sql(
    model: type[models.Model], unique: tuple[str, ...]
) -> tuple[str, list[models.Field], list[models.Field]]:
    """The statement for `model` (built once per process) and the fields whose values are
    its parameters, in order: the row's, then the message's (all but its `args`, which are
    the inserted row's id: a SELECT over the inserted row, so no row means no message)."""
    meta, outbox = model._meta, OutboxMessage._meta
    row_fields = [field for field in meta.concrete_fields if not field.primary_key]
    message_fields = [
        field for field in outbox.concrete_fields if not field.primary_key and field.name != "args"
    ]
    pk, outbox_pk = _quote(meta.pk.column), _quote(outbox.pk.column)
    row_columns = ", ".join(_quote(field.column) for field in row_fields)
    message_columns = ", ".join(_quote(field.column) for field in message_fields)
    conflict = ", ".join(_quote(meta.get_field(name).column) for name in unique)
    placeholders = ", ".join(["%s"] * len(row_fields))
    message_values = ", ".join(["%s"] * len(message_fields))
    sql = (
        # Identifiers from the models' metadata, quoted; every value is a parameter.
        f"WITH new_row AS (INSERT INTO {_quote(meta.db_table)} ({row_columns}) "  # noqa: S608
        f"VALUES ({placeholders}) ON CONFLICT ({conflict}) DO NOTHING RETURNING {pk}), "
        f"new_message AS (INSERT INTO {_quote(outbox.db_table)} "
        f"({message_columns}, {_quote(outbox.get_field('args').column)}) "
        f"SELECT {message_values}, jsonb_build_array(new_row.{pk}) FROM new_row "
        f"RETURNING {outbox_pk}) "
        f"SELECT new_row.{pk}, new_message.{outbox_pk} FROM new_row, new_message"
    )
    return sql, row_fields, message_fields


def _db_values(instance: models.Model, fields: list[models.Field]) -> list[Any]:
    # As the ORM's insert prepares them: each field's pre_save, then its database value
    # (JSON adapted, datetimes made aware).
    return [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields]


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _publish_after_commit(
    message_id: int, message: OutboxMessage | None = None, mark_sent: bool = True
) -> None:
    # The change is committed: nothing here may fail the request that made it. A message
    # not published now (broker or database away) is published by the relay.
    try:
        if message is None or not _publish_unlocked_ok(message):
            outbox_relay(ids=[message_id])
        else:
            _publish_committed(message, mark_sent=mark_sent)
    except Exception:
        logger.exception("outbox message %s: publishing after commit failed", message_id)


def _publish_unlocked_ok(message: OutboxMessage) -> bool:
    """Whether the row just committed may be published as it is in memory, without taking
    its lock: not in-process (that path marks and runs it under the lock), and not a run-once
    task, whose consumer holds the row's lock around its effect (marking the row sent would
    wait for an email to be sent)."""
    return (
        not current_app._get_current_object().conf.task_always_eager
        and message.task_name not in RUN_ONCE_TASKS
    )


def _publish_committed(message: OutboxMessage, *, mark_sent: bool = True) -> None:
    """Publish the row this transaction just committed from memory, then mark it sent in one
    UPDATE (unless its consumer marks it: `outbox_enqueue_with_insert`): no re-select and no
    lock. The sweep leaves unattempted rows alone for RELAY_GRACE, so it does not publish
    them at the same moment; a failure is recorded on the row, which the sweep then takes at
    once."""
    try:
        _publish(message)
    except Exception as error:  # the broker is down, or the task is unknown: the relay's
        logger.warning(
            "outbox message %s (%s) not published: %s", message.pk, message.task_name, error
        )
        _unsent(message.pk).update(attempts=F("attempts") + 1, last_error=_error_text(error))
        return
    if mark_sent:
        _unsent(message.pk).update(
            attempts=F("attempts") + 1, sent_at=timezone.now(), last_error=""
        )


def _unsent(message_id: int) -> models.QuerySet[OutboxMessage]:
    return OutboxMessage.objects.filter(pk=message_id, sent_at__isnull=True)


def outbox_delivered(request: Any) -> None:
    """Called by the task consuming a message of `outbox_enqueue_with_insert` (its Celery
    `request`), first thing: the broker delivered it, so mark its row sent (one UPDATE, a
    no-op for a row already marked) and the relay will not publish it again. Nothing to do
    in-process (eager mode): the relay marked the row before running the task."""
    outbox_id = outbox_id_of(request)
    if outbox_id is None or getattr(request, "is_eager", False):
        return
    _unsent(outbox_id).update(attempts=F("attempts") + 1, sent_at=timezone.now(), last_error="")


def outbox_relay(*, ids: list[int] | None = None, batch: int = RELAY_BATCH) -> int:
    """Publish unsent messages (only `ids`, if given), oldest first, `batch` rows a
    transaction; returns how many were published. Stops at the first broker error. A sweep
    (no `ids`) skips rows younger than RELAY_GRACE that no one tried to publish yet: their
    after-commit publish is still under way."""
    published, after = 0, 0
    while True:
        rows, sent, stopped = _relay_batch(ids=ids, after=after, batch=batch)
        published += sent
        if stopped or len(rows) < batch:
            return published
        after = rows[-1].pk


def _relay_batch(
    *, ids: list[int] | None, after: int, batch: int
) -> tuple[list[OutboxMessage], int, bool]:
    """Lock and publish the next unsent rows after id `after` that no other relay holds:
    (the rows, how many were published, whether a broker error stopped the pass). The same
    queries whatever the batch's size: the select that locks, one update marking the
    published rows sent (and one per row that failed, with its error), the commit."""
    app = current_app._get_current_object()

    eager = app.conf.task_always_eager
    with transaction.atomic():
        unsent = OutboxMessage.objects.filter(
            sent_at__isnull=True, consumed_at__isnull=True, pk__gt=after
        )
        if ids is not None:
            unsent = unsent.filter(pk__in=ids)
        else:
            unsent = unsent.exclude(attempts=0, created_at__gt=timezone.now() - RELAY_GRACE)
        rows = lock_many(unsent, kind=LockKind.OUTBOX_MESSAGE, skip_locked=True, limit=batch)
        if not eager:
            return rows, *_publish_rows(rows)
        # In-process: marked sent here, run after this commit, in no outer transaction.
        OutboxMessage.objects.filter(pk__in=[row.pk for row in rows]).update(
            sent_at=timezone.now(), attempts=1
        )
    for row in rows:
        _run_eagerly(row)
    return rows, len(rows), False


def _publish_rows(rows: list[OutboxMessage]) -> tuple[int, bool]:
    """Publish locked rows in order, then mark those the broker took sent in one update;
    (published, whether a broker error stopped the pass)."""
    sent: list[int] = []
    stopped = False
    for row in rows:
        try:
            _publish(row)
        except BROKER_ERRORS as error:
            _failed(row, error)
            stopped = True
            break
        except Exception as error:  # this row cannot be sent (e.g. an unknown task): next
            _failed(row, error)
            continue
        sent.append(row.pk)
    if sent:
        OutboxMessage.objects.filter(pk__in=sent).update(
            attempts=F("attempts") + 1, sent_at=timezone.now(), last_error=""
        )
    return len(sent), stopped


def _failed(row: OutboxMessage, error: Exception) -> None:
    logger.warning("outbox message %s (%s) not published: %s", row.pk, row.task_name, error)
    row.attempts += 1
    row.last_error = _error_text(error)
    row.save(update_fields=["attempts", "last_error"])


def _error_text(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:2000]


# Celery's task discovery runs once per process: a second thread calling it while the first
# is still importing returns at once, before the task is registered (a gthread worker's first
# requests then found "NotRegistered"), so the threads wait for the one importing.
_TASKS_IMPORT = threading.Lock()


def _task(name: str):
    app = current_app._get_current_object()

    if name not in app.tasks:
        # A web process imports only the task modules its code used; the outbox names
        # tasks, so load every app's tasks (what a worker does at start) once.
        with _TASKS_IMPORT:
            if name not in app.tasks:
                app.loader.import_default_modules()
    try:
        return app.tasks[name]
    except KeyError as exc:
        raise NotRegistered(name) from exc


def _options(row: OutboxMessage) -> dict[str, Any]:
    options: dict[str, Any] = {"headers": {**row.headers, OUTBOX_HEADER: row.pk}}
    if row.queue:
        options["queue"] = row.queue
    if row.available_at > timezone.now():
        options["eta"] = row.available_at
    return options


def _publish(row: OutboxMessage) -> None:
    # One attempt: a broker that is down fails within the connect timeout, and the next
    # relay pass tries again (settings keep the connection's own retries to none too).
    # Nothing reads an outbox task's result: ignored whatever the settings say, so the publish
    # never subscribes to the result backend (Celery's Redis backend does, for a result it
    # expects).
    _task(row.task_name).apply_async(
        row.args, row.kwargs, retry=False, ignore_result=True, **_options(row)
    )


def _run_eagerly(row: OutboxMessage) -> None:
    # As `task.delay()` behaved in-process: a failing task is logged, and its own records
    # (a failed webhook event, say) say what is left to do.
    try:
        _task(row.task_name).apply_async(row.args, row.kwargs, **_options(row))
    except Exception:
        logger.exception("outbox message %s (%s) failed in-process", row.pk, row.task_name)


def task_publish_on_commit(task_name: str, args: list, *, countdown: float = 0) -> None:
    """After commit, publish `task_name(*args)` once (no retries; a failure is logged):
    for work whose own row a sweeper queues again while it is due (see the rule above)."""

    def publish() -> None:
        _task(task_name).apply_async(args, countdown=countdown, retry=False)

    transaction.on_commit(publish, robust=True)


def outbox_id_of(request: Any) -> int | None:
    """The outbox row a running task's message came from (its `outbox_id` header)."""
    value = (getattr(request, "headers", None) or {}).get(OUTBOX_HEADER)
    return int(value) if value is not None else None


def outbox_run_once(outbox_id: int | None, effect: Callable[[], None]) -> bool:
    """Run `effect` once per outbox message, however often the message is delivered:
    under the row's lock, recorded as consumed in the same transaction (an effect that
    raises is not recorded, so a retry runs it). Without an outbox id it just runs.
    Returns whether it ran."""
    if outbox_id is None:
        effect()
        return True
    with transaction.atomic():
        message = lock_first(
            OutboxMessage.objects.all(), kind=LockKind.OUTBOX_MESSAGE, pk=outbox_id
        )
        if message is None or message.consumed_at is not None:
            logger.info("outbox message %s already consumed (or gone): skipped", outbox_id)
            return False
        effect()
        message.consumed_at = timezone.now()
        message.save(update_fields=["consumed_at"])
    return True


# Tasks run through `outbox_run_once`: their row is the record that the effect happened, so
# it may go only once that is recorded (`consumed_at`); a delivery arriving after the row
# went is then skipped, never repeated.
RUN_ONCE_TASKS = frozenset({"common.email_send", "payments.payment_receipt_send"})


def outbox_prune(*, now: datetime | None = None) -> int:
    """Housekeeping: delete rows the broker took more than OUTBOX_RETENTION_DAYS ago and
    whose work is done (for run-once tasks, recorded as done); returns how many. Unsent
    rows, and run-once rows never recorded as done, stay for staff to see."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.OUTBOX_RETENTION_DAYS)
    done = Q(consumed_at__lt=cutoff) | (
        Q(sent_at__lt=cutoff, consumed_at__isnull=True) & ~Q(task_name__in=RUN_ONCE_TASKS)
    )
    return in_batches(OutboxMessage.objects.filter(done), lambda rows: rows.delete()[0])


def outbox_enqueue_many(task_name: str, kwargs_list: list[dict[str, Any]]) -> list[OutboxMessage]:
    """`outbox_enqueue(task_name, kwargs=...)` for each of `kwargs_list`, in one INSERT, and
    after commit one message for all of them (a billing run chunk's emails): the writer's
    cost is constant per batch. A worker then publishes the rows (`common.outbox_relay_ids`,
    the relay's rules: SKIP LOCKED, marked sent one by one); if that one message is lost
    the beat relay publishes them. No dedupe keys or countdowns (`outbox_enqueue` has them)."""
    if not kwargs_list:
        return []
    now, headers = timezone.now(), _request_id_headers()
    messages = OutboxMessage.objects.bulk_create(
        OutboxMessage(task_name=task_name, kwargs=kwargs, headers=headers, available_at=now)
        for kwargs in kwargs_list
    )
    ids = [message.pk for message in messages]
    transaction.on_commit(functools.partial(_relay_after_commit, ids))
    return messages


RELAY_IDS_TASK = "common.outbox_relay_ids"


def _relay_after_commit(ids: list[int]) -> None:
    # As `_publish_after_commit`: nothing here may fail the writer; the relay catches up.
    try:
        if current_app._get_current_object().conf.task_always_eager:
            outbox_relay(ids=ids)  # in-process: the tasks run now, as one by one
        else:
            _task(RELAY_IDS_TASK).apply_async([ids], retry=False)
    except Exception:
        logger.exception("outbox messages %s..%s: publishing after commit failed", ids[0], ids[-1])
