"""Reads of the payments app for views and the API, always scoped by the caller."""
