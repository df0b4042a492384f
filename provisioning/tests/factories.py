"""Factories for provisioning tests."""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from invoices.tests.factories import ProductFactory, ProductPriceFactory
from provisioning.models import Server, ServerGroup


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


def panel_product(server: Server, **settings):
    """A product automated by `server`'s module and placed in its group, with a price."""
    product = ProductFactory(
        module=server.module, module_settings=settings, server_group=server.group
    )
    ProductPriceFactory(product=product)
    return product
