"""Celery tasks of the dns app: take ids, reload, call one service."""
