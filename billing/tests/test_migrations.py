"""BillingRun moved from invoices to billing (billing 0001, invoices 0010): the rows, the
content type and the staff permissions on it survive the move, and it can be undone."""

from __future__ import annotations

from datetime import date

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts.tests.factories import UserFactory
from billing.models import BillingRun

pytestmark = pytest.mark.django_db(transaction=True)

# Unapplying billing 0001 unapplies invoices 0010 with it: invoices is left at 0009.
BEFORE_THE_MOVE = [("billing", None)]
INVOICES_BEFORE = ("invoices", "0009_admin_list_indexes")


def _migrate(targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    ContentType.objects.clear_cache()
    return executor


def _latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def test_billing_runs_and_their_permissions_survive_the_move():
    old_apps = _migrate(BEFORE_THE_MOVE).loader.project_state(INVOICES_BEFORE).apps
    try:
        tables = connection.introspection.table_names()
        assert "invoices_billingrun" in tables
        assert "billing_billingrun" not in tables
        OldRun = old_apps.get_model("invoices", "BillingRun")
        old = OldRun.objects.create(
            as_of=date(2026, 1, 26),
            status="completed_with_errors",
            counts={"renewals": 3, "suspended": 1},
            errors=[{"step": "renewals", "item": "[7]", "error": "RuntimeError: down"}],
        )
        content_type = ContentType.objects.get(app_label="invoices", model="billingrun")
        auditors = Group.objects.create(name="Auditors")
        auditors.permissions.add(
            Permission.objects.get(content_type=content_type, codename="view_billingrun")
        )
        staff = UserFactory(is_staff=True)
        staff.groups.add(auditors)
    finally:
        _migrate(_latest())

    run = BillingRun.objects.get(pk=old.pk)
    assert (run.as_of, run.status) == (date(2026, 1, 26), "completed_with_errors")
    assert run.counts == {"renewals": 3, "suspended": 1}
    assert run.errors == [{"step": "renewals", "item": "[7]", "error": "RuntimeError: down"}]
    assert BillingRun.objects.create(as_of=date(2026, 1, 27)).pk > old.pk  # the sequence too
    tables = connection.introspection.table_names()
    assert "billing_billingrun" in tables
    assert "invoices_billingrun" not in tables
    moved = ContentType.objects.get_for_model(BillingRun)
    assert (moved.pk, moved.app_label) == (content_type.pk, "billing")
    assert not ContentType.objects.filter(app_label="invoices", model="billingrun").exists()
    staff.refresh_from_db()
    assert staff.has_perm("billing.view_billingrun")
