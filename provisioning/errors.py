"""Errors raised by the provisioning app."""

from billing_portal.common.errors import (
    DomainError,
    ExternalServiceError,
    ExternalServiceRejected,
    ExternalServiceUnavailable,
)


class ProvisioningError(DomainError):
    code = "provisioning_error"


class InvalidServiceTransition(ProvisioningError):
    code = "invalid_service_transition"


class NoServerCapacity(ProvisioningError):
    code = "no_server_capacity"


class PlanNotAvailable(ProvisioningError):
    """This service cannot move to that plan (the module's check); others may still do."""

    code = "plan_not_available"


class PanelError(ExternalServiceError):
    """A panel call failed; `retryable`, `may_have_applied` and `status` as for every
    ExternalServiceError (the panels' HTTP layer sets them, see `provisioning.panels.http`)."""

    code = "panel_error"


class PanelRetryableError(PanelError, ExternalServiceUnavailable):
    code = "panel_retryable"


class PanelPermanentError(PanelError, ExternalServiceRejected):
    code = "panel_permanent"


class CancellationRefused(ProvisioningError):
    """A cancellation (or its withdrawal) that cannot be done; the message says why."""

    code = "cancellation_refused"


class ServerInUse(ProvisioningError):
    """A server that services were ever placed on cannot be removed (their history points to
    it): take it out of placement (inactive) instead."""

    code = "server_in_use"
    status = 409
