"""Row locks: the portal's one lock order, and the only place `select_for_update` is written.

A transaction that locks rows of several kinds takes them in the order below, from first to
last. Two transactions that follow one order can only queue behind each other, never
deadlock. Each app locks its own rows through its `<app>/locks.py` helpers, which are built
on `lock_one`, `lock_first` and `lock_many` here; a test fails on a `select_for_update`
anywhere else (billing_portal/tests/test_locks.py). A statement that locks the row it writes
in the same round trip (the credit ledger's append) records that lock with
`locked_by_statement`, through its app's locks.py. `LockKind`'s values are the ranks.

1. `outbox_message`: consuming an outbox message (`outbox_run_once`) locks it, then runs the
   effect, which takes the domain locks below; the relay locks unsent rows with SKIP LOCKED,
   in id order, and nothing else. First, because it is held around the whole effect.
2. `webhook_event`: processing a stored event claims it with SKIP LOCKED (a duplicate
   delivery never waits), then the handler records payments and refunds (3 to 11).
3. `user`: email verification and password changes; nothing else is locked with it.
4. `customer`: what a customer holds as a whole (saved cards, the default card; an order
   placed by an API Idempotency-Key, whose retry waits for it and finds it).
5. `credit_account`: the customer's credit in one currency. Before anything credit pays or
   is paid into: paying an invoice with credit (then the invoice, then the payment), a
   payment above what is due or buying credit (the overpayment or purchase is credited), a
   refund that takes credit or tokens back, a downgrade credited (then the service).
6. `staff_note`: a note staff keep on a customer, locked alone to edit, pin or delete it.
   (DNS plans, which had this place, are services now; their allowance is 18 below.)
7. `product`, 8. `coupon`: placing an order locks the product (stock) and the coupon (its
   last uses) before it creates the order, services and invoice.
9. `order`: cancelling a pending order (staff, or dunning when it stays unpaid) locks it,
   then its invoice, then its services.
10. `invoice`: every change of an invoice (issue, payment, refund, cancel, reminder, late
    fee) locks it; settlement runs with it held, so what an invoice pays for comes after
    it. Ending a service in the billing run locks its unpaid renewals before the service.
11. `payment`: after its invoice (a refund changes both).
12. `gateway_subscription`: a provider subscription approved or charged, locked alone or
    after the invoice its charge pays.
13. `refund_shortfall`: staff resolving a refund the customer's credit could not cover.
14. `operation`: a panel call or DNS push (the kernel's runner claims and records it alone,
    then applies its effect, e.g. on the service; staff retrying one lock it, then the
    service).
15. `service`: after the invoice that pays it (activation, renewal, unsuspension) and the
    operation that provisions it; the billing run locks the services it renews in id order
    (`lock_many`) before it writes their renewal invoice.
16. `service_change`: a plan change, after the service (settlement renews the service, then
    applies the paid upgrade); its expiry locks the unpaid upgrade invoice first.
17. `server`: a panel server's account count and health, after the service placed on it.
18. `dns_allowance`: what a customer's DNS plan allows, written by the `dns` provisioning
    module (run by the operation kernel alone, outside the service's transaction) before it
    suspends or restores the customer's zones; adding a zone locks it to count the limit.
    After the service and server, before the zones.
19. `zone`: a customer's DNS zones, after their allowance, in id order.
20. `invoice_number_sequence`: the counter of an invoice or credit note series, taken while
    numbering, with the flow's other locks held, and only for an instant.
21. `token_purchase`: a VirtFusion token purchase, also an outbound operation (the runner
    claims and records it alone): last, because a refund locks it after the credit note is
    numbered, and settlement after its invoice and payment; staff converting it to credit
    lock the credit account first.
22. `ticket`: a support ticket (a reply, a status or priority change, an auto-close); a
    merge locks both tickets, in id order. Nothing else is locked with it.
23. `announcement`: a support announcement while a batch of its emails is queued (the
    batch's cursor moves with its outbox rows); locked alone.
24. `webhook_endpoint`: an outbound webhook endpoint staff change, give a new secret or
    delete (and `manage.py rotate_keys` re-encrypts). Nothing else is locked with it.

Two rules make the order practical: locking a row the transaction holds already, or one it
created (no other transaction sees it yet), never waits, so either is allowed at any point
(a renewal invoice written after its services are locked, say); and rows of one kind are
locked in primary-key order (`lock_many`) when several are taken at once.

With LOCK_ORDER_CHECKS on (DEBUG, and every test) each helper records what the current
transaction locked and raises `LockOrderViolation`, naming both kinds, when a lock of a lower
rank follows one of a higher rank. "The transaction" is the outermost atomic block a test
case did not open, so under pytest-django's per-test transaction each service call is
checked on its own, as it would run in production.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, QuerySet
from django.db.models.signals import post_save

M = TypeVar("M", bound=Model)
SELF: tuple[str, ...] = ("self",)


class LockKind(IntEnum):
    """Every kind of row the portal locks; the value is its rank in the lock order (a
    transaction takes locks in rising rank)."""

    OUTBOX_MESSAGE = 10
    WEBHOOK_EVENT = 20
    USER = 30
    CUSTOMER = 40
    CREDIT_ACCOUNT = 50
    STAFF_NOTE = 60
    PRODUCT = 70
    COUPON = 80
    ORDER = 90
    INVOICE = 100
    PAYMENT = 110
    GATEWAY_SUBSCRIPTION = 120
    REFUND_SHORTFALL = 130
    OPERATION = 140
    SERVICE = 150
    SERVICE_CHANGE = 160
    SERVER = 170
    DNS_ALLOWANCE = 175
    ZONE = 180
    INVOICE_NUMBER_SEQUENCE = 190
    TOKEN_PURCHASE = 200
    TICKET = 210
    ANNOUNCEMENT = 220
    WEBHOOK_ENDPOINT = 230


class LockOrderViolation(RuntimeError):
    """A transaction took a lock of a lower rank after one of a higher rank."""


@dataclass
class _Held:
    """What one transaction locked and created (kept only while LOCK_ORDER_CHECKS is on)."""

    key: tuple[Any, ...]
    anchor: object  # keeps the on-commit list alive, so its id is not reused
    highest: LockKind | None = None
    rows: set[tuple[str, Any]] = field(default_factory=set)  # (model label, pk)


_STATE = "_portal_locks_held"
_OUTERMOST = object()


def _transaction_key(connection: Any) -> tuple[tuple[Any, ...], object] | None:
    """What identifies the transaction a service runs in: its outermost atomic block that a
    test case did not open. Tests run inside pytest-django's atomic blocks (marked
    `_from_testcase`), so the service's own outermost block is a savepoint there, whose id
    is unique on the connection. Where that block is the real transaction, the connection's
    on-commit list identifies it (Django replaces the list when a transaction ends; the
    state keeps the old one alive, so its id is not reused). None: no service transaction
    can be told apart (then nothing is checked)."""
    blocks = connection.atomic_blocks
    index = next((i for i, block in enumerate(blocks) if not block._from_testcase), None)
    if index is None:
        return None
    position = index + len(connection.savepoint_ids) - len(blocks)
    if position < 0:
        return (_OUTERMOST, id(connection.run_on_commit)), connection.run_on_commit
    sid = connection.savepoint_ids[position]
    return None if sid is None else ((sid,), sid)


def _held(using: str) -> _Held | None:
    """This transaction's record, started afresh when the transaction is a new one."""
    connection = connections[using]
    found = _transaction_key(connection)
    if found is None:
        setattr(connection, _STATE, None)
        return None
    key, anchor = found
    held: _Held | None = getattr(connection, _STATE, None)
    if held is None or held.key != key:
        held = _Held(key=key, anchor=anchor)
        setattr(connection, _STATE, held)
    return held


