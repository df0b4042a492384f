"""Hooks through which other apps react to invoices: `invoice_paid` and `invoice_issued`.

`invoice_paid`:

Handlers are registered once, at start-up (AppConfig.ready), and are called exactly once per
invoice, inside the transaction that marks it paid, with the invoice row locked. So their
writes commit or roll back with the payment; they schedule network calls with
`transaction.on_commit`. Provisioning activates, renews or unsuspends services here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from invoices.models import Invoice

InvoicePaidHandler = Callable[["Invoice"], None]

_invoice_paid_handlers: list[InvoicePaidHandler] = []


def on_invoice_paid(handler: InvoicePaidHandler) -> InvoicePaidHandler:
    """Register a handler (usable as a decorator); registering twice is a no-op."""
    if handler not in _invoice_paid_handlers:
        _invoice_paid_handlers.append(handler)
    return handler


def invoice_paid_dispatch(invoice: Invoice) -> None:
    for handler in list(_invoice_paid_handlers):
        handler(invoice)


# `invoice_issued`: handlers run after the issuing transaction commits (credits pays a
# renewal from available credit there, taking its own locks in the documented order:
# credit account before invoice) and receive the invoice id.

InvoiceIssuedHandler = Callable[[int], None]

_invoice_issued_handlers: list[InvoiceIssuedHandler] = []


def on_invoice_issued(handler: InvoiceIssuedHandler) -> InvoiceIssuedHandler:
    if handler not in _invoice_issued_handlers:
        _invoice_issued_handlers.append(handler)
    return handler


def invoice_issued_dispatch_on_commit(invoice_id: int) -> None:
    from django.db import transaction

    for handler in list(_invoice_issued_handlers):
        transaction.on_commit(lambda h=handler: h(invoice_id), robust=True)
