"""Re-encrypt every stored secret with the first of FIELD_ENCRYPTION_KEYS.

Rotation: put the new key first in FIELD_ENCRYPTION_KEYS (keep the old one after it), restart,
run this command, then remove the old key."""

from django.core.management.base import BaseCommand

from provisioning.services import secrets_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret (panel credentials, service secrets) with the newest key."
    )

    def handle(self, *args, **options) -> None:
        count = secrets_rotate()
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {count} rows with the newest key."))
