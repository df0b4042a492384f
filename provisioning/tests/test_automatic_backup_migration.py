"""Migration 0021: automatic backups made before it become kernel operations without losing
anything: every row keeps its status, attempts, times and panel id, and gets the unique
idempotency key the due run writes (`auto_backup:<service>:<slot>`)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from provisioning.models import AutomaticBackup
from provisioning.tests.factories import ServerFactory, service_on

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BEFORE = [("provisioning", "0020_automatic_backups")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _latest() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def test_existing_automatic_backups_keep_their_state_and_become_operations():
    service = service_on(ServerFactory(), status="active", external_id="acct-1")
    made_at = timezone.now() - timedelta(days=2)
    old_apps = _migrate(BEFORE)
    try:
        Old = old_apps.get_model("provisioning", "AutomaticBackup")
        Old.objects.create(
            service_id=service.pk,
            slot=date(2026, 12, 1),
            name="AUTO20261201-1",
            status="succeeded",
            backup_id="b1",
            attempts=2,
            finished_at=made_at,
        )
        Old.objects.create(
            service_id=service.pk,
            slot=date(2026, 12, 2),
            name="AUTO20261202-2",
            status="failed",
            attempts=4,
            last_error="Panel answered 503",
        )
    finally:
        _migrate(_latest())  # the database as every other test expects it

    rows = {row.slot.day: row for row in AutomaticBackup.objects.all()}
    made, failed = rows[1], rows[2]
    assert (made.status, made.backup_id, made.attempts, made.finished_at) == (
        "succeeded",
        "b1",
        2,
        made_at,
    )
    assert (failed.status, failed.attempts, failed.last_error) == (
        "failed",
        4,
        "Panel answered 503",
    )
    assert {row.idempotency_key for row in rows.values()} == {
        f"auto_backup:{service.pk}:20261201",
        f"auto_backup:{service.pk}:20261202",
    }
    # a row written by hand gets a key of its own
    fresh = AutomaticBackup.objects.create(service=service, slot=date(2026, 12, 3))
    assert fresh.idempotency_key.startswith("auto_backup:")
