"""Celery tasks of the invoices app: take ids, reload, call one service."""
