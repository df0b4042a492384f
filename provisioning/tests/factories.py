"""Factories for provisioning tests."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import factory
from django.utils import timezone
from djmoney.money import Money
from factory.django import DjangoModelFactory

from accounts.tests.factories import CustomerFactory
from catalogue.models import Product
from catalogue.tests.factories import ProductFactory, ProductPriceFactory
from provisioning.models import ProductPlacement, Server, ServerGroup, Service


class ServerGroupFactory(DjangoModelFactory[ServerGroup]):
    class Meta:
        model = ServerGroup

    name = factory.Sequence(lambda n: f"Group {n}")


class ServerFactory(DjangoModelFactory[Server]):
    class Meta:
        model = Server

    group = factory.SubFactory(ServerGroupFactory)
    module = "sandbox"
    name = factory.Sequence(lambda n: f"node{n}")
    base_url = factory.Sequence(lambda n: f"https://node{n}.example.test")
    credentials = factory.LazyFunction(lambda: {"api_key": "ptla_" + "x" * 43})
    capacity_accounts = 10


def placed_product(server_group: ServerGroup, **fields) -> Product:
    """A product (ProductFactory with `fields`) whose new services go to `server_group`."""
    product = ProductFactory(**fields)
    ProductPlacement.objects.create(product=product, server_group=server_group)
    return product


def panel_product(server: Server, **settings) -> Product:
    """A product automated by `server`'s module and placed in its group, with a price."""
    product = placed_product(server.group, module=server.module, module_settings=settings)
    ProductPriceFactory(product=product)
    return product


def service_on(server: Server, **fields: Any) -> Service:
    """A monthly service of 10.00 USD on `server`, of a product its module automates
    (`panel_product`), for a new customer unless `customer` is given; `fields` (a status,
    an external id, secrets...) are the service's other columns or override these."""
    values: dict[str, Any] = {
        "product": panel_product(server),
        "cycle": "monthly",
        "currency": "USD",
        "recurring_amount": Decimal("10"),
        "server": server,
        **fields,
    }
    values.setdefault("customer", None)
    values["customer"] = values["customer"] or CustomerFactory()
    return Service.objects.create(**values)


def packed_server_plans(customer: Any) -> tuple[Service, Product, Product, Product]:
    """Plans Small (2048 MB), Medium (4096 MB) and Large (8192 MB) of one group, 1 CPU each,
    at 5, 10 and 20 USD a month, and `customer`'s active Small service due in 12 days on a
    server of 8192 MB and 8 CPUs that also holds a Medium service: 6144 MB used, so moving
    to Medium fits (8192) and to Large does not (12288)."""
    server = ServerFactory(group=ServerGroupFactory(), capacity_memory_mb=8192, capacity_cpu=8)
    plans = []
    for name, memory, price in (
        ("Small", 2048, "5"),
        ("Medium", 4096, "10"),
        ("Large", 8192, "20"),
    ):
        group = plans[0].group if plans else None
        product = placed_product(
            server.group,
            name=name,
            slug=name.lower(),
            module=server.module,
            **({"group": group} if group else {}),
        )
        ProductPlacement.objects.filter(product=product).update(memory_mb=memory, cpu_cores=1)
        ProductPriceFactory(product=product, price=Money(Decimal(price), "USD"))
        plans.append(product)
    small, medium, large = (Product.objects.get(pk=plan.pk) for plan in plans)
    values = {"customer": customer, "server": server, "cycle": "monthly", "currency": "USD"}
    Service.objects.create(product=medium, recurring_amount=Decimal("10"), **values)
    Server.objects.filter(pk=server.pk).update(current_accounts=2)
    service = Service.objects.create(
        product=small,
        recurring_amount=Decimal("5"),
        status="active",
        external_id="sandbox-svc-packed",
        hostname="small.demo.test",
        next_due_date=timezone.localdate() + timedelta(days=12),
        **values,
    )
    return service, small, medium, large
