"""Reads of the invoices app for views and the API, always scoped by the caller."""
