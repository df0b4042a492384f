"""The catalogue's move out of invoices keeps every row, every foreign key into it, where each
product is placed, and the permissions staff groups were granted on it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

# The last migrations before the move; going back to them undoes it (and everything after).
BEFORE = [
    ("invoices", "0009_admin_list_indexes"),
    ("provisioning", "0008_admin_list_indexes"),
    ("payments", "0008_admin_list_indexes"),
    ("catalogue", None),
]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(
        [target for target in targets if target[1] is not None]
    ).apps


def _latest():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


def _seed_before_the_move(apps) -> dict[str, int]:
    """The catalogue as invoices held it, with something of every app pointing into it."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    User = apps.get_model("accounts", "User")
    Customer = apps.get_model("accounts", "Customer")
    ProductGroup = apps.get_model("invoices", "ProductGroup")
    Product = apps.get_model("invoices", "Product")
    ProductPrice = apps.get_model("invoices", "ProductPrice")
    ConfigurableOption = apps.get_model("invoices", "ConfigurableOption")
    ConfigurableOptionPrice = apps.get_model("invoices", "ConfigurableOptionPrice")
    Coupon = apps.get_model("invoices", "Coupon")
    TaxRate = apps.get_model("invoices", "TaxRate")
    Order = apps.get_model("invoices", "Order")
    CouponRedemption = apps.get_model("invoices", "CouponRedemption")
    ServerGroup = apps.get_model("provisioning", "ServerGroup")
    Service = apps.get_model("provisioning", "Service")
    ServiceOption = apps.get_model("provisioning", "ServiceOption")
    GatewayPlan = apps.get_model("payments", "GatewayPlan")

    servers = ServerGroup.objects.create(name="Frankfurt")
    group = ProductGroup.objects.create(name="Game servers", slug="game-servers")
    product = Product.objects.create(
        group=group,
        name="Minecraft",
        slug="minecraft",
        kind="game_server",
        module="sandbox",
        server_group=servers,
    )
    unplaced = Product.objects.create(group=group, name="Support", slug="support", kind="support")
    price = ProductPrice.objects.create(
        product=product, cycle="monthly", currency="USD", price=Decimal("12"), setup_fee=0
    )
    option = ConfigurableOption.objects.create(product=product, name="Memory", max_quantity=8)
    ConfigurableOptionPrice.objects.create(
        option=option, cycle="monthly", currency="USD", unit_price=Decimal("2"), setup_fee=0
    )
    coupon = Coupon.objects.create(
        code="SAVE10", kind="percent", percent=Decimal("10"), applies="recurring"
    )
    coupon.products.add(product)
    rate = TaxRate.objects.create(name="VAT", country="DE", rate=Decimal("19"))
    user = User.objects.create(email="buyer@example.test")
    customer = Customer.objects.create(user=user, name="Buyer", country="DE")
    order = Order.objects.create(customer=customer, coupon=coupon)
    CouponRedemption.objects.create(coupon=coupon, customer=customer, order=order)
    service = Service.objects.create(
        customer=customer,
        product=product,
        order=order,
        recurring_coupon=coupon,
        cycle="monthly",
        currency="USD",
        recurring_amount=Decimal("14"),
        status="active",
    )
    ServiceOption.objects.create(service=service, option=option, quantity=1)
    GatewayPlan.objects.create(
        gateway="paypal",
        product=product,
        cycle="monthly",
        currency="USD",
        amount=Decimal("14"),
        product_reference="PROD-1",
        reference="P-1",
    )
    product_type = ContentType.objects.get_or_create(app_label="invoices", model="product")[0]
    change_product = Permission.objects.get_or_create(
        content_type=product_type,
        codename="change_product",
        defaults={"name": "Can change product"},
    )[0]
    staff = Group.objects.create(name="Catalogue staff")
    staff.permissions.add(change_product)
    return {
        "product": product.pk,
        "unplaced": unplaced.pk,
        "price": price.pk,
        "option": option.pk,
        "coupon": coupon.pk,
        "rate": rate.pk,
        "order": order.pk,
        "service": service.pk,
        "servers": servers.pk,
        "group": group.pk,
        "user": user.pk,
        "staff": staff.pk,
        "product_type": product_type.pk,
    }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_move_keeps_rows_foreign_keys_placements_and_permissions():
    latest = _latest()
    try:
        ids = _seed_before_the_move(_migrate(BEFORE))
        _migrate(latest)

        from catalogue.models import Coupon, CouponRedemption, Order, Product, TaxRate
        from payments.models import GatewayPlan
        from provisioning.models import ProductPlacement, Service, ServiceOption

        product = Product.objects.get(pk=ids["product"])
        assert (product.name, product.group_id) == ("Minecraft", ids["group"])
        assert product.prices.get().pk == ids["price"]
        assert product.options.get().prices.get().unit_price.amount == Decimal("2")
        coupon = Coupon.objects.get(pk=ids["coupon"])
        assert list(coupon.products.values_list("pk", flat=True)) == [ids["product"]]
        assert TaxRate.objects.get(pk=ids["rate"]).rate == Decimal("19")
        assert Order.objects.get(pk=ids["order"]).coupon_id == ids["coupon"]
        assert CouponRedemption.objects.get(order_id=ids["order"]).coupon_id == ids["coupon"]
        service = Service.objects.get(pk=ids["service"])
        assert (service.product_id, service.recurring_coupon_id) == (ids["product"], ids["coupon"])
        assert ServiceOption.objects.get(service=service).option_id == ids["option"]
        assert GatewayPlan.objects.get().product_id == ids["product"]
        # Where services go moved to provisioning; the unplaced product stays unplaced.
        assert ProductPlacement.objects.get(product=product).server_group_id == ids["servers"]
        assert not ProductPlacement.objects.filter(product_id=ids["unplaced"]).exists()
        # The tables carry the catalogue's name, and the database still guards the rows.
        with connection.cursor() as cursor:
            tables = connection.introspection.table_names(cursor)
        assert {"catalogue_product", "catalogue_coupon_products"} <= set(tables)
        assert not {"invoices_product", "invoices_coupon_products"} & set(tables)
        with (
            pytest.raises(IntegrityError, match="catalogue_productprice_unique"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(
                "INSERT INTO catalogue_productprice (product_id, cycle, currency, price, "
                "setup_fee) VALUES (%s, 'monthly', 'USD', 1, 0)",
                [ids["product"]],
            )

        from django.contrib.auth.models import Group, Permission
        from django.contrib.contenttypes.models import ContentType

        from accounts.models import User

        ContentType.objects.clear_cache()
        product_type = ContentType.objects.get(pk=ids["product_type"])
        assert (product_type.app_label, product_type.model) == ("catalogue", "product")
        assert ContentType.objects.get_for_model(Product).pk == ids["product_type"]
        granted = Group.objects.get(pk=ids["staff"]).permissions.get()
        assert (granted.content_type_id, granted.codename) == (
            ids["product_type"],
            "change_product",
        )
        user = User.objects.get(pk=ids["user"])
        user.groups.add(ids["staff"])
        assert user.has_perm("catalogue.change_product")
        assert not Permission.objects.filter(
            content_type__app_label="invoices", codename="change_product"
        )
    finally:
        _migrate(latest)
