"""Errors raised by the credits app."""

from billing_portal.common.errors import DomainError


class CreditsError(DomainError):
    code = "credits_error"
