"""Errors raised by the payments app."""

from billing_portal.common.errors import DomainError


class PaymentsError(DomainError):
    code = "payments_error"
