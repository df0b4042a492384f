"""What each kind of accounting export holds: its rows' selection (the same dates and
states as the report that shows their totals, reports/report_selectors.py), its columns and
how one batch of rows reads. The builder (reports/exports.py) reads the selection in batches
in id order (a keyset: each batch starts after the last id of the one before), so a large
range never sits in memory at once and each batch costs the same few queries."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db.models import Model, Prefetch, QuerySet

from credits.models import CreditEntry
from invoices.models import CreditNote, Invoice, InvoiceLine
from payments.models import Payment, RefundRequest
from reports.models import ReportExport
from reports.report_selectors import ISSUED_STATES, Period

Row = tuple[Any, ...]
M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Sheet:
    title: str
    header: tuple[str, ...]
    selection: Callable[[ReportExport], QuerySet[Any]]  # what the export holds, unordered
    rows: Callable[[Sequence[Any]], Iterator[Row]]  # the rows of one batch of the selection
    # rows the export will have (an invoice counts once, plus once per line)
    count: Callable[[ReportExport], int]
    # what each batch's query adds to the selection (an invoice's lines, prefetched)
    prepare: Callable[[QuerySet[Any]], QuerySet[Any]] = lambda queryset: queryset


def _period(export: ReportExport) -> Period:
    return Period(export.start_date, export.end_date, export.currency)


def _currency(queryset: QuerySet[M], export: ReportExport, column: str = "currency") -> QuerySet[M]:
    return queryset.filter(**{column: export.currency}) if export.currency else queryset


def _count(selection: Callable[[ReportExport], QuerySet[Any]]) -> Callable[[ReportExport], int]:
    return lambda export: selection(export).count()


# --- Invoices, with their lines ---------------------------------------------------------------

INVOICE_HEADER = (
    "Record",
    "Invoice number",
    "Issued",
    "Due",
    "Paid at",
    "Status",
    "Kind",
    "Customer id",
    "Customer",
    "Company",
    "Country",
    "Tax id",
    "Currency",
    "Net",
    "Discount",
    "Tax",
    "Total",
    "Paid",
    "Refunded",
    "Tax name",
    "Tax rate %",
    "Reverse charge",
    "Description",
    "Product",
    "Period start",
    "Period end",
    "Quantity",
    "Unit price",
)


def invoice_selection(export: ReportExport) -> QuerySet[Invoice]:
    invoices = Invoice.objects.filter(
        _period(export).during("issued_at"), status__in=ISSUED_STATES
    ).order_by()
    return _currency(invoices, export)


def _invoice_batch(invoices: QuerySet[Invoice]) -> QuerySet[Invoice]:
    lines = InvoiceLine.objects.select_related("service__product").order_by("position", "id")
    return invoices.prefetch_related(Prefetch("lines", queryset=lines))


def _invoice_row(invoice: Invoice) -> Row:
    buyer = invoice.buyer_details or {}
    return (
        "Invoice",
        invoice.number,
        invoice.issued_at,
        invoice.due_date,
        invoice.paid_at,
        invoice.get_status_display(),
        invoice.get_kind_display(),
        invoice.customer_id,
        buyer.get("name", ""),
        buyer.get("company", ""),
        buyer.get("country", ""),
        buyer.get("tax_id", ""),
        invoice.currency,
        invoice.subtotal.amount,
        invoice.discount_total.amount,
        invoice.tax_total.amount,
        invoice.total.amount,
        invoice.amount_paid.amount,
        invoice.amount_refunded.amount,
        invoice.tax_name,
        invoice.tax_rate,
        invoice.reverse_charge,
        *([None] * 6),
    )


def _line_row(invoice: Invoice, line: InvoiceLine) -> Row:
    product = line.service.product.name if line.service else ""
    return (
        "Line",
        invoice.number,
        *([None] * 10),
        line.currency,
        line.amount.amount,
        line.discount.amount,
        line.tax.amount,
        line.total.amount,
        *([None] * 5),
        line.description,
        product,
        line.period_start,
        line.period_end,
        line.quantity,
        line.unit_price.amount,
    )


def invoice_rows(invoices: Sequence[Invoice]) -> Iterator[Row]:
    for invoice in invoices:
        yield _invoice_row(invoice)
        for line in invoice.lines.all():
            yield _line_row(invoice, line)


def invoice_count(export: ReportExport) -> int:
    invoices = invoice_selection(export)
    lines = InvoiceLine.objects.filter(invoice__in=invoices.values("pk"))
    return invoices.count() + lines.count()


# --- Payments and refunds --------------------------------------------------------------------

PAYMENT_HEADER = (
    "Received",
    "Gateway",
    "Reference",
    "Method",
    "Status",
    "Invoice number",
    "Customer id",
    "Customer",
    "Currency",
    "Amount",
    "Fee",
    "Refunded",
)


def payment_selection(export: ReportExport) -> QuerySet[Payment]:
    payments = (
        Payment.objects.filter(_period(export).during("received_at"))
        .exclude(status=Payment.Status.HELD)
        .select_related("invoice", "customer")
        .order_by()
    )
    return _currency(payments, export)


def payment_rows(payments: Sequence[Payment]) -> Iterator[Row]:
    for payment in payments:
        yield (
            payment.received_at,
            payment.gateway,
            payment.reference,
            payment.get_method_display(),
            payment.get_status_display(),
            payment.invoice.number,
            payment.customer_id,
            payment.customer.name,
            payment.currency,
            payment.amount.amount,
            payment.fee.amount,
            payment.amount_refunded.amount,
        )


REFUND_HEADER = (
    "Requested",
    "Gateway",
    "Payment reference",
    "Refund reference",
    "Invoice number",
    "Customer id",
    "Customer",
    "Currency",
    "Amount",
    "Reason",
)


def refund_selection(export: ReportExport) -> QuerySet[RefundRequest]:
    refunds = (
        RefundRequest.objects.filter(
            _period(export).during("created_at"), status=RefundRequest.Status.SUCCEEDED
        )
        .select_related("payment__invoice", "payment__customer")
        .order_by()
    )
    return _currency(refunds, export)


def refund_rows(refunds: Sequence[RefundRequest]) -> Iterator[Row]:
    for refund in refunds:
        payment = refund.payment
        yield (
            refund.created_at,
            payment.gateway,
            payment.reference,
            refund.reference,
            payment.invoice.number,
            payment.customer_id,
            payment.customer.name,
            refund.currency,
            refund.amount.amount,
            refund.reason,
        )


# --- Credit notes and the ledger ----------------------------------------------------------------

CREDIT_NOTE_HEADER = (
    "Credit note number",
    "Issued",
    "Invoice number",
    "Customer id",
    "Customer",
    "Country",
    "Currency",
    "Amount",
    "Reason",
)


def credit_note_selection(export: ReportExport) -> QuerySet[CreditNote]:
    notes = (
        CreditNote.objects.filter(_period(export).during("issued_at"))
        .select_related("invoice")
        .order_by()
    )
    return _currency(notes, export)


def credit_note_rows(notes: Sequence[CreditNote]) -> Iterator[Row]:
    for note in notes:
        buyer = note.buyer_details or note.invoice.buyer_details or {}
        yield (
            note.number,
            note.issued_at,
            note.invoice.number,
            note.customer_id,
            buyer.get("name", ""),
            buyer.get("country", ""),
            note.currency,
            note.amount.amount,
            note.reason,
        )


LEDGER_HEADER = (
    "Created",
    "Customer id",
    "Customer",
    "Sequence",
    "Kind",
    "Currency",
    "Amount",
    "Balance before",
    "Balance after",
    "Description",
    "Payment reference",
    "Staff user",
    "Reason",
)


def ledger_selection(export: ReportExport) -> QuerySet[CreditEntry]:
    entries = (
        CreditEntry.objects.filter(_period(export).during("created_at"))
        .select_related("account__customer", "staff_user")
        .order_by()
    )
    return _currency(entries, export)


def ledger_rows(entries: Sequence[CreditEntry]) -> Iterator[Row]:
    for entry in entries:
        yield (
            entry.created_at,
            entry.account.customer_id,
            entry.account.customer.name,
            entry.sequence,
            entry.get_kind_display(),
            entry.currency,
            entry.amount.amount,
            entry.balance_before.amount,
            entry.balance_after.amount,
            entry.description,
            entry.payment_reference,
            entry.staff_user.get_username() if entry.staff_user else "",
            entry.reason,
        )


SHEETS: dict[str, Sheet] = {
    ReportExport.Kind.INVOICES: Sheet(
        "Invoices",
        INVOICE_HEADER,
        invoice_selection,
        invoice_rows,
        invoice_count,
        _invoice_batch,
    ),
    ReportExport.Kind.PAYMENTS: Sheet(
        "Payments", PAYMENT_HEADER, payment_selection, payment_rows, _count(payment_selection)
    ),
    ReportExport.Kind.REFUNDS: Sheet(
        "Refunds", REFUND_HEADER, refund_selection, refund_rows, _count(refund_selection)
    ),
    ReportExport.Kind.CREDIT_NOTES: Sheet(
        "Credit notes",
        CREDIT_NOTE_HEADER,
        credit_note_selection,
        credit_note_rows,
        _count(credit_note_selection),
    ),
    ReportExport.Kind.LEDGER: Sheet(
        "Credit ledger", LEDGER_HEADER, ledger_selection, ledger_rows, _count(ledger_selection)
    ),
}


def sheet_batches(sheet: Sheet, export: ReportExport, *, size: int) -> Iterator[list[Model]]:
    """The export's selection, `size` rows at a time in id order (a keyset, so every batch
    is an index range however far into the table it is)."""
    selection = sheet.prepare(sheet.selection(export))
    last = 0
    while True:
        batch = list(selection.filter(pk__gt=last).order_by("pk")[:size])
        if not batch:
            return
        yield batch
        last = batch[-1].pk
