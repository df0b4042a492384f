"""Errors raised by the provisioning app."""

from billing_portal.common.errors import DomainError


class ProvisioningError(DomainError):
    code = "provisioning_error"
