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
    """A call to a system outside the portal failed (panel, gateway, DNS server, token wallet).

    The one family every adapter raises, so the operation runner decides the same way for all:
    `retryable`: the same call may succeed later (timeouts, connection errors, 429, 5xx).
    `may_have_applied`: the remote side may have carried the request out although we did not
    get its answer (the response was lost, or a 500 after the work was done), so a
    non-idempotent call must not simply be sent again. `status`: the HTTP status, 0 if none.
    """

    code = "external_service_error"

    def __init__(
        self,
        message: str | None = None,
        *,
        retryable: bool = False,
        may_have_applied: bool = False,
        status: int = 0,
        code: str | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.retryable = retryable
        self.may_have_applied = may_have_applied
        self.status = status


class ExternalServiceUnavailable(ExternalServiceError):
    """Timeouts, connection errors, 429, 5xx: worth retrying later."""

    code = "external_service_unavailable"

    def __init__(
        self, message: str | None = None, *, may_have_applied: bool = False, status: int = 0
    ) -> None:
        super().__init__(message, retryable=True, may_have_applied=may_have_applied, status=status)


class ExternalServiceRejected(ExternalServiceError):
    """The remote side refused the request (4xx, validation): retrying will not help."""

    code = "external_service_rejected"

    def __init__(self, message: str | None = None, *, status: int = 0) -> None:
        super().__init__(message, retryable=False, status=status)