def _note(kind: LockKind, rows: Sequence[Model], using: str) -> None:
    """Record the rows just locked and fail when the order is broken (tests and DEBUG).
    Locking a row again, or one this transaction created (no other can see it yet), never
    waits, so it cannot deadlock and is allowed in any order."""
    if rows:
        _note_keys(kind, {(row._meta.label, row.pk) for row in rows}, using)


def _note_keys(kind: LockKind, keys: set[tuple[str, Any]], using: str) -> None:
    if not getattr(settings, "LOCK_ORDER_CHECKS", False) or not keys:
        return
    held = _held(using)
    if held is None:
        return
    new = keys - held.rows
    held.rows |= new
    if new and held.highest is not None and kind < held.highest:
        _violation(held.highest, kind)
    held.highest = kind if held.highest is None else max(held.highest, kind)


def _note_created(sender: type[Model], instance: Model, created: bool, **kwargs: Any) -> None:
    if created and getattr(settings, "LOCK_ORDER_CHECKS", False):
        held = _held(kwargs.get("using") or instance._state.db or "default")
        if held is not None:
            held.rows.add((instance._meta.label, instance.pk))


post_save.connect(_note_created, weak=False, dispatch_uid="portal-locks-created-rows")


def _violation(first: LockKind, then: LockKind) -> None:
    raise LockOrderViolation(
        f"lock order broken: {then.name.lower()} (rank {then.value}) locked after "
        f"{first.name.lower()} (rank {first.value}) in the same transaction; "
        "see billing_portal/common/locks.py for the order"
    )


