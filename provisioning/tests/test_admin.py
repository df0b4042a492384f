"""Staff screens: write-only server credentials, product settings checked per module, the
operation queue's actions."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.tests.factories import UserFactory
from invoices.tests.factories import ProductGroupFactory
from provisioning.models import ProvisioningOperation, Server, Service
from provisioning.tests.factories import ServerFactory, ServerGroupFactory, panel_product

pytestmark = pytest.mark.django_db
SECRET = "ptla_secret-value-never-shown"


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_server_credentials_are_write_only(staff_client):
    group = ServerGroupFactory()
    form = {"group": group.pk, "module": "pterodactyl", "name": "node-a",
            "base_url": "panel.example.test", "options": "{}", "capacity_accounts": 50,
            "location": "Frankfurt", "tags": "[]", "is_active": "on", "is_online": "on",
            "new_credentials": json.dumps({"api_key": SECRET})}  # fmt: skip
    response = staff_client.post(reverse("admin:provisioning_server_add"), form)
    assert response.status_code == 302, response.content.decode()[-2000:]
    server = Server.objects.get()
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
    form = {"group": ProductGroupFactory().pk, "name": "MC", "slug": "mc", "kind": "game_server",
            "module": "pterodactyl", "module_settings": '{"nest": 1}', "sort_order": 0,
            "usage_included": "0",
            "prices-TOTAL_FORMS": 0, "prices-INITIAL_FORMS": 0,
            "options-TOTAL_FORMS": 0, "options-INITIAL_FORMS": 0}  # fmt: skip
    response = staff_client.post(reverse("admin:invoices_product_add"), form)
    page = response.content.decode()
    assert response.status_code == 200
    assert "egg: Egg id is required by the Pterodactyl" in page
    assert "Choose the server group" in page


def test_failed_operations_can_be_retried_from_the_queue(staff_client, customer):
    server = ServerFactory()
    service = Service.objects.create(
        customer=customer, product=panel_product(server), cycle="monthly", currency="USD",
        recurring_amount=Decimal("10"), server=server, status="failed",
    )  # fmt: skip
    operation = ProvisioningOperation.objects.create(
        service=service, kind="create", idempotency_key="q", status="failed", attempts=12,
        last_error="Pterodactyl answered 504",
    )  # fmt: skip
    url = reverse("admin:provisioning_provisioningoperation_changelist")
    assert "Pterodactyl answered 504" in staff_client.get(url + "?status=failed").content.decode()
    staff_client.post(url, {"action": "retry", "_selected_action": [operation.pk]})
    operation.refresh_from_db()
    service.refresh_from_db()
    assert operation.status in ("pending", "succeeded")
    assert service.status in ("provisioning", "active")


def test_staff_place_a_service_from_its_page(staff_client, customer):
    first, second = ServerFactory(), ServerFactory()
    service = Service.objects.create(
        customer=customer, product=panel_product(first), cycle="monthly", currency="USD",
        recurring_amount=Decimal("10"), server=first, status="pending",
    )  # fmt: skip
    change = staff_client.get(reverse("admin:provisioning_service_change", args=[service.pk]))
    url = reverse("admin:provisioning_service_place", args=[service.pk])
    assert url in change.content.decode()
    assert staff_client.post(url, {"server": second.pk}).status_code == 302
    service.refresh_from_db()
    assert service.server == second
