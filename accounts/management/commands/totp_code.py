"""Print the current TOTP code of a user's authenticator app device, so the demo staff user
(and anyone testing a local install) can log in without a phone: `manage.py totp_code
admin@example.com`. It reads the device key from the database, so it shows nothing an
operator with database access could not compute; it still refuses without DEBUG unless
--force is given, so it is not used as a habit in production."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import second_factor
from accounts.models import User, normalize_email


class Command(BaseCommand):
    help = "Print the current authenticator-app code of a user (demo and local installs)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--force", action="store_true", help="Run with DEBUG off too.")

    def handle(self, *args, **options) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError("DEBUG is off: pass --force to print a code on this install.")
        user = User.objects.filter(email=normalize_email(options["email"])).first()
        if user is None:
            raise CommandError(f"No user has the address {options['email']}.")
        device = second_factor.totp_device_for_user(user=user)
        if device is None:
            raise CommandError(f"{user.email} has no authenticator app set up.")
        self.stdout.write(second_factor.totp_current_code(device=device))
