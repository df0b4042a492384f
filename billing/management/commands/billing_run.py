"""manage.py billing_run: the daily billing automation (the beat task runs the same code)."""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from billing.services import billing_run


class Command(BaseCommand):
    help = "Issue renewals, send reminders, charge late fees, suspend and terminate overdue "
    help += "services and cancel stale unpaid orders. Safe to run more than once a day."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--date", help="Bill as of this day (YYYY-MM-DD) instead of today, e.g. to catch up."
        )

    def handle(self, *args, **options) -> None:
        try:
            today = date.fromisoformat(options["date"]) if options["date"] else None
        except ValueError as exc:
            raise CommandError(f"--date must be YYYY-MM-DD, not {options['date']!r}.") from exc
        run = billing_run(today=today)
        counts = ", ".join(f"{step}: {count}" for step, count in run.counts.items())
        self.stdout.write(f"Billing run for {run.as_of} {run.get_status_display().lower()}.")
        self.stdout.write(counts)
        for error in run.errors:
            self.stderr.write(f"{error['step']}: {error['item']}: {error['error']}")
