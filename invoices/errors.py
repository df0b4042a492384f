"""Errors raised by the invoices app."""

from billing_portal.common.errors import DomainError


class InvoicesError(DomainError):
    code = "invoices_error"
