"""Errors raised by the dns app."""

from billing_portal.common.errors import DomainError, ExternalServiceError


class DNSError(DomainError):
    code = "dns_error"


class InvalidZoneName(DNSError):
    code = "invalid_zone_name"


class InvalidRecord(DNSError):
    code = "invalid_record"


class LimitReached(DNSError):
    code = "dns_limit_reached"


class PriceChanged(DNSError):
    """The charge is not the one the customer was shown (a new day, a new price)."""

    code = "dns_price_changed"


class NotDelegated(DNSError):
    code = "dns_not_delegated"


class DnsBackendError(ExternalServiceError, DNSError):
    """The DNS server refused or failed a call; `retryable` and `status` as for every
    ExternalServiceError (pushes are idempotent, so `may_have_applied` does not matter)."""

    code = "dns_backend_error"
