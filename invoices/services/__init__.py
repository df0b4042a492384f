"""Writes of the invoices app, one module per entity; import them from here."""

from invoices.services.invoices import (
    INVOICE_SERIES,
    LineDraft,
    coupon_apply,
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

__all__ = [
    "INVOICE_SERIES",
    "LineDraft",
    "coupon_apply",
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
]
