"""factory_boy factories for the catalogue."""

from __future__ import annotations

from decimal import Decimal

import factory
from djmoney.money import Money
from factory.django import DjangoModelFactory

from catalogue.models import (
    BillingCycle,
    ClientGroup,
    ClientGroupDiscount,
    ConfigurableOption,
    Coupon,
    CustomerGroup,
    Product,
    ProductGroup,
    ProductPrice,
    TaxRate,
)


class ProductGroupFactory(DjangoModelFactory[ProductGroup]):
    class Meta:
        model = ProductGroup

    name = factory.Sequence(lambda n: f"Group {n}")
    slug = factory.Sequence(lambda n: f"group-{n}")


class ProductFactory(DjangoModelFactory[Product]):
    class Meta:
        model = Product

    group = factory.SubFactory(ProductGroupFactory)
    name = factory.Sequence(lambda n: f"Product {n}")
    slug = factory.Sequence(lambda n: f"product-{n}")
    kind = Product.Kind.GAME_SERVER


class ProductPriceFactory(DjangoModelFactory[ProductPrice]):
    class Meta:
        model = ProductPrice

    product = factory.SubFactory(ProductFactory)
    cycle = BillingCycle.MONTHLY
    currency = "USD"
    price = factory.LazyAttribute(lambda o: Money(Decimal("10.00"), o.currency))
    setup_fee = factory.LazyAttribute(lambda o: Money(Decimal("0"), o.currency))


class ConfigurableOptionFactory(DjangoModelFactory[ConfigurableOption]):
    class Meta:
        model = ConfigurableOption

    product = factory.SubFactory(ProductFactory)
    name = "Extra memory"
    unit_label = "GB"
    max_quantity = 16


class TaxRateFactory(DjangoModelFactory[TaxRate]):
    class Meta:
        model = TaxRate

    name = "VAT"
    country = "DE"
    rate = Decimal("19")


class CouponFactory(DjangoModelFactory[Coupon]):
    class Meta:
        model = Coupon

    code = factory.Sequence(lambda n: f"SAVE{n}")
    kind = Coupon.Kind.PERCENT
    percent = Decimal("10")
    applies = Coupon.Applies.FIRST_INVOICE


class ClientGroupFactory(DjangoModelFactory[ClientGroup]):
    class Meta:
        model = ClientGroup

    name = factory.Sequence(lambda n: f"Client group {n}")
    colour = "#1f77b4"


class ClientGroupDiscountFactory(DjangoModelFactory[ClientGroupDiscount]):
    class Meta:
        model = ClientGroupDiscount

    group = factory.SubFactory(ClientGroupFactory)
    product_group = None
    percent = Decimal("20")


class CustomerGroupFactory(DjangoModelFactory[CustomerGroup]):
    class Meta:
        model = CustomerGroup

    customer = factory.SubFactory("accounts.tests.factories.CustomerFactory")
    group = factory.SubFactory(ClientGroupFactory)
