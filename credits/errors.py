"""Errors raised by the credits app."""

from billing_portal.common.errors import DomainError


class CreditsError(DomainError):
    code = "credits_error"


class InsufficientCredit(CreditsError):
    code = "insufficient_credit"


class InvalidCreditAmount(CreditsError):
    code = "invalid_credit_amount"
