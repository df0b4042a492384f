"""Celery tasks of the provisioning app: take ids, reload, call one service."""
