"""Reads of the dns app for views and the API, always scoped by the caller."""
