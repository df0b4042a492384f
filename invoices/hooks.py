"""The `invoice_paid` hook: how other apps react to an invoice becoming paid.

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
