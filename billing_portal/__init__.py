"""The billing portal project package: wiring only (settings, URLs, Celery, WSGI/ASGI)."""

# Load the Celery app whenever Django starts so @shared_task binds to it.
from billing_portal.celery import app as celery_app

__all__ = ("celery_app",)
