"""The audit log and the credit ledger are append-only for the application's database role
(issue 16): `manage.py db_app_role` makes a role that reads and writes the portal's tables,
but PostgreSQL refuses it UPDATE and DELETE on those two. The test acts as that role with
SET ROLE inside its transaction, which rolls back the role with everything else."""

from __future__ import annotations

import uuid

import pytest
from django.core.management import call_command
from django.db import ProgrammingError, connection, transaction

from accounts.audit import AccountAudit
from billing_portal.common.audit import audit_record
from billing_portal.common.models import AuditEvent
from billing_portal.common.testing import usd
from credits.models import CreditEntry
from credits.services import credit_entry_append

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture
def app_role(customer):
    role = f"portal_app_{uuid.uuid4().hex[:8]}"
    call_command("db_app_role", role, verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(f'SET ROLE "{role}"')
    try:
        yield role
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")


def _refused(statement: str, params: list) -> None:
    with (
        pytest.raises(ProgrammingError, match="permission denied"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, params)


def test_the_app_role_appends_and_reads_but_cannot_change_the_audit_log(customer, app_role):
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == app_role
    event = audit_record(action=AccountAudit.PROFILE_CHANGED, customer=customer)  # INSERT
    assert AuditEvent.objects.filter(pk=event.pk).exists()  # SELECT
    assert AuditEvent._meta.db_table == "common_auditevent"
    _refused("UPDATE common_auditevent SET action = 'account.login' WHERE id = %s", [event.pk])
    _refused("DELETE FROM common_auditevent WHERE id = %s", [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == "account.profile_changed"


def test_the_app_role_appends_and_reads_but_cannot_change_the_credit_ledger(customer, app_role):
    entry = credit_entry_append(  # INSERT, and the account's balance UPDATE (allowed)
        customer=customer, amount=usd("5"), kind="admin_add", idempotency_key="k"
    )
    assert CreditEntry.objects.filter(pk=entry.pk).exists()
    assert CreditEntry._meta.db_table == "credits_creditentry"
    _refused("UPDATE credits_creditentry SET description = 'x' WHERE id = %s", [entry.pk])
    _refused("DELETE FROM credits_creditentry WHERE id = %s", [entry.pk])
    _refused("TRUNCATE credits_creditentry", [])
    # Everything else stays writable, e.g. the customer's profile.
    customer.company = "Still writable Ltd"
    customer.save(update_fields=["company"])


def test_running_it_again_changes_nothing_and_a_login_role_takes_its_password(
    monkeypatch, customer
):
    role = f"portal_app_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("PORTAL_APP_PASSWORD", "s3cret-'quoted")
    call_command("db_app_role", role, "--password-env", "PORTAL_APP_PASSWORD", verbosity=0)
    call_command("db_app_role", role, "--password-env", "PORTAL_APP_PASSWORD", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = %s", [role])
        assert cursor.fetchone() == (True, False)
        cursor.execute(
            "SELECT privilege_type FROM information_schema.role_table_grants "
            "WHERE grantee = %s AND table_name = %s ORDER BY 1",
            [role, AuditEvent._meta.db_table],
        )
        assert [row[0] for row in cursor.fetchall()] == ["INSERT", "SELECT"]
