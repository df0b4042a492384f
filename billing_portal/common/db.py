"""Transactions the database aborted to resolve a conflict, and running them again; changing
many rows a batch at a time.

PostgreSQL ends one of two transactions that wait on each other (a deadlock) or that it
cannot serialise; nothing of the victim was written, so running it again from the start is
safe and, with the other transaction finished, normally succeeds. Only a function that owns
the outermost transaction can be run again: inside an enclosing transaction the whole of
that transaction is lost, so there the error goes up to whoever owns it.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ParamSpec, TypeVar

from django.db import InterfaceError, OperationalError, connection, models
from django.db.models import Q, QuerySet
from psycopg import errors as pg_errors

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")
M = TypeVar("M", bound=models.Model)

TRANSIENT_CAUSES = (pg_errors.DeadlockDetected, pg_errors.SerializationFailure)
ATTEMPTS = 4


def is_transient_conflict(error: BaseException) -> bool:
    """A deadlock or serialisation failure: the database rolled the transaction back."""
    return isinstance(error, OperationalError) and isinstance(error.__cause__, TRANSIENT_CAUSES)


def retry_on_conflict(func: Callable[P, R]) -> Callable[P, R]:
    """Run `func` (which opens its own transaction) again when the database aborted it for
    a deadlock or serialisation failure, a few times with a short random pause, so the two
    contenders do not meet again at once. Nested inside another transaction it runs once."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if connection.in_atomic_block:
            return func(*args, **kwargs)
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return func(*args, **kwargs)
            except OperationalError as error:
                if attempt == ATTEMPTS or not is_transient_conflict(error):
                    raise
                logger.warning("%s: %s; attempt %d again", func.__qualname__, error, attempt + 1)
                time.sleep(random.uniform(0.01, 0.05) * attempt)  # noqa: S311 (not a secret)
        raise AssertionError("unreachable")  # the loop returns or raises

    return wrapper


def in_batches(queryset: QuerySet, change: Callable[[QuerySet], int], *, size: int = 1000) -> int:
    """Apply `change` (an update or a delete returning its row count) to the rows of
    `queryset`, `size` at a time, each batch its own short statement, so pruning a large
    backlog never holds many row locks at once: two queries a batch, whatever the backlog.
    Each batch is `queryset` narrowed to those ids, so a row that stopped matching
    meanwhile is left alone; a changed row must stop matching. Batches go in id order and
    each starts after the last id of the one before (keyset pagination), so a prune whose
    rows stay (blanked, not deleted) never walks again past the rows it has done. Returns
    how many rows were changed (a batch that changed none ends it: what is left waits for
    the next run)."""
    changed = 0
    for ids in _id_batches(queryset, size):
        done = change(queryset.filter(pk__in=ids))
        if not done:
            break
        changed += done
    return changed


def _id_batches(queryset: QuerySet[Any], size: int) -> Iterator[list[Any]]:
    after: Any = None
    while True:
        rows = queryset if after is None else queryset.filter(pk__gt=after)
        ids = list(rows.order_by("pk").values_list("pk", flat=True)[:size])
        if ids:
            yield ids
        if len(ids) < size:
            return
        after = ids[-1]


def keyset_batches(queryset: QuerySet[M], *, size: int = 1000) -> Iterator[list[M]]:
    """The rows of `queryset` (with its select_related and prefetch_related) in id order,
    `size` at a time, each batch one query (and one per prefetch) that starts after the
    last id of the batch before: a long walk over a big table (doing network calls per
    row, say) holds neither the whole table in memory nor a cursor open, and its queries
    grow with the batches, not the rows."""
    after: Any = None
    while True:
        rows = queryset if after is None else queryset.filter(pk__gt=after)
        batch = list(rows.order_by("pk")[:size])
        if batch:
            yield batch
        if len(batch) < size:
            return
        after = batch[-1].pk


def nonnegative_check(name: str, *fields: str) -> models.CheckConstraint:
    """A CHECK constraint named `name` that keeps every one of `fields` at zero or above
    (amounts and counts the models must never let go negative)."""
    condition = Q()
    for field in fields:
        condition &= Q(**{f"{field}__gte": 0})
    return models.CheckConstraint(condition=condition, name=name)


def fetchone_idempotent(sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    """Run one statement that is safe to run twice (an `INSERT ... ON CONFLICT DO NOTHING`)
    and return its first row, letting the statement be the connection's health check.

    With CONN_HEALTH_CHECKS Django sends a `SELECT 1` before the first query of each request
    on a persistent connection, a round trip as long as the statement's own. Here that check
    is skipped and, if the statement then fails because the connection turns out to be dead
    (the server restarted, an idle timeout), the connection is opened again and the
    statement run once more: the same protection, paid for only when it is needed. Inside a
    transaction, or with the check already done, it is an ordinary execute."""
    skipped = (
        not connection.in_atomic_block
        and connection.connection is not None
        and connection.health_check_enabled
        and not connection.health_check_done
    )
    if skipped:
        connection.health_check_done = True
    try:
        return _fetchone(sql, params)
    except (OperationalError, InterfaceError):
        if connection.in_atomic_block or connection.is_usable():
            raise  # the statement failed, not the connection (or a transaction's owner decides)
        # Dead: closed now, so the next query opens a new connection (as the end of the
        # request would, and as a rolled-back transaction's exit does).
        connection.close()
        if not skipped:
            raise
        logger.info("database connection found dead by its first statement: reconnecting")
        return _fetchone(sql, params)


def _fetchone(sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()
