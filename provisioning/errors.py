"""Errors raised by the provisioning app."""

from billing_portal.common.errors import DomainError


class ProvisioningError(DomainError):
    code = "provisioning_error"


class InvalidServiceTransition(ProvisioningError):
    code = "invalid_service_transition"
