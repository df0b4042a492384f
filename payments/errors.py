"""Errors raised by the payments app."""

from billing_portal.common.errors import DomainError


class PaymentsError(DomainError):
    code = "payments_error"


class RefundNotPossible(PaymentsError):
    code = "refund_not_possible"
