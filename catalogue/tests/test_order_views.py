"""Client-area ordering pages and the services list."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.tests.helpers import assert_customer_isolation
from billing import services as billing_services
from billing_portal.common.testing import usd
from catalogue.models import Order
from catalogue.tests.factories import ProductFactory, ProductPriceFactory
from invoices.models import Invoice
from provisioning.models import Service

pytestmark = pytest.mark.django_db


@pytest.fixture
def price():
    product = ProductFactory(name="Minecraft 4 GB", slug="minecraft-4gb", requires_hostname=True)
    return ProductPriceFactory(product=product, price=usd("12.00"), setup_fee=usd("3.00"))


def test_catalogue_lists_visible_products_with_prices_in_the_customers_currency(
    client, customer, price
):
    ProductFactory(name="Secret plan", is_visible=False, group=price.product.group)
    ProductPriceFactory(product=price.product, cycle="annual", price=usd("120.00"))
    client.force_login(customer.user)
    html = client.get(reverse("orders:catalogue")).content.decode()
    assert "Minecraft 4 GB" in html
    assert "From <strong>$12.00</strong>" in html
    assert "Secret plan" not in html


def test_configure_review_place(client, customer, price, django_capture_on_commit_callbacks):
    client.force_login(customer.user)
    url = reverse("orders:product", args=["minecraft-4gb"])
    assert b"Monthly: $12.00 (+ $3.00 setup)" in client.get(url).content

    data = {"cycle": "monthly", "hostname": "mc.example.net", "coupon_code": ""}
    review = client.post(url, data)
    assert review.status_code == 200
    assert review.context["quote"].totals.total == usd("15.00")
    assert b'data-testid="order-total">$15.00<' in review.content
    assert Order.objects.count() == 0  # reviewing writes nothing

    with django_capture_on_commit_callbacks(execute=True):
        placed = client.post(url, {**data, "place": "1"})
    invoice = Invoice.objects.get(customer=customer)
    assert placed.status_code == 302
    assert placed.url == reverse("invoices:invoice_detail", args=[invoice.pk])
    assert invoice.total == usd("15.00")
    assert Service.objects.get(customer=customer).hostname == "mc.example.net"

    services_page = client.get(reverse("provisioning:service_list")).content.decode()
    assert "Minecraft 4 GB" in services_page
    assert "Pending" in services_page


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"cycle": "monthly", "hostname": "h", "coupon_code": "NOPE"}, "is not valid"),
        ({"cycle": "monthly", "hostname": ""}, "This field is required"),
        ({"cycle": "annual", "hostname": "h"}, "Select a valid choice"),
    ],
)
def test_bad_orders_show_the_reason_and_change_nothing(client, customer, price, data, error):
    client.force_login(customer.user)
    response = client.post(
        reverse("orders:product", args=["minecraft-4gb"]), {**data, "place": "1"}
    )
    assert response.status_code == 200
    assert error in response.content.decode()
    assert Order.objects.count() == 0


def test_hidden_products_cannot_be_ordered(client, customer, price):
    price.product.is_visible = False
    price.product.save()
    client.force_login(customer.user)
    assert client.get(reverse("orders:product", args=["minecraft-4gb"])).status_code == 404


def test_customer_cancels_an_unpaid_order_from_its_invoice(client, customer, price):
    order = billing_services.order_place(
        customer=customer,
        request=billing_services.OrderRequest(
            product=price.product, cycle="monthly", currency="USD", hostname="h"
        ),
    )
    client.force_login(customer.user)
    invoice = order.invoices.get()
    detail = client.get(reverse("invoices:invoice_detail", args=[invoice.pk])).content.decode()
    assert reverse("orders:cancel", args=[order.pk]) in detail
    response = client.post(reverse("orders:cancel", args=[order.pk]), follow=True)
    assert f"Order #{order.pk} is cancelled." in response.content.decode()
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED


def test_orders_cannot_be_cancelled_by_another_customer(client, customer, other_customer, price):
    order = billing_services.order_place(
        customer=customer,
        request=billing_services.OrderRequest(
            product=price.product, cycle="monthly", currency="USD", hostname="h"
        ),
    )
    assert_customer_isolation(
        client,
        urls=[reverse("orders:cancel", args=[order.pk])],
        owner=customer,
        intruder=other_customer,
        method="post",
    )
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED  # by its owner, after the intruder's 404


def test_services_list_shows_only_own_services_in_constant_queries(
    client, customer, other_customer, price, django_assert_max_num_queries
):
    request = billing_services.OrderRequest(
        product=price.product, cycle="monthly", currency="USD", hostname="h"
    )
    billing_services.order_place(customer=other_customer, request=request)
    billing_services.order_place(customer=customer, request=request)
    client.force_login(customer.user)
    with django_assert_max_num_queries(10) as one:
        response = client.get(reverse("provisioning:service_list"))
    assert len(response.context["services"]) == 1
    for _ in range(49):
        billing_services.order_place(customer=customer, request=request)
    with django_assert_max_num_queries(10) as fifty:
        client.get(reverse("provisioning:service_list"))
    assert len(one.captured_queries) == len(fifty.captured_queries)


def test_catalogue_runs_constant_queries(client, customer, price, django_assert_max_num_queries):
    client.force_login(customer.user)
    with django_assert_max_num_queries(10) as one:
        client.get(reverse("orders:catalogue"))
    for _ in range(49):
        ProductPriceFactory(product=ProductFactory(group=price.product.group))
    with django_assert_max_num_queries(10) as fifty:
        client.get(reverse("orders:catalogue"))
    assert len(one.captured_queries) == len(fifty.captured_queries)


def test_billing_cycles_are_listed_shortest_first_with_the_shortest_chosen(client, customer):
    product = ProductFactory(slug="vps-cycles", requires_hostname=False)
    for cycle, amount in [
        ("biennial", "200"),
        ("annual", "110"),
        ("one_time", "500"),
        ("monthly", "10"),
        ("semiannual", "57"),
        ("quarterly", "29"),
    ]:
        ProductPriceFactory(product=product, cycle=cycle, price=usd(amount))
    client.force_login(customer.user)
    response = client.get(reverse("orders:product", args=["vps-cycles"]))
    field = response.context["form"]["cycle"]
    assert [value for value, _ in field.field.choices] == [
        "monthly",
        "quarterly",
        "semiannual",
        "annual",
        "biennial",
        "one_time",
    ]
    html = response.content.decode()
    checked = [line for line in html.splitlines() if 'name="cycle"' in line and "checked" in line]
    assert len(checked) == 1
    assert 'value="monthly"' in checked[0]


@pytest.mark.parametrize(
    "hostname",
    [
        "not a host name!",
        "-mc.example.net",
        "mc..example.net",
        "mc_1.example.net",
        "192.0.2.10",
        "a" * 64 + ".example.net",
        "mc.example.net\x00",
        "mc\u202e.example.net",
        "<script>alert(1)</script>",
        "x" * 10_000,
        "1.5",
        "99999999999999999999",
    ],
)
def test_an_order_hostname_must_be_a_host_name(client, customer, price, hostname):
    client.force_login(customer.user)
    data = {"cycle": "monthly", "hostname": hostname, "coupon_code": ""}
    url = reverse("orders:product", args=["minecraft-4gb"])
    for extra in ({}, {"place": "1"}):
        response = client.post(url, {**data, **extra})
        assert response.status_code == 200
        assert "quote" not in response.context
        assert response.context["form"].errors["hostname"]
    assert Order.objects.count() == 0
    assert not Service.objects.exists()


def test_the_review_shows_the_hostname_and_domain_as_they_will_be_stored(client, customer):
    product = ProductFactory(slug="web-1", requires_domain=True, requires_hostname=True)
    ProductPriceFactory(product=product, price=usd("5.00"))
    client.force_login(customer.user)
    url = reverse("orders:product", args=["web-1"])
    data = {
        "cycle": "monthly",
        "hostname": "Web1.Example.NET.",
        "domain": "bücher.example",
        "coupon_code": "",
    }
    review = client.post(url, data).content.decode()
    assert 'data-testid="order-hostname">web1.example.net<' in review
    assert 'data-testid="order-domain">xn--bcher-kva.example<' in review
    client.post(url, {**data, "place": "1"})
    service = Service.objects.get(customer=customer)
    assert (service.hostname, service.domain) == ("web1.example.net", "xn--bcher-kva.example")


@pytest.mark.parametrize(
    "domain", ["co.uk", "example", "not a domain", "ex ample.com", "-a.com", "1.5", "example.123"]
)
def test_an_order_domain_must_be_a_registrable_domain_name(client, customer, domain):
    product = ProductFactory(slug="web-2", requires_domain=True)
    ProductPriceFactory(product=product, price=usd("5.00"))
    client.force_login(customer.user)
    response = client.post(
        reverse("orders:product", args=["web-2"]),
        {"cycle": "monthly", "domain": domain, "place": "1"},
    )
    assert response.context["form"].errors["domain"]
    assert Order.objects.count() == 0


@pytest.mark.parametrize("quantity", ["\u0662", "2.5", "1e1", "99999999999999999999", ""])
def test_option_quantities_are_whole_numbers_in_ascii_digits(client, customer, price, quantity):
    from catalogue.tests.factories import ConfigurableOptionFactory

    option = ConfigurableOptionFactory(product=price.product, max_quantity=4)
    client.force_login(customer.user)
    data = {"cycle": "monthly", "hostname": "mc.example.net", f"option_{option.pk}": quantity}
    response = client.post(reverse("orders:product", args=["minecraft-4gb"]), data)
    assert response.context["form"].errors[f"option_{option.pk}"]
    assert "quote" not in response.context
