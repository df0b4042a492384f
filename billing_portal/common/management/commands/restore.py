"""manage.py restore <file>: put a backup written by `manage.py backup` back into the
configured database, replacing everything in it."""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from billing_portal.common.backups import BackupError, backup_restore


class Command(BaseCommand):
    help = "Replace the database's contents with a backup (decrypted with "
    help += "BACKUP_ENCRYPTION_KEY). Stop the web and worker processes first."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path, help="A file written by manage.py backup.")
        parser.add_argument(
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Do not ask for confirmation.",
        )

    def handle(self, *args, **options) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"No backup file at {path}.")
        database = connections["default"].settings_dict
        where = f"{database['NAME']}" + (f" on {database['HOST']}" if database.get("HOST") else "")
        if options["interactive"]:
            answer = input(
                f"This replaces everything in the database {where} with {path}. "
                "Type 'yes' to continue: "
            )
            if answer != "yes":
                raise CommandError("Restore cancelled; nothing was changed.")
        try:
            vendor = backup_restore(path=path)
        except (BackupError, ImproperlyConfigured, OSError) as error:
            raise CommandError(f"Restore failed, nothing was changed: {error}") from error
        self.stdout.write(
            f"Restored {path.name} into the {vendor} database {where}. If this code is newer "
            "than the backup, run manage.py migrate before starting the portal."
        )
