"""Celery application, following the official "First steps with Django" recipe.

Configuration comes from Django settings under the CELERY_ namespace (see settings.py):
JSON only, late acks with requeue on worker loss, global time limits, queues default,
panels and backups, and the beat schedule kept in code (run by RedBeat, a singleton). Each task
carries the request id of whatever queued it (see common/context.py).
"""

import os

from celery import Celery

# Connects the signals that carry the request id from a request into its tasks.
import billing_portal.common.context  # noqa: F401

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_portal.settings")

app = Celery("billing_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _redbeat_redis(sender: Celery, source, **kwargs) -> None:
    """RedBeat keeps the beat schedule and its lock in the broker's Redis (which never
    evicts). It reads its settings by their names without the CELERY_ prefix, so it is told
    here; otherwise it warns at every start that it falls back to the broker's URL."""
    source["redbeat_redis_url"] = source.broker_url
