"""Celery application, following the official "First steps with Django" recipe.

Configuration comes from Django settings under the CELERY_ namespace (see settings.py):
JSON only, late acks with requeue on worker loss, global time limits, queues default,
panels and backups, and the beat schedule kept in code. Each task carries the request id
of whatever queued it (see common/context.py).
"""

import os

from celery import Celery

# Connects the signals that carry the request id from a request into its tasks.
import billing_portal.common.context  # noqa: F401

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_portal.settings")

app = Celery("billing_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
