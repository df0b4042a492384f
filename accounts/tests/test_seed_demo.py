"""manage.py seed_demo: demo data, idempotent."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from accounts.management.commands.seed_demo import CUSTOMER_EMAIL, STAFF_EMAIL
from accounts.models import AuditEvent, Customer, User
from invoices.models import ConfigurableOptionPrice, Product, ProductPrice

pytestmark = pytest.mark.django_db


def _counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "customers": Customer.objects.count(),
        "events": AuditEvent.objects.count(),
        "products": Product.objects.count(),
        "prices": ProductPrice.objects.count() + ConfigurableOptionPrice.objects.count(),
    }


def test_seed_demo_creates_staff_and_customer_once(settings):
    settings.DEBUG = True
    out = StringIO()
    call_command("seed_demo", stdout=out)
    first = _counts()
    staff = User.objects.get(email=STAFF_EMAIL)
    assert staff.is_staff
    assert staff.is_superuser
    assert staff.is_email_verified
    assert staff.check_password("admin-demo-pass")
    customer = Customer.objects.get(user__email=CUSTOMER_EMAIL)
    assert customer.user.check_password("demo-customer-pass")
    assert "demo@example.com" in out.getvalue()
    staff_password_hash = staff.password

    call_command("seed_demo", stdout=StringIO())

    assert (
        _counts()
        == first
        == {
            "users": 2,
            "customers": 1,
            "events": 0,
            "products": 3,
            "prices": 36,
        }
    )
    staff.refresh_from_db()
    assert staff.password == staff_password_hash


def test_seed_demo_outside_debug_uses_random_passwords(settings):
    settings.DEBUG = False
    out = StringIO()
    call_command("seed_demo", stdout=out)
    staff = User.objects.get(email=STAFF_EMAIL)
    assert not staff.check_password("admin-demo-pass")
    printed = out.getvalue().split(STAFF_EMAIL)[1].split()[0]
    assert staff.check_password(printed)
