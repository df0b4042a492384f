"""Database-level rules of the accounts models, checked by bypassing the ORM's helpers."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from accounts.models import User

pytestmark = pytest.mark.django_db


def test_manager_normalises_email_and_lookup_ignores_case():
    user = User.objects.create_user(email="  Mixed@Example.COM ", password="x")
    assert user.email == "mixed@example.com"
    assert User.objects.get_by_natural_key("MIXED@example.com") == user


def test_superuser_is_staff_and_verified():
    admin = User.objects.create_superuser(email="root@example.com", password="x")
    assert admin.is_staff
    assert admin.is_superuser
    assert admin.is_email_verified


def test_database_refuses_upper_case_email():
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.bulk_create([User(email="Upper@example.com")])
