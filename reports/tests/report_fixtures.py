"""Fixtures and helpers of the reports' and exports' tests (a module rather than a
conftest.py, which the dashboard's tests in this app may have): each test module imports
them with `from reports.tests.report_fixtures import *`."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from accounts.models import User
from accounts.tests.factories import UserFactory
from reports.tests.books import Books, books

__all__ = [
    "_report_exports_in_tmp",
    "accountant",
    "client_for",
    "data",
    "staff_with",
]


@pytest.fixture(autouse=True)
def _report_exports_in_tmp(settings, tmp_path) -> None:
    # Export files a test builds go to its own directory, not the checkout's private/.
    settings.STORAGES = {
        **settings.STORAGES,
        "report_exports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "report_exports", "base_url": None},
        },
    }


def staff_with(*codenames: str) -> User:
    user = UserFactory(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return User.objects.get(pk=user.pk)


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def accountant() -> User:
    return staff_with("view_reports", "export_reports")


@pytest.fixture
def data() -> Books:
    return books()
