"""Errors raised by the invoice services."""

from billing_portal.common.errors import DomainError


class InvoicesError(DomainError):
    code = "invoices_error"


class InvalidInvoiceTransition(InvoicesError):
    code = "invalid_invoice_transition"


class InvoiceNotEditable(InvoicesError):
    code = "invoice_not_editable"
    default_message = "Issued invoices cannot be changed; issue a credit note instead."


class PriceUnavailable(InvoicesError):
    code = "price_unavailable"
    default_message = "This product is not sold on that billing cycle in your currency."


class InvalidOptionQuantity(InvoicesError):
    code = "invalid_option_quantity"
