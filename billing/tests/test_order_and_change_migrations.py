"""Orders moved from invoices to the catalogue (catalogue 0002, provisioning 0012, invoices
0013) and plan changes from provisioning to billing (billing 0003, provisioning 0013): the
rows, the foreign keys pointing at them, the content types and the staff permissions survive,
the tables take their new app's name, and the moves can be undone."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# Unapplying catalogue 0002 unapplies everything built on it (provisioning 0012 and 0013,
# invoices 0013, billing 0003): the orders are invoices', the plan changes provisioning's.
BEFORE_THE_MOVES = [("catalogue", "0001_initial")]


def _migrate(targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    ContentType.objects.clear_cache()
    return executor


def _applied_apps():
    """The models as the applied migrations leave them (whatever other apps are at)."""
    return MigrationExecutor(connection)._create_project_state(with_applied_migrations=True).apps


def _latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def _seed(apps) -> dict[str, int]:
    """An order with its coupon redemption, invoice and service, and an upgrade awaiting the
    payment of its invoice, as invoices and provisioning held them; staff allowed to change
    orders and to view plan changes."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    User = apps.get_model("accounts", "User")
    Customer = apps.get_model("accounts", "Customer")
    ProductGroup = apps.get_model("catalogue", "ProductGroup")
    Product = apps.get_model("catalogue", "Product")
    Coupon = apps.get_model("catalogue", "Coupon")
    Order = apps.get_model("invoices", "Order")
    CouponRedemption = apps.get_model("invoices", "CouponRedemption")
    Invoice = apps.get_model("invoices", "Invoice")
    Service = apps.get_model("provisioning", "Service")
    ServiceChange = apps.get_model("provisioning", "ServiceChange")

    group = ProductGroup.objects.create(name="Game servers", slug="game-servers")
    small = Product.objects.create(group=group, name="Small", slug="small", kind="game_server")
    large = Product.objects.create(group=group, name="Large", slug="large", kind="game_server")
    coupon = Coupon.objects.create(code="SAVE10", kind="percent", percent=10, applies="recurring")
    user = User.objects.create(email="buyer@example.test")
    customer = Customer.objects.create(user=user, name="Buyer", country="DE")
    order = Order.objects.create(customer=customer, coupon=coupon)
    CouponRedemption.objects.create(coupon=coupon, customer=customer, order=order)
    zero = {"subtotal": 0, "discount_total": 0, "tax_total": 0, "amount_paid": 0}
    invoice = Invoice.objects.create(
        customer=customer,
        order=order,
        kind="order",
        currency="USD",
        total=0,
        amount_refunded=0,
        **zero,
    )
    service = Service.objects.create(
        customer=customer,
        product=small,
        order=order,
        cycle="monthly",
        currency="USD",
        recurring_amount=Decimal("4"),
        status="active",
    )
    upgrade = Invoice.objects.create(
        customer=customer,
        kind="upgrade",
        currency="USD",
        total=0,
        amount_refunded=0,
        **zero,
    )
    change = ServiceChange.objects.create(
        service=service,
        from_product=small,
        to_product=large,
        currency="USD",
        new_recurring_amount=Decimal("25"),
        option_quantities={},
        prorated_difference=Decimal("13.55"),
        invoice=upgrade,
        status="awaiting_payment",
    )
    order_type = ContentType.objects.get_or_create(app_label="invoices", model="order")[0]
    change_type = ContentType.objects.get_or_create(
        app_label="provisioning", model="servicechange"
    )[0]
    staff = Group.objects.create(name="Order desk")
    for content_type, codename in (
        (order_type, "change_order"),
        (change_type, "view_servicechange"),
    ):
        staff.permissions.add(
            Permission.objects.get_or_create(
                content_type=content_type, codename=codename, defaults={"name": codename}
            )[0]
        )
    return {
        "order": order.pk,
        "coupon": coupon.pk,
        "customer": customer.pk,
        "invoice": invoice.pk,
        "service": service.pk,
        "change": change.pk,
        "upgrade": upgrade.pk,
        "large": large.pk,
        "order_type": order_type.pk,
        "change_type": change_type.pk,
        "staff": staff.pk,
        "user": user.pk,
    }


def _tables() -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.table_names(cursor))


def test_orders_and_plan_changes_survive_their_moves():
    latest = _latest()
    try:
        _migrate(BEFORE_THE_MOVES)
        assert {"invoices_order", "provisioning_servicechange"} <= _tables()
        ids = _seed(_applied_apps())
    finally:
        _migrate(latest)

    from accounts.models import User
    from billing.models import ServiceChange
    from catalogue.models import CouponRedemption, Order
    from invoices.models import Invoice
    from provisioning.models import Service

    order = Order.objects.get(pk=ids["order"])
    assert (order.customer_id, order.coupon_id, order.status) == (
        ids["customer"],
        ids["coupon"],
        "pending",
    )
    assert CouponRedemption.objects.get(order=order).coupon_id == ids["coupon"]
    assert Invoice.objects.get(pk=ids["invoice"]).order_id == order.pk
    assert list(order.services.values_list("pk", flat=True)) == [ids["service"]]
    change = ServiceChange.objects.get(pk=ids["change"])
    assert (change.service_id, change.to_product_id, change.invoice_id) == (
        ids["service"],
        ids["large"],
        ids["upgrade"],
    )
    assert Service.objects.get(pk=ids["service"]).changes.get() == change

    tables = _tables()
    assert {"catalogue_order", "catalogue_couponredemption", "billing_servicechange"} <= tables
    assert not {"invoices_order", "invoices_couponredemption", "provisioning_servicechange"} & (
        tables
    )
    # The database still guards the rows: one open change per service, by billing's name.
    with (
        pytest.raises(IntegrityError, match="billing_servicechange_one_open_per_service"),
        transaction.atomic(),
    ):
        ServiceChange.objects.create(
            service_id=ids["service"],
            from_product_id=ids["large"],
            to_product_id=ids["large"],
            currency="USD",
            new_recurring_amount=Decimal("25"),
            prorated_difference=Decimal("0"),
            status="awaiting_payment",
        )

    assert ContentType.objects.get_for_model(Order).pk == ids["order_type"]
    assert ContentType.objects.get_for_model(ServiceChange).pk == ids["change_type"]
    user = User.objects.get(pk=ids["user"])
    user.groups.add(Group.objects.get(pk=ids["staff"]))
    assert user.has_perm("catalogue.change_order")
    assert user.has_perm("billing.view_servicechange")


def test_the_moves_can_be_undone():
    latest = _latest()
    try:
        _migrate(BEFORE_THE_MOVES)
        tables = _tables()
        assert {"invoices_order", "invoices_couponredemption"} <= tables
        assert "provisioning_servicechange" in tables
        assert not {"catalogue_order", "billing_servicechange"} & tables
        # The content types went back with the models (the test database had made them).
        types = set(ContentType.objects.values_list("app_label", "model"))
        assert {("invoices", "order"), ("provisioning", "servicechange")} <= types
        assert not {("catalogue", "order"), ("billing", "servicechange")} & types
    finally:
        _migrate(latest)
    assert {"catalogue_order", "billing_servicechange"} <= _tables()
