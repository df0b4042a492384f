"""Errors raised by the provisioning app."""

from billing_portal.common.errors import DomainError, ExternalServiceError


class ProvisioningError(DomainError):
    code = "provisioning_error"


class InvalidServiceTransition(ProvisioningError):
    code = "invalid_service_transition"


class NoServerCapacity(ProvisioningError):
    code = "no_server_capacity"


class PanelError(ExternalServiceError):
    """A panel call failed. `retryable`: the same call may succeed later (timeouts, connection
    errors, 429, 5xx). `may_have_applied`: the panel may have carried the request out although
    we did not get its answer (the response was lost, or a 500 after the work was done), so a
    non-idempotent call must not simply be sent again."""

    code = "panel_error"

    def __init__(
        self, message: str, *, retryable: bool, may_have_applied: bool = False, status: int = 0
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.may_have_applied = may_have_applied
        self.status = status


class PanelRetryableError(PanelError):
    code = "panel_retryable"

    def __init__(self, message: str, *, may_have_applied: bool = False, status: int = 0) -> None:
        super().__init__(message, retryable=True, may_have_applied=may_have_applied, status=status)


class PanelPermanentError(PanelError):
    code = "panel_permanent"

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message, retryable=False, status=status)
