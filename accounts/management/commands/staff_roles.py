"""`manage.py staff_roles`: create the staff role groups and set their permissions to the
table in accounts/roles.py. The data migration does this once; run it again after an
upgrade whose migrations add models or permissions (safe to run any number of times)."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.roles import roles_sync


class Command(BaseCommand):
    help = "Create the staff roles (Support, Billing, Technical, Administrator) and sync them."

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            results = roles_sync(group_model=Group, permission_model=Permission)
        for result in results:
            state = "created" if result.created else "synced"
            self.stdout.write(
                f"{result.name}: {state}, {result.added} permissions added, "
                f"{result.removed} removed"
            )
