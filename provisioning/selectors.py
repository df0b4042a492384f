"""Reads of the provisioning app for views and the API, always scoped by the caller."""
