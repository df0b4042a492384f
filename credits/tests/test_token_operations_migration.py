"""Migrations 0009-0010: token purchases made before it become kernel operations without losing
their state: every row keeps its status and attempts, gets a unique idempotency key, and a
call in flight keeps the start time the sweeper measured it from."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from accounts.tests.factories import CustomerFactory
from billing.models import TokenPurchase

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BEFORE = [("credits", "0008_admin_list_indexes")]  # then 0009 and 0010


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_existing_token_purchases_keep_their_state_and_become_operations():
    customer = CustomerFactory()
    old_apps = _migrate(BEFORE)
    try:
        Old = old_apps.get_model("credits", "TokenPurchase")
        common = {
            "customer_id": customer.pk,
            "source": "staff",
            "tokens": Decimal("10"),
            "rate": 100,
            "currency": "USD",
            "amount": Decimal("0"),
        }
        delivered_at = timezone.now() - timedelta(days=3)
        rows = {
            "delivered": Old.objects.create(
                status="delivered",
                attempts=2,
                virtfusion_credit_id=7,
                delivered_at=delivered_at,
                **common,
            ),
            "sending": Old.objects.create(status="sending", attempts=1, **common),
            "pending": Old.objects.create(
                status="pending", next_attempt_at=timezone.now(), **common
            ),
        }
    finally:
        _migrate(_latest())  # the database as every other test expects it

    by_status = {row.status: row for row in TokenPurchase.objects.all()}
    assert set(by_status) == set(rows)
    delivered, sending = by_status["delivered"], by_status["sending"]
    assert (delivered.attempts, delivered.virtfusion_credit_id) == (2, 7)
    assert delivered.finished_at == delivered_at
    assert sending.started_at == sending.updated_at
    assert by_status["pending"].started_at is None
    keys = {row.idempotency_key for row in by_status.values()}
    assert keys == {f"token-purchase:{row.pk}" for row in rows.values()}
    # new rows get a key of their own
    fresh = TokenPurchase.objects.create(status="pending", **common)
    assert fresh.idempotency_key.startswith("token-purchase:")
    assert fresh.idempotency_key not in keys


def _latest() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()