def lock_one(
    queryset: QuerySet[M],
    *,
    kind: LockKind,
    of: tuple[str, ...] = SELF,
    nowait: bool = False,
    **lookups: Any,
) -> M:
    """The one row matching `lookups`, locked (DoesNotExist / MultipleObjectsReturned as
    `get`). `of=("self",)`: rows of tables joined by select_related stay unlocked."""
    row = queryset.select_for_update(of=of, nowait=nowait).get(**lookups)
    _note(kind, [row], queryset.db)
    return row


def lock_first(
    queryset: QuerySet[M],
    *,
    kind: LockKind,
    of: tuple[str, ...] = SELF,
    skip_locked: bool = False,
    **lookups: Any,
) -> M | None:
    """The first row (in the queryset's order) matching `lookups`, locked, or None."""
    rows = queryset.select_for_update(of=of, skip_locked=skip_locked).filter(**lookups)
    row = rows.first()
    _note(kind, [row] if row is not None else [], queryset.db)
    return row


def locked_by_statement(
    model: type[Model], pks: Sequence[Any], *, kind: LockKind, using: str = DEFAULT_DB_ALIAS
) -> None:
    """Record rows of `model` that one of the app's own statements just locked (an UPDATE,
    or a data-modifying statement locking them FOR UPDATE, which writes in the same round
    trip as it locks): the same record and order check as the helpers here, so a lock
    taken by a later helper call sees them held, and a lock taken out of order fails."""
    _note_keys(kind, {(model._meta.label, pk) for pk in pks}, using)


def lock_many(
    queryset: QuerySet[M],
    *,
    kind: LockKind,
    of: tuple[str, ...] = SELF,
    skip_locked: bool = False,
    limit: int | None = None,
) -> list[M]:
    """All rows of the queryset (the first `limit`), locked in primary-key order: two
    transactions locking overlapping sets then queue instead of deadlocking."""
    rows = queryset.select_for_update(of=of, skip_locked=skip_locked).order_by("pk")
    locked = list(rows[:limit] if limit is not None else rows)
    _note(kind, locked, queryset.db)
    return locked


def lock_taken(kind: LockKind, rows: Sequence[Model], *, using: str = "default") -> None:
    """Record rows locked by a statement that is not a `select_for_update` (an `UPDATE ...
    RETURNING` that locks the row it changes, e.g. the invoice number counter), so the
    order checks see them like any other lock."""
    _note(kind, rows, using)


def rows_created(rows: Sequence[Model], *, using: str = "default") -> None:
    """Record rows this transaction wrote with `bulk_create` (which sends no `post_save`):
    no other transaction sees them yet, so locking them later never waits."""
    if not getattr(settings, "LOCK_ORDER_CHECKS", False):
        return
    held = _held(using)
    if held is not None:
        held.rows |= {(row._meta.label, row.pk) for row in rows}
