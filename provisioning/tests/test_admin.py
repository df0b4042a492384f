"""Staff screens: write-only server credentials, product settings checked per module, the
operation queue's actions."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from billing_portal.common.testing import form_values
from catalogue.tests.factories import ConfigurableOptionFactory, ProductFactory, ProductGroupFactory
from provisioning.models import ProvisioningOperation, Server, Service, ServiceOption
from provisioning.tests.factories import (
    ServerFactory,
    ServerGroupFactory,
    panel_product,
    service_on,
)

pytestmark = pytest.mark.django_db
SECRET = "ptla_secret-value-never-shown"


def test_server_credentials_are_write_only(staff_client):
    group = ServerGroupFactory()
    form = {
        "group": group.pk,
        "module": "pterodactyl",
        "name": "node-a",
        "base_url": "panel.example.test",
        "options": "{}",
        "capacity_accounts": 50,
        "location": "Frankfurt",
        "tags": "[]",
        "is_active": "on",
        "is_online": "on",
        "new_credentials": json.dumps({"api_key": SECRET}),
    }
    response = staff_client.post(reverse("admin:provisioning_server_add"), form)
    assert response.status_code == 302, response.content.decode()[-2000:]
    server = Server.objects.get(name="node-a")
    assert server.credentials == {"api_key": SECRET}
    assert server.base_url == "https://panel.example.test"
    page = staff_client.get(reverse("admin:provisioning_server_change", args=[server.pk]))
    assert SECRET not in page.content.decode()
    assert "api_key (encrypted; values are never shown)" in page.content.decode()
    # saving without new credentials keeps them
    form["new_credentials"], form["location"] = "", "Paris"
    staff_client.post(reverse("admin:provisioning_server_change", args=[server.pk]), form)
    server.refresh_from_db()
    assert (server.location, server.credentials) == ("Paris", {"api_key": SECRET})
    listing = staff_client.get(reverse("admin:provisioning_server_changelist")).content.decode()
    assert "0 / 50 (0%)" in listing


def test_product_settings_are_checked_for_the_module(staff_client):
    form = {
        "group": ProductGroupFactory().pk,
        "name": "MC",
        "slug": "mc",
        "kind": "game_server",
        "module": "pterodactyl",
        "module_settings": '{"nest": 1}',
        "sort_order": 0,
        "usage_included": "0",
        "trial_days": 0,
        "prices-TOTAL_FORMS": 0,
        "prices-INITIAL_FORMS": 0,
        "options-TOTAL_FORMS": 0,
        "options-INITIAL_FORMS": 0,
        "placement-TOTAL_FORMS": 1,
        "placement-INITIAL_FORMS": 0,
    }
    response = staff_client.post(reverse("admin:catalogue_product_add"), form)
    page = response.content.decode()
    assert response.status_code == 200
    assert "egg: Egg id is required by the Pterodactyl" in page
    assert "Choose the server group" in page


def test_failed_operations_can_be_retried_from_the_queue(staff_client, customer):
    server = ServerFactory()
    service = service_on(server, customer=customer, status="failed")
    operation = ProvisioningOperation.objects.create(
        service=service,
        kind="create",
        idempotency_key="q",
        status="failed",
        attempts=12,
        last_error="Pterodactyl answered 504",
    )
    url = reverse("admin:provisioning_provisioningoperation_changelist")
    assert "Pterodactyl answered 504" in staff_client.get(url + "?status=failed").content.decode()
    staff_client.post(url, {"action": "retry", "_selected_action": [operation.pk]})
    operation.refresh_from_db()
    service.refresh_from_db()
    assert operation.status in ("pending", "succeeded")
    assert service.status in ("provisioning", "active")


def test_staff_place_a_service_from_its_page(staff_client, customer):
    first, second = ServerFactory(), ServerFactory()
    service = service_on(first, customer=customer, status="pending")
    change = staff_client.get(reverse("admin:provisioning_service_change", args=[service.pk]))
    url = reverse("admin:provisioning_service_place", args=[service.pk])
    assert url in change.content.decode()
    assert staff_client.post(url, {"server": second.pk}).status_code == 302
    service.refresh_from_db()
    assert service.server == second


def test_staff_see_the_panels_lookups(staff_client, mocked):
    server = ServerFactory(
        module="pterodactyl",
        base_url="https://panel.example.test",
        credentials={"api_key": "ptla_" + "z" * 43},
    )
    api = "https://panel.example.test/api/application"
    for path, name in (("nests", "Minecraft"), ("locations", "Frankfurt"), ("nodes", "node-1")):
        mocked.get(
            f"{api}/{path}",
            json={
                "object": "list",
                "data": [{"object": path[:-1], "attributes": {"id": 1, "name": name}}],
            },
        )
    page = staff_client.get(reverse("admin:provisioning_server_lookups", args=[server.pk]))
    text = page.content.decode()
    for expected in ("Nests", "Minecraft", "Locations", "node-1"):
        assert expected in text


def test_wordpress_plans_are_seeded_editable_and_checked(staff_client, customer):
    from provisioning.models import SitePlan

    assert list(
        SitePlan.objects.values_list("name", "memory_gb", "disk_gb", "backups", "domains")
    ) == [
        ("basic", 2, 20, 2, 3),
        ("standard", 4, 40, 3, 5),
        ("premium", 8, 80, 5, 10),
    ]
    group = ServerGroupFactory()
    form = {
        "group": ProductGroupFactory().pk,
        "name": "WP",
        "slug": "wp",
        "kind": "wordpress_site",
        "module": "wordpress",
        "module_settings": '{"plan": "platinum"}',
        "sort_order": 0,
        "usage_included": "0",
        "trial_days": 0,
        "placement-TOTAL_FORMS": 1,
        "placement-INITIAL_FORMS": 0,
        "placement-0-server_group": group.pk,
        "prices-TOTAL_FORMS": 0,
        "prices-INITIAL_FORMS": 0,
        "options-TOTAL_FORMS": 0,
        "options-INITIAL_FORMS": 0,
    }
    page = staff_client.post(reverse("admin:catalogue_product_add"), form).content.decode()
    assert "no site plan named &#x27;platinum&#x27;" in page
    server = ServerFactory(group=group, module="wordpress", credentials={"token": "t"})
    service = Service.objects.create(
        customer=customer,
        product=panel_product(server, plan="standard"),
        cycle="monthly",
        currency="USD",
        recurring_amount=Decimal("10"),
        server=server,
        status="active",
    )
    staff_client.force_login(customer.user)
    detail = staff_client.get(reverse("provisioning:service_detail", args=[service.pk]))
    assert "4 GB RAM, 40 GB disk, 3 backups, 5 domains" in detail.content.decode()


def test_staff_provision_a_pending_service_without_payment(
    staff_client, customer, django_capture_on_commit_callbacks
):
    server = ServerFactory()
    service = service_on(server, customer=customer, status="pending")
    url = reverse("admin:provisioning_service_changelist")
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(url, {"action": "provision", "_selected_action": [service.pk]})
    service.refresh_from_db()
    assert service.status == "active"
    assert service.operations.get().kind == "create"


def test_the_service_form_shows_but_does_not_change_what_the_customer_pays(staff_client, customer):
    server = ServerFactory()
    service = service_on(
        server,
        customer=customer,
        status="active",
        next_due_date=date(2026, 5, 1),
        external_id="sandbox-1",
    )
    option = ServiceOption.objects.create(
        service=service, option=ConfigurableOptionFactory(product=service.product), quantity=2
    )
    url = reverse("admin:provisioning_service_change", args=[service.pk])
    page = staff_client.get(url).content.decode()
    data = form_values(page, "service_form")
    for name in ("product", "cycle", "currency", "recurring_amount_0", "next_due_date"):
        assert name not in data  # read-only: no input for it
    assert "options-0-quantity" not in data
    other = ProductFactory()
    data |= {
        "product": [other.pk],
        "cycle": ["annually"],
        "currency": ["EUR"],
        "recurring_amount_0": ["1.00"],
        "recurring_amount_1": ["EUR"],
        "next_due_date": ["2030-01-01"],
        "options-0-quantity": ["9"],
        "domain": ["kept.example"],
    }
    assert staff_client.post(url, data).status_code == 302
    service.refresh_from_db()
    option.refresh_from_db()
    assert (
        service.product_id,
        service.cycle,
        service.recurring_amount.amount,
        service.currency,
        service.next_due_date,
        option.quantity,
    ) == (
        service.product.pk,
        "monthly",
        Decimal("10.00"),
        "USD",
        date(2026, 5, 1),
        2,
    )
    assert service.domain == "kept.example"  # what staff may edit still saves
    for shown in (str(service.product), "Monthly", "$10.00", "May 1, 2026", "Extra memory"):
        assert shown in page  # kept visible
    # a service staff add by hand is given its product, cycle and amount in the add form
    add = form_values(
        staff_client.get(reverse("admin:provisioning_service_add")).content.decode(), "service_form"
    )
    assert {"product", "cycle", "recurring_amount_0", "next_due_date"} <= set(add)
