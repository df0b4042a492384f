"""The audit actions invoices declares: `invoice.*`."""

from billing_portal.common.audit import AuditActions


class InvoiceAudit(AuditActions):
    INVOICE_ISSUED = "invoice.issued", "Invoice issued"
    INVOICE_PAID = "invoice.paid", "Invoice paid"
    INVOICE_CANCELLED = "invoice.cancelled", "Invoice cancelled"
    CREDIT_NOTE_ISSUED = "invoice.credit_note_issued", "Credit note issued"


class UsageAudit(AuditActions):
    """Usage reported for a service (metered billing: call minutes, seats)."""

    USAGE_RECORDED = "usage.recorded", "Usage recorded"
