"""Errors raised by the dns app."""

from billing_portal.common.errors import DomainError


class DNSError(DomainError):
    code = "dns_error"
