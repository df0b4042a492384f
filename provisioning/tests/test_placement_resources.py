"""Placement by resources (issue 15): products declare memory, disk and CPU; a new service
goes to a server with room on every dimension it limits (what its live services declare
counted against its capacity), and an order no server has room for is refused before any
invoice exists, let alone is paid. Placement takes the same number of queries however many
servers and services there are."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing import services as billing
from billing.models import ServiceChange
from invoices.models import Invoice
from provisioning import services
from provisioning.errors import NoServerCapacity
from provisioning.models import ProductPlacement, Server, ServerGroup, Service
from provisioning.selectors import servers_with_room
from provisioning.tests.factories import (
    ServerFactory,
    ServerGroupFactory,
    packed_server_plans,
    panel_product,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("staff_alerts")]

BIG = {"memory_mb": 4096, "disk_gb": 50, "cpu_cores": 2}


def _product(group: ServerGroup, **resources):
    server = Server.objects.filter(group=group).first() or ServerFactory(group=group)
    product = panel_product(server)
    ProductPlacement.objects.filter(product=product).update(**(resources or BIG))
    product.refresh_from_db()
    return product


def _holding(server: Server, product, customer, count: int = 1, status: str = "active") -> None:
    for _ in range(count):
        Service.objects.create(
            customer=customer,
            product=product,
            server=server,
            cycle="monthly",
            currency="USD",
            recurring_amount=Decimal("10"),
            status=status,
        )
    Server.objects.filter(pk=server.pk).update(current_accounts=count)


def test_placement_picks_the_server_with_room_on_every_dimension(customer):
    group = ServerGroupFactory()
    full = ServerFactory(group=group, capacity_memory_mb=8192, capacity_disk_gb=500)
    roomy = ServerFactory(group=group, capacity_memory_mb=16384, capacity_disk_gb=500)
    product = _product(group)
    _holding(full, product, customer, count=2)  # 8192 MB of 8192 used; accounts 2 of 10
    assert list(servers_with_room(product=product)) == [roomy]  # least utilised would be `full`
    assert services.server_place(product=product) == roomy
    roomy.refresh_from_db()
    assert roomy.current_accounts == 1


@pytest.mark.parametrize(
    ("capacity", "held"),
    [
        ({"capacity_memory_mb": 8191}, 1),  # 4096 used + 4096 > 8191
        ({"capacity_disk_gb": 99}, 1),  # 50 + 50 > 99
        ({"capacity_cpu": 3}, 1),  # 2 + 2 > 3
    ],
    ids=["memory", "disk", "cpu"],
)
def test_placement_is_refused_when_one_dimension_is_full(customer, capacity, held):
    group = ServerGroupFactory()
    server = ServerFactory(group=group, **capacity)
    product = _product(group)
    _holding(server, product, customer, count=held)
    with pytest.raises(NoServerCapacity, match="servers for it are full"):
        services.server_place(product=product)
    with pytest.raises(NoServerCapacity):
        services.server_room_check(product=product)


def test_capacity_counts_only_services_that_hold_the_server_and_empty_means_unlimited(customer):
    group = ServerGroupFactory()
    server = ServerFactory(group=group, capacity_memory_mb=4096)  # disk and CPU: not limited
    product = _product(group)
    _holding(server, product, customer, status="terminated")
    _holding(server, product, customer, status="cancelled")
    Server.objects.filter(pk=server.pk).update(current_accounts=0)
    assert services.server_place(product=product) == server  # ended services hold nothing
    Service.objects.create(  # the one just placed, as ordering creates it
        customer=customer,
        product=product,
        server=server,
        cycle="monthly",
        currency="USD",
        recurring_amount=Decimal("10"),
    )
    with pytest.raises(NoServerCapacity):  # pending services hold their share
        services.server_place(product=product)
    small = _product(group, memory_mb=None, disk_gb=10)  # declares no memory: fits
    assert services.server_place(product=small) == server


def test_an_order_no_server_has_room_for_is_refused_before_its_invoice(customer):
    group = ServerGroupFactory()
    server = ServerFactory(group=group, capacity_disk_gb=60)
    product = _product(group)
    _holding(server, product, customer)
    request = billing.OrderRequest(product=product, cycle="monthly", currency="USD")
    with pytest.raises(NoServerCapacity, match="cannot be ordered right now"):
        billing.order_quote(customer=customer, request=request)  # the review page
    with pytest.raises(NoServerCapacity):
        billing.order_place(customer=customer, request=request)
    assert not Invoice.objects.exists()
    assert Service.objects.count() == 1  # only the one holding the server


def _placement_queries(product) -> int:
    with CaptureQueriesContext(connection) as queries:
        services.server_place(product=product)
    return len(queries)


def test_placement_queries_are_constant(customer):
    group = ServerGroupFactory()
    product = _product(group)
    ServerFactory(group=group, capacity_memory_mb=10**6, capacity_accounts=1000)
    small = _placement_queries(product)

    for _ in range(4):
        server = ServerFactory(group=group, capacity_memory_mb=10**6, capacity_accounts=1000)
        _holding(server, product, customer, count=5)
    product = type(product).objects.get(pk=product.pk)  # nothing cached from before
    assert _placement_queries(product) == small


# --- Plan changes against the service's server ----------------------------------------


@pytest.fixture
def packed(customer):
    """Small (2048 MB) on a server of 8192 MB holding 6144 MB: Medium fits, Large not."""
    return packed_server_plans(customer)


def test_a_plan_change_the_server_has_no_room_for_is_refused_before_payment(customer, packed):
    service, _small, medium, large = packed
    with pytest.raises(NoServerCapacity, match="Large needs more memory than the server"):
        services.plan_change_quote(service=service, to_product=large)
    with pytest.raises(NoServerCapacity, match="needs more memory"):
        billing.plan_change_request(
            customer=customer, service_id=service.pk, to_product_id=large.pk
        )
    assert not Invoice.objects.exists()
    assert not ServiceChange.objects.exists()
    # Medium takes 2048 MB more: 6144 + 2048 = 8192 of 8192, it fits
    change = billing.plan_change_request(
        customer=customer, service_id=service.pk, to_product_id=medium.pk
    )
    assert change.invoice.kind == Invoice.Kind.UPGRADE


def test_each_dimension_is_checked_and_named(customer, packed):
    service, _small, medium, _large = packed
    ProductPlacement.objects.filter(product=medium).update(cpu_cores=9, disk_gb=10)
    Server.objects.filter(pk=service.server_id).update(capacity_disk_gb=5)
    medium.refresh_from_db()
    with pytest.raises(NoServerCapacity, match="needs more disk space or CPU cores than"):
        services.plan_change_quote(
            service=service, to_product=type(medium).objects.get(pk=medium.pk)
        )


def test_a_downgrade_always_fits_even_on_an_overfull_server(customer, packed):
    service, small, _medium, large = packed
    Service.objects.filter(pk=service.pk).update(product=large, recurring_amount=Decimal("20"))
    service.refresh_from_db()  # 4096 + 8192 MB on 8192: staff put it there by hand
    assert services.plan_change_quote(service=service, to_product=small).difference.amount < 0
    change = billing.plan_change_request(
        customer=customer, service_id=service.pk, to_product_id=small.pk
    )
    assert change.status == ServiceChange.Status.APPLIED


def test_the_plan_page_shows_what_does_not_fit_and_offers_the_rest(client, customer, packed):
    service, _small, medium, large = packed
    client.force_login(customer.user)
    url = reverse("provisioning:service_change", args=[service.pk])
    page = client.get(url).content.decode()
    assert f'data-testid="quote-{medium.slug}">Pay $' in page
    assert f'data-testid="unavailable-{large.slug}"' in page
    assert "Large needs more memory than the server your service is on has free" in page
    response = client.post(url, {"product": large.pk}, follow=True)
    assert "needs more memory" in response.content.decode()
    assert not Invoice.objects.exists()


def test_a_paid_upgrade_the_room_went_from_is_applied_and_staff_told(
    customer, packed, mailoutbox, django_capture_on_commit_callbacks
):
    service, _small, medium, _large = packed
    change = billing.plan_change_request(
        customer=customer, service_id=service.pk, to_product_id=medium.pk
    )
    Server.objects.filter(pk=service.server_id).update(capacity_memory_mb=6144)  # room gone
    with django_capture_on_commit_callbacks(execute=True):
        billing.invoice_mark_paid(invoice_id=change.invoice_id)
    service.refresh_from_db()
    assert service.product == medium  # paid for: applied
    alert = next(m for m in mailoutbox if "over capacity after a paid upgrade" in m.subject)
    assert "no room left for it (memory)" in alert.body
