"""Models of the provisioning app: panel servers, customer services, panel adapters and
provisioning operations.
"""
