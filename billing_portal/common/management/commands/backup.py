"""manage.py backup: an encrypted backup of the portal's database in BACKUP_DIR (the daily
`backups.portal_backup` task runs the same code)."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from billing_portal.common.backups import BackupError, backup_create


class Command(BaseCommand):
    help = "Back up the database (pg_dump or an SQLite snapshot), encrypted with "
    help += "BACKUP_ENCRYPTION_KEY, into BACKUP_DIR; keep the BACKUP_KEEP newest."

    def handle(self, *args, **options) -> None:
        try:
            record = backup_create()
        except (BackupError, ImproperlyConfigured, OSError) as error:
            raise CommandError(f"Backup failed: {error}") from error
        self.stdout.write(f"Wrote {record.file_name} ({record.size_bytes} bytes).")
