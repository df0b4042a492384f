"""Staff screens of the provisioning app."""
