"""Writes of the invoices app, one module per entity; import them from here."""

from invoices.services.invoices import (
    INVOICE_SERIES,
    LineDraft,
    credit_note_issue,
    invoice_apply_payment,
    invoice_assert_transition,
    invoice_cancel,
    invoice_create_draft,
    invoice_issue,
    invoice_mark_paid,
    invoice_number_allocate,
    invoice_payment_problem,
    lines_price,
)
from invoices.services.orders import (
    OrderRequest,
    Quote,
    coupon_check,
    order_cancel,
    order_place,
    order_quote,
)

__all__ = [
    "INVOICE_SERIES",
    "LineDraft",
    "OrderRequest",
    "Quote",
    "coupon_check",
    "credit_note_issue",
    "invoice_apply_payment",
    "invoice_assert_transition",
    "invoice_cancel",
    "invoice_create_draft",
    "invoice_issue",
    "invoice_mark_paid",
    "invoice_number_allocate",
    "invoice_payment_problem",
    "lines_price",
    "order_cancel",
    "order_place",
    "order_quote",
]
