"""Demo data: a staff user, a Support and a Billing staff user (the roles of
accounts/roles.py), a demo customer with demo credit that pays the first cycle of
any product, a catalogue of one product of every kind (each provisioned on a sandbox panel
server), the DNS plans, an answered support ticket with canned responses, and a year of a
second customer's business for the staff dashboard (billing/demo.py).

Idempotent: every object is looked up by a natural key first, so a second run creates
nothing and never changes a password someone set. With DEBUG on the demo passwords are
fixed for convenience; with DEBUG off they are random and printed once, at creation.
"""

from __future__ import annotations

import secrets
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from djmoney.money import Money

from accounts import second_factor
from accounts.models import Customer, User
from accounts.roles import roles_sync
from billing.demo import business_history_seed
from catalogue.demo import catalogue_seed
from credits.models import CreditEntry
from credits.services import credit_entry_append
from dnszones.demo import dns_plans_seed
from provisioning.demo import dns_server_seed, sandbox_seed
from support.demo import support_seed

STAFF_EMAIL = "admin@example.com"
CUSTOMER_EMAIL = "demo@example.com"
# Staff in one role each, to try the roles with (Support acts as customers, Billing refunds).
ROLE_STAFF = {"support@example.com": "Support", "billing@example.com": "Billing"}
# Pays the first cycle of any demo product, even annual with every add-on (about 520).
DEMO_CREDIT = Decimal("1000")
DEV_PASSWORDS = {
    STAFF_EMAIL: "admin-demo-pass",
    CUSTOMER_EMAIL: "demo-customer-pass",
    "support@example.com": "support-demo-pass",
    "billing@example.com": "billing-demo-pass",
}


class Command(BaseCommand):
    help = "Create idempotent demo data: a staff user, a demo customer and a catalogue."

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            created = [
                self._user(STAFF_EMAIL, is_staff=True),
                self._user(CUSTOMER_EMAIL, is_staff=False),
                *(self._role_user(email, role) for email, role in ROLE_STAFF.items()),
            ]
            customer = self._customer()
            catalogue_seed()
            sandbox_seed()
            dns_plans_seed()
            dns_server_seed()
            business_history_seed()  # a year of another customer's business, for the dashboard
            # Before the credit: the user row locks first in the portal's lock order.
            devices = {
                email: second_factor.totp_device_ensure(user=User.objects.get(email=email))
                for email in (STAFF_EMAIL, *ROLE_STAFF)
            }
            self._demo_credit(customer)
            # Last: tickets are last in the lock order.
            support_seed(customer=customer, staff=User.objects.get(email=STAFF_EMAIL))
        self.stdout.write(self.style.SUCCESS("Demo data is in place."))
        base = settings.PORTAL_BASE_URL
        self.stdout.write(f"Demo logins ({base}/accounts/login/, staff: {base}/admin/):")
        for email, password in created:
            shown = password or "(unchanged since it was first created)"
            self.stdout.write(f"  {email:<22} {shown}")
        # Staff need a second factor: the demo staff user's authenticator-app key, to add to
        # an app, and the command that prints a current code without one.
        for email, (device, new) in devices.items():
            if new or settings.DEBUG:
                secret = second_factor.totp_secret_text(device=device).replace(" ", "")
                self.stdout.write(f"Staff authenticator-app key (TOTP) of {email}: {secret}")
            self.stdout.write(f"  current code: python manage.py totp_code {email}")

    def _role_user(self, email: str, role: str) -> tuple[str, str | None]:
        """A staff user (not a superuser) in one role group."""
        created = self._user(email, is_staff=True, is_superuser=False)
        if not Group.objects.filter(name=role).exists():  # a database flushed since migrate
            roles_sync(group_model=Group, permission_model=Permission)
        User.objects.get(email=email).groups.add(Group.objects.get(name=role))
        return created

    def _user(
        self, email: str, *, is_staff: bool, is_superuser: bool | None = None
    ) -> tuple[str, str | None]:
        user = User.objects.filter(email=email).first()
        if user is not None:
            return email, DEV_PASSWORDS[email] if settings.DEBUG else None
        password = DEV_PASSWORDS[email] if settings.DEBUG else secrets.token_urlsafe(12)
        User.objects.create_user(
            email=email,
            password=password,
            is_staff=is_staff,
            is_superuser=is_staff if is_superuser is None else is_superuser,
            email_verified_at=timezone.now(),
        )
        return email, password

    def _demo_credit(self, customer: Customer) -> None:
        """Credit to pay a first order with; added once (the key makes a rerun a no-op). An
        older demo database, which got less, is topped up once."""
        wanted = Money(DEMO_CREDIT, customer.preferred_currency)
        given = self._credit(customer, wanted, "demo:welcome-credit")
        if given.amount < wanted:
            self._credit(customer, wanted - given.amount, "demo:welcome-credit:top-up")

    @staticmethod
    def _credit(customer: Customer, amount: Money, key: str) -> CreditEntry:
        return credit_entry_append(
            customer=customer,
            amount=amount,
            kind=CreditEntry.Kind.ADMIN_ADD,
            idempotency_key=key,
            description="Demo credit",
            reason="seed_demo",
        )

    def _customer(self) -> Customer:
        customer, _ = Customer.objects.get_or_create(
            user=User.objects.get(email=CUSTOMER_EMAIL),
            defaults={
                "name": "Dana Demo",
                "company": "Demo Hosting Ltd",
                "address_line1": "1 Example Street",
                "city": "London",
                "postal_code": "EC1A 1AA",
                "country": "GB",
                "preferred_currency": settings.DEFAULT_CURRENCY,
            },
        )
        return customer
