"""Token purchases and refund shortfalls moved from credits to billing (billing 0004, credits
0011): the rows, their links, the constraints, the content types and the staff permissions
on them (custom ones included) survive the move, and it can be undone."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from djmoney.money import Money

from accounts.tests.factories import CustomerFactory, UserFactory
from billing.models import RefundShortfall, TokenPurchase
from invoices import services as invoice_services

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# Unapplying billing 0004 unapplies credits 0011 with it: credits is left at 0010.
BEFORE_THE_MOVE = [("billing", "0001_billingrun_from_invoices")]
CREDITS_BEFORE = ("credits", "0010_token_purchase_key_unique")


def _migrate(targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    ContentType.objects.clear_cache()
    return executor


def _latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def _constraints(table: str) -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.get_constraints(cursor, table))


def test_purchases_shortfalls_and_their_permissions_survive_the_move():
    customer = CustomerFactory()
    line = invoice_services.LineDraft(
        kind="manual", description="Tokens", unit_price=Money(Decimal("5"), "USD")
    )
    invoice = invoice_services.invoice_create_draft(customer=customer, currency="USD", lines=[line])
    old_apps = _migrate(BEFORE_THE_MOVE).loader.project_state(CREDITS_BEFORE).apps
    try:
        tables = connection.introspection.table_names()
        assert {"credits_tokenpurchase", "credits_refundshortfall"} <= set(tables)
        assert "billing_tokenpurchase" not in tables
        OldPurchase = old_apps.get_model("credits", "TokenPurchase")
        OldShortfall = old_apps.get_model("credits", "RefundShortfall")
        purchase = OldPurchase.objects.create(
            customer_id=customer.pk,
            source="purchase",
            invoice_id=invoice.pk,
            status="delivered",
            idempotency_key="token-purchase:old",
            tokens=Decimal("500"),
            rate=100,
            currency="USD",
            amount=Decimal("5"),
            virtfusion_credit_id=71,
            attempts=1,
        )
        shortfall = OldShortfall.objects.create(
            customer_id=customer.pk,
            invoice_id=invoice.pk,
            token_purchase_id=purchase.pk,
            kind="tokens",
            currency="USD",
            amount=Decimal("5"),
            tokens=Decimal("500"),
            description="Used already.",
        )
        types = {
            model: ContentType.objects.get(app_label="credits", model=model)
            for model in ("tokenpurchase", "refundshortfall")
        }
        support = Group.objects.create(name="Token desk")  # not a seeded role's name
        support.permissions.add(
            Permission.objects.get(content_type=types["tokenpurchase"], codename="manage_tokens"),
            Permission.objects.get(
                content_type=types["refundshortfall"], codename="resolve_refundshortfall"
            ),
            Permission.objects.get(
                content_type=types["tokenpurchase"], codename="view_tokenpurchase"
            ),
        )
        staff = UserFactory(is_staff=True)
        staff.groups.add(support)
    finally:
        _migrate(_latest())

    moved = TokenPurchase.objects.get(pk=purchase.pk)
    assert (moved.status, moved.tokens, moved.virtfusion_credit_id) == ("delivered", 500, 71)
    assert moved.invoice_id == invoice.pk
    assert moved.customer_id == customer.pk
    assert moved.idempotency_key == "token-purchase:old"
    kept = RefundShortfall.objects.get(pk=shortfall.pk)
    assert kept.token_purchase == moved
    assert kept.status == RefundShortfall.Status.OPEN
    tables = connection.introspection.table_names()
    assert {"billing_tokenpurchase", "billing_refundshortfall"} <= set(tables)
    assert "credits_tokenpurchase" not in tables
    assert "credits_refundshortfall" not in tables
    assert "billing_tokenpurchase_positive" in _constraints("billing_tokenpurchase")
    assert "billing_refundshortfall_resolved_has_date" in _constraints("billing_refundshortfall")
    with pytest.raises(IntegrityError), transaction.atomic():  # the checks came along
        TokenPurchase.objects.filter(pk=moved.pk).update(tokens=0)
    for model, content_type in types.items():
        now = ContentType.objects.get(app_label="billing", model=model)
        assert now.pk == content_type.pk
        assert not ContentType.objects.filter(app_label="credits", model=model).exists()
    staff.refresh_from_db()
    assert staff.has_perm("billing.manage_tokens")
    assert staff.has_perm("billing.resolve_refundshortfall")
    assert staff.has_perm("billing.view_tokenpurchase")
    fresh = TokenPurchase.objects.create(
        customer=customer,
        source="staff",
        status="pending",
        tokens=Decimal("1"),
        rate=100,
        currency="USD",
        amount=Money(0, "USD"),
    )
    assert fresh.pk > moved.pk  # the sequence came along too
