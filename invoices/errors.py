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


class UsageRefused(InvoicesError):
    code = "usage_refused"


class UsageKeyReused(InvoicesError):
    """The idempotency key already recorded other usage of the service."""

    code = "usage_key_reused"
    status = 422
    default_message = "This idempotency key already recorded different usage of the service."
