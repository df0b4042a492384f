"""manage.py credits_reconcile: check every cached credit balance against its entries."""

from django.core.management.base import BaseCommand, CommandError

from credits.services import credits_reconcile


class Command(BaseCommand):
    help = "Check that each credit account's cached balance equals the sum of its entries."

    def handle(self, *args, **options) -> None:
        mismatches = credits_reconcile()
        if mismatches:
            for mismatch in mismatches:
                self.stderr.write(str(mismatch))
            raise CommandError(f"{len(mismatches)} credit account(s) do not reconcile.")
        self.stdout.write("All credit balances reconcile.")
