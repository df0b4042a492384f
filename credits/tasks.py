"""Celery tasks of the credits app: take ids, reload, call one service."""
