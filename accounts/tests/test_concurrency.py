"""Concurrent writes against a real PostgreSQL server."""

from __future__ import annotations

import pytest

from accounts import services
from accounts.audit import AccountAudit
from accounts.errors import EmailAlreadyRegistered
from accounts.models import Customer, User
from billing_portal.common.audit import AuditEvent
from billing_portal.common.testing import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ATTEMPTS = 4


def test_concurrent_registrations_of_one_email_create_one_account(
    django_capture_on_commit_callbacks,
):
    def register() -> str:
        services.customer_register(
            email="race@example.com",
            password="race-condition-passphrase",
            name="Racer",
            country="DE",
            base_url="http://testserver/",
        )
        return "created"

    results = run_together([register] * ATTEMPTS)
    outcomes = ["refused" if isinstance(r, EmailAlreadyRegistered) else r for r in results]
    assert sorted(outcomes) == ["created"] + ["refused"] * (ATTEMPTS - 1)
    assert User.objects.filter(email="race@example.com").count() == 1
    assert Customer.objects.count() == 1
    assert AuditEvent.objects.filter(action=AccountAudit.ACCOUNT_REGISTERED).count() == 1
