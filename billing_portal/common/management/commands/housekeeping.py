"""`manage.py housekeeping`: the daily clean-up, now and in this process."""

from __future__ import annotations

from celery import current_app as celery_app
from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Clear expired sessions and prune old login logs, webhook payloads and operation "
        "logs (the tasks beat runs daily; retention from *_RETENTION_DAYS). Safe to run "
        "again: what was pruned is not pruned twice. Audit events and the ledger are kept."
    )

    def handle(self, *args, **options) -> None:
        # By task name, as beat calls them: each app owns its clean-up.
        celery_app.loader.import_default_modules()
        for name in settings.HOUSEKEEPING_TASKS:
            result = celery_app.tasks[name].apply(throw=True).get()
            self.stdout.write(f"{name}: {result}")
