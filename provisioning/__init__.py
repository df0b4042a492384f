"""Panel servers, customer services, panel adapters and provisioning operations."""
