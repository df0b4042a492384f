"""Errors raised by the catalogue, ordering and invoice services."""

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


class CouponInvalid(InvoicesError):
    code = "coupon_invalid"


class OutOfStock(InvoicesError):
    code = "out_of_stock"
    default_message = "Sorry, this product is sold out."


class MissingOrderField(InvoicesError):
    code = "missing_order_field"


class InvalidOrderField(InvoicesError):
    code = "invalid_order_field"


class OrderNotCancellable(InvoicesError):
    code = "order_not_cancellable"
    default_message = "Only unpaid orders can be cancelled."
