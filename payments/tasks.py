"""Celery tasks of the payments app: take ids, reload, call one service."""
