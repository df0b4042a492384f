"""Row locks of invoices' tables, in the portal's lock order (billing_portal/common/locks.py).
Products, coupons and orders are the catalogue's (catalogue/locks.py)."""

from __future__ import annotations

from typing import Any

from django.db import connection

from billing_portal.common.locks import LockKind, lock_first, lock_many, lock_one, lock_taken
from invoices.models import Invoice, InvoiceLine, InvoiceNumberSequence


def invoice_lock(invoice_id: int, *, related: tuple[str, ...] = ()) -> Invoice:
    """The invoice row, locked (rows read along by `related` are not)."""
    rows = Invoice.objects.select_related(*related)
    return lock_one(rows, kind=LockKind.INVOICE, pk=invoice_id)


def invoice_lock_first(*, related: tuple[str, ...] = (), **lookups: Any) -> Invoice | None:
    """The first invoice matching `lookups` (e.g. its id and a status), locked, or None."""
    rows = Invoice.objects.select_related(*related)
    return lock_first(rows, kind=LockKind.INVOICE, **lookups)


def invoice_number_sequence_lock(series: str) -> InvoiceNumberSequence:
    """The series' number counter, locked until the issuing transaction commits."""
    rows = InvoiceNumberSequence.objects.all()
    return lock_one(rows, kind=LockKind.INVOICE_NUMBER_SEQUENCE, series=series)


# One statement takes `count` numbers: it creates the counter on first use and locks the row
# it changes until the transaction ends (as `invoice_number_sequence_lock` would).
_TAKE_NUMBERS = """
    INSERT INTO invoices_invoicenumbersequence AS sequence (series, next_number)
    VALUES (%(series)s, 1 + %(count)s)
    ON CONFLICT (series) DO UPDATE SET next_number = sequence.next_number + %(count)s
    RETURNING id, next_number
"""


def invoice_number_sequence_take(series: str, count: int) -> int:
    """Advance the series' counter by `count`, locked until the transaction ends; returns
    the first of the `count` numbers taken (a rollback returns them: no gaps)."""
    with connection.cursor() as cursor:
        cursor.execute(_TAKE_NUMBERS, {"series": series, "count": count})
        pk, next_number = cursor.fetchone()
    lock_taken(LockKind.INVOICE_NUMBER_SEQUENCE, [InvoiceNumberSequence(pk=pk, series=series)])
    return next_number - count


def invoices_lock_unpaid_renewals_of(*, service_id: int) -> list[Invoice]:
    """The unpaid renewal invoices billing this service, locked in id order: ending the
    service cancels them, and the lock order wants them before the service (a payment of
    one locks the invoice, then renews the service)."""
    billing = InvoiceLine.objects.filter(service=service_id).values("invoice_id")
    rows = Invoice.objects.filter(
        pk__in=billing, status=Invoice.Status.UNPAID, kind=Invoice.Kind.RENEWAL
    )
    return lock_many(rows, kind=LockKind.INVOICE)


def invoices_lock_unpaid(*, invoice_ids: list[int], related: tuple[str, ...] = ()) -> list[Invoice]:
    """Those of these invoices still unpaid, locked in id order (a batch of reminders)."""
    rows = Invoice.objects.filter(pk__in=invoice_ids, status=Invoice.Status.UNPAID)
    return lock_many(rows.select_related(*related), kind=LockKind.INVOICE)
