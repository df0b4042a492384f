"""The customer API's ordering (billing/api/orders_api.py): the catalogue in the customer's
currency, a cart priced without writing anything, an order placed once per Idempotency-Key
(a pending service and its invoice, by the order page's service), and an invoice's PDF;
bad input is a 400 that changes nothing, another customer's invoice a 404."""

from __future__ import annotations

import pytest

from billing import services as billing
from billing.tests.test_api import ERROR_KEYS, api
from billing_portal.common.testing import usd
from catalogue.models import Order
from catalogue.tests.factories import (
    ConfigurableOptionFactory,
    ProductFactory,
    ProductPriceFactory,
)
from invoices.models import Invoice
from provisioning.models import Service

pytestmark = pytest.mark.django_db
CART = {"product": "minecraft-4gb", "cycle": "monthly", "hostname": "mc.example.net"}


@pytest.fixture
def price():
    product = ProductFactory(name="Minecraft 4 GB", slug="minecraft-4gb", requires_hostname=True)
    return ProductPriceFactory(product=product, price=usd("12.00"), setup_fee=usd("3.00"))


def _place(client, body: dict, key: str = "order-1"):
    return client.post(
        "/api/v1/orders/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key
    )


def _quote(client, body: dict):
    return client.post("/api/v1/orders/quote/", body, content_type="application/json")


def _error(response, status: int = 400) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == ERROR_KEYS
    return body


def test_the_catalogue_lists_visible_products_with_prices_and_options(customer, price):
    ProductFactory(name="Secret plan", is_visible=False, group=price.product.group)
    ProductPriceFactory(product=price.product, cycle="annual", price=usd("120.00"))
    ProductPriceFactory(
        product=price.product, currency="EUR", price=usd("11").__class__("11", "EUR")
    )
    ConfigurableOptionFactory(product=price.product, name="Extra memory")
    body = api(customer).get("/api/v1/catalogue/").json()
    assert body["currency"] == "USD"
    [product] = body["products"]
    assert product["slug"] == "minecraft-4gb"
    assert [(p["cycle"], p["price"]["amount"]) for p in product["prices"]] == [
        ("annual", "120.00"),
        ("monthly", "12.00"),
    ]
    assert [o["name"] for o in product["options"]] == ["Extra memory"]


def test_the_catalogue_runs_constant_queries(customer, price, django_assert_max_num_queries):
    for _n in range(5):
        other = ProductFactory(group=price.product.group)
        ProductPriceFactory(product=other)
        ConfigurableOptionFactory(product=other)
    client = api(customer)
    with django_assert_max_num_queries(12):
        assert len(client.get("/api/v1/catalogue/").json()["products"]) == 6


def test_a_quote_prices_the_cart_as_its_invoice_and_writes_nothing(customer, price):
    response = _quote(api(customer), CART)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["total"]["amount"] == "15.00"
    assert [line["description"] for line in body["lines"]] == [
        "Minecraft 4 GB (Monthly)",
        "Setup fee: Minecraft 4 GB",
    ]
    assert body["recurring_amount"]["amount"] == "12.00"
    assert body["hostname"] == "mc.example.net"
    assert not Order.objects.exists()


def test_an_order_is_placed_once_per_key(customer, price, django_capture_on_commit_callbacks):
    client = api(customer, "services")
    with django_capture_on_commit_callbacks(execute=True):
        first = _place(client, CART)
    assert first.status_code == 201, first.content
    body = first.json()
    invoice = Invoice.objects.get(customer=customer)
    assert body["invoice"]["id"] == invoice.pk
    assert body["invoice"]["total"]["amount"] == "15.00"
    assert body["services"] == [Service.objects.get(customer=customer).pk]
    replay = _place(client, CART)
    assert replay.json() == body
    assert replay["Idempotent-Replayed"] == "true"
    assert _error(_place(client, {**CART, "cycle": "annual"}), 422)["code"]
    assert Order.objects.count() == 1


def test_the_service_finds_the_order_of_a_key_it_placed(customer, price):
    """A retry after the answer was lost (the key released) places nothing new."""
    request = billing.OrderRequest(
        product=price.product, cycle="monthly", currency="USD", hostname="mc.example.net"
    )
    first = billing.order_place(customer=customer, request=request, idempotency_key="api:7")
    again = billing.order_place(customer=customer, request=request, idempotency_key="api:7")
    assert again == first
    assert Invoice.objects.count() == 1


@pytest.mark.parametrize(
    ("cart", "field", "message"),
    [
        ({**CART, "coupon_code": "NOPE"}, None, "is not valid"),
        ({**CART, "hostname": ""}, None, "Enter a hostname for this service."),
        ({**CART, "cycle": "annual"}, None, ""),
        ({**CART, "cycle": "fortnightly"}, "cycle", "Choose one of the product's billing cycles."),
        ({**CART, "product": "nope"}, "product", "No such product."),
        ({**CART, "options": {"x": 1}}, "options", "does not belong to this product"),
        ({**CART, "options": {"99": 1}}, None, "does not belong to this product"),
        ({**CART, "hostname": "not a host"}, None, "Enter a host name"),
    ],
)
def test_bad_carts_are_refused_and_change_nothing(customer, price, cart, field, message):
    client = api(customer, "read", "services")
    for response in (_quote(client, cart), _place(client, cart)):
        body = _error(response)
        text = body["errors"][field][0] if field else body["detail"]
        assert message in text
    assert not Order.objects.exists()
    assert not Invoice.objects.exists()


def test_a_hidden_product_cannot_be_ordered(customer, price):
    price.product.is_visible = False
    price.product.save()
    body = _error(_place(api(customer, "services"), CART))
    assert body["errors"]["product"] == ["No such product."]


def test_placing_needs_the_services_scope(customer, price):
    assert _error(_place(api(customer, "read"), CART), 403)["code"] == "scope_missing"
    assert not Order.objects.exists()


def test_the_invoice_pdf_is_the_client_areas(customer, other_customer, invoice_factory):
    invoice = invoice_factory(customer, "20")
    response = api(customer).get(f"/api/v1/invoices/{invoice.pk}/pdf/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert invoice.number in response["Content-Disposition"]
    asked = api(customer).get(f"/api/v1/invoices/{invoice.pk}/pdf/", HTTP_ACCEPT="application/pdf")
    assert asked.status_code == 200
    intruder = api(other_customer).get(
        f"/api/v1/invoices/{invoice.pk}/pdf/", HTTP_ACCEPT="application/pdf"
    )
    assert set(_error(intruder, 404)) == ERROR_KEYS
    assert intruder["Content-Type"] == "application/json"
