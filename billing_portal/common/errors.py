"""Base error family. Each app subclasses DomainError in its own errors.py.

Views catch DomainError and show `message` to the user; the API maps `code` to a stable
machine-readable error code.
"""


class DomainError(Exception):
    """A business rule refused the operation; nothing was changed."""

    code = "domain_error"
    default_message = "The operation could not be completed."

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        self.message = message or self.default_message
        if code:
            self.code = code
        super().__init__(self.message)


class ExternalServiceError(DomainError):
    """A call to a system outside the portal failed (panel, gateway, DNS server)."""

    code = "external_service_error"
    retryable = False


class ExternalServiceUnavailable(ExternalServiceError):
    """Timeouts, connection errors, 5xx: worth retrying later."""

    code = "external_service_unavailable"
    retryable = True


class ExternalServiceRejected(ExternalServiceError):
    """The remote side refused the request (4xx, validation): retrying will not help."""

    code = "external_service_rejected"
    retryable = False
