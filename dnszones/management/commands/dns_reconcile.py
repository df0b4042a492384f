"""Compare every zone in the portal with the DNS server and repair what drifted."""

from django.core.management.base import BaseCommand

from dnszones.services import dns_reconcile


class Command(BaseCommand):
    help = "Compare the portal's zones with the DNS server and repair drift."

    def handle(self, *args, **options) -> None:
        counts = dns_reconcile()
        self.stdout.write(
            self.style.SUCCESS(
                "Checked {zones} zones: {created} created, {repaired_sets} record sets repaired, "
                "{removed} removed.".format(**counts)
            )
        )
