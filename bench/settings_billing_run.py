"""Settings of the billing run benchmark and its Celery workers: the portal's, with DEBUG
off (no query log growing with the run, no lock-order bookkeeping) and the emails on a queue
of their own that no benchmark worker takes, so the workers measured do the run's chunks."""

from billing_portal.settings import *  # noqa: F403

DEBUG = False
LOCK_ORDER_CHECKS = False
CELERY_TASK_ROUTES = {**CELERY_TASK_ROUTES, "common.email_send": {"queue": "bench-mail"}}  # noqa: F405
