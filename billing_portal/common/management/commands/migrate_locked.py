"""`migrate`, one run at a time: the command of docker-compose.yml's one-shot `migrate`.

Two `migrate` runs at once (two deploys overlapping, a scaled service that migrates on
start) both apply the same migrations: one fails half-way and django_migrations gets
duplicate rows. Here each run first takes a PostgreSQL advisory lock, so a second run waits
for the first and then finds nothing left to apply. The lock belongs to the database
session, so it is released when the run ends, however it ends.
"""

from __future__ import annotations

from django.core.management.commands import migrate
from django.db import connections

# Any fixed number: what matters is that every run asks for the same one.
MIGRATE_LOCK_KEY = 4_102_202_612


class Command(migrate.Command):
    help = "Apply migrations like `migrate`, one run at a time (PostgreSQL advisory lock)."

    def handle(self, *args, **options) -> None:
        connection = connections[options["database"]]
        if connection.vendor != "postgresql":  # the embedded SQLite has one local user
            super().handle(*args, **options)
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [MIGRATE_LOCK_KEY])
            if not cursor.fetchone()[0]:
                self.stdout.write("Another migration run holds the lock; waiting for it.")
                cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATE_LOCK_KEY])
        try:
            super().handle(*args, **options)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATE_LOCK_KEY])
