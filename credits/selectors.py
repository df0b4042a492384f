"""Reads of the credits app for views and the API, always scoped by the caller."""
