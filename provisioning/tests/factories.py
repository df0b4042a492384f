"""Factories for provisioning tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import factory
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
