"""The sandbox panel (the embedded default of `make run`) has its control panel inside the
portal: "Open control panel" and the panel link lead to a local page of the service, which
only its customer sees; nothing points off this machine."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from accounts.tests.helpers import assert_customer_isolation
from provisioning.models import Server, Service
from provisioning.services.operations import operation_run
from provisioning.tests.factories import ServerFactory, panel_product

pytestmark = pytest.mark.django_db


def _active(customer, server, django_capture_on_commit_callbacks, **settings) -> Service:
    """A service set up on `server` by a real create operation (what payment starts)."""
    from provisioning.services.operations import operation_enqueue

    service = Service.objects.create(
        customer=customer,
        product=panel_product(server, **settings),
        cycle="monthly",
        currency="USD",
        recurring_amount="10",
        server=server,
        status="provisioning",
    )
    with django_capture_on_commit_callbacks(execute=True):
        operation = operation_enqueue(service=service, kind="create")
    with django_capture_on_commit_callbacks(execute=True):
        operation_run(operation_id=operation.pk)
    service.refresh_from_db()
    assert service.status == "active"
    return service


def test_open_control_panel_leads_to_the_services_sandbox_page(
    client, customer, settings, django_capture_on_commit_callbacks
):
    settings.PORTAL_BASE_URL = "http://127.0.0.1:8123"
    server = ServerFactory(module="sandbox", base_url="https://sandbox.invalid")
    service = _active(customer, server, django_capture_on_commit_callbacks)
    local = reverse("provisioning:sandbox_panel", args=[service.pk])
    assert service.panel_url == f"http://127.0.0.1:8123{local}"
    assert f"Control panel: http://127.0.0.1:8123{local}" in mail.outbox[-1].body

    client.force_login(customer.user)
    response = client.post(reverse("provisioning:service_login", args=[service.pk]))
    assert response.url == local
    page = client.get(local).content.decode()
    assert "Sandbox control panel" in page
    assert f'data-testid="sandbox-username">{service.username}<' in page
    assert service.product.name in page
    assert "invalid" not in page


def test_the_sandbox_page_is_the_owners_only(
    client, customer, other_customer, django_capture_on_commit_callbacks
):
    service = _active(customer, ServerFactory(module="sandbox"), django_capture_on_commit_callbacks)
    assert_customer_isolation(
        client,
        urls=[reverse("provisioning:sandbox_panel", args=[service.pk])],
        owner=customer,
        intruder=other_customer,
    )


def test_a_service_on_a_real_panel_has_no_sandbox_page(
    client, customer, django_capture_on_commit_callbacks
):
    service = _active(customer, ServerFactory(module="sandbox"), django_capture_on_commit_callbacks)
    Server.objects.filter(pk=service.server_id).update(module="support")  # moved to a real panel
    client.force_login(customer.user)
    response = client.get(reverse("provisioning:sandbox_panel", args=[service.pk]))
    assert response.status_code == 404
