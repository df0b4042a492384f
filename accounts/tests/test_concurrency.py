"""Concurrent writes against a real PostgreSQL server."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from accounts import services
from accounts.errors import EmailAlreadyRegistered
from accounts.models import AuditAction, AuditEvent, Customer, User

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ATTEMPTS = 4


def test_concurrent_registrations_of_one_email_create_one_account(
    django_capture_on_commit_callbacks,
):
    barrier = threading.Barrier(ATTEMPTS)
    outcomes: list[str] = []

    def register() -> None:
        barrier.wait()
        try:
            services.customer_register(
                email="race@example.com",
                password="race-condition-passphrase",
                name="Racer",
                country="DE",
                base_url="http://testserver/",
            )
            outcomes.append("created")
        except EmailAlreadyRegistered:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=register) for _ in range(ATTEMPTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["created"] + ["refused"] * (ATTEMPTS - 1)
    assert User.objects.filter(email="race@example.com").count() == 1
    assert Customer.objects.count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.ACCOUNT_REGISTERED).count() == 1
