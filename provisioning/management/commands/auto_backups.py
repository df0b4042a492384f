"""Run beat's `backups.due_run` now: the automatic backups that are due (or to be tried
again) are queued on the `backups` queue, or, without a broker (`make run`), made here."""

from django.core.management.base import BaseCommand

from provisioning.tasks import auto_backups_due_task


class Command(BaseCommand):
    help = "Queue (without a broker: make) the automatic backups of services that are due now."

    def handle(self, *args, **options) -> None:
        count = auto_backups_due_task()
        self.stdout.write(self.style.SUCCESS(f"{count} automatic backup(s) queued."))
