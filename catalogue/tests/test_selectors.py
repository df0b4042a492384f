"""The catalogue's price look-ups: what orders, renewals and plan changes price with."""

from __future__ import annotations

import pytest

from billing_portal.common.testing import usd
from catalogue.errors import InvalidOptionQuantity, PriceUnavailable
from catalogue.models import ConfigurableOptionPrice
from catalogue.selectors import (
    catalogue_for_currency,
    options_chosen,
    product_alternatives,
    product_get_orderable,
    product_price_find,
    product_price_get,
    recurring_price,
)
from catalogue.tests.factories import (
    ConfigurableOptionFactory,
    ProductFactory,
    ProductPriceFactory,
)

pytestmark = pytest.mark.django_db


def test_a_product_is_priced_per_cycle_and_currency():
    price = ProductPriceFactory(price=usd("12"))
    product = price.product
    assert product_price_get(product=product, cycle="monthly", currency="USD") == price
    assert product_price_find(product=product, cycle="annual", currency="USD") is None
    with pytest.raises(PriceUnavailable):
        product_price_get(product=product, cycle="monthly", currency="EUR")


def test_options_are_priced_with_their_quantities_and_checked():
    price = ProductPriceFactory(price=usd("12"))
    option = ConfigurableOptionFactory(product=price.product, max_quantity=8)
    ConfigurableOptionPrice.objects.create(
        option=option, cycle="monthly", currency="USD", unit_price=usd("2"), setup_fee=usd("1")
    )
    chosen = options_chosen(
        product=price.product, cycle="monthly", currency="USD", quantities={option.pk: 3}
    )
    assert [(c.option, c.quantity, c.unit_price, c.setup_fee) for c in chosen] == [
        (option, 3, usd("2"), usd("1"))
    ]
    amount, options = recurring_price(
        product=price.product, cycle="monthly", currency="USD", option_quantities={option.pk: 3}
    )
    assert (amount, options) == (usd("18"), [(option, 3)])
    with pytest.raises(InvalidOptionQuantity, match="between 0 and 8"):
        options_chosen(
            product=price.product, cycle="monthly", currency="USD", quantities={option.pk: 9}
        )
    with pytest.raises(PriceUnavailable, match="not sold on this billing cycle"):
        options_chosen(
            product=price.product, cycle="annual", currency="USD", quantities={option.pk: 1}
        )


def test_alternatives_share_group_and_module_and_are_sold_on_the_cycle():
    current = ProductPriceFactory(product=ProductFactory(module="sandbox")).product
    bigger = ProductPriceFactory(product=ProductFactory(group=current.group, module="sandbox"))
    ProductPriceFactory(product=ProductFactory(group=current.group, module="other"))
    ProductPriceFactory(
        product=ProductFactory(group=current.group, module="sandbox"), cycle="annual"
    )
    alternatives = product_alternatives(product=current, cycle="monthly", currency="USD")
    assert list(alternatives) == [bigger.product]


def test_the_catalogue_shows_visible_products_with_prices_in_the_currency():
    shown = ProductPriceFactory(price=usd("5")).product
    ProductFactory(group=shown.group, is_visible=False)
    groups = list(catalogue_for_currency(currency="USD"))
    assert groups == [shown.group]
    assert [list(p.prices.all()) for p in groups[0].products.all()] == [list(shown.prices.all())]


def test_products_of_a_hidden_group_are_not_orderable_through_the_order_form():
    shown = ProductPriceFactory().product
    hidden = ProductPriceFactory(product__group__is_visible=False).product
    assert product_get_orderable(slug=shown.slug) == shown
    with pytest.raises(type(hidden).DoesNotExist):
        product_get_orderable(slug=hidden.slug)
