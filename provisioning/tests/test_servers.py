"""Server health checks, capacity alerts and staff placement."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail

from provisioning import services
from provisioning.errors import NoServerCapacity, PanelRetryableError
from provisioning.models import Server, Service
from provisioning.panels.sandbox import SandboxPanel
from provisioning.tasks import servers_check_task
from provisioning.tests.factories import ServerFactory, service_on

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("staff_alerts")]


def test_health_check_records_online_state(monkeypatch, django_capture_on_commit_callbacks):
    server = ServerFactory()

    def down(self):
        raise PanelRetryableError("Sandbox could not be reached (ConnectTimeout).")

    monkeypatch.setattr(SandboxPanel, "test_connection", down)
    with django_capture_on_commit_callbacks(execute=True):  # the DNS zones "server" too
        assert servers_check_task.apply().get() == Server.objects.count()
    server.refresh_from_db()
    assert (server.is_online, server.last_check_error) == (
        False,
        "Sandbox could not be reached (ConnectTimeout).",
    )
    assert server.last_checked_at is not None
    monkeypatch.undo()
    assert services.server_check(server_id=server.pk).is_online


def test_capacity_over_80_percent_alerts_staff_once(django_capture_on_commit_callbacks):
    server = ServerFactory(capacity_accounts=10, current_accounts=8)
    with django_capture_on_commit_callbacks(execute=True):
        services.server_check(server_id=server.pk)
        services.server_check(server_id=server.pk)
    alerts = [m for m in mail.outbox if "over 80% full" in m.subject]
    assert len(alerts) == 1
    assert "8 of 10 accounts" in alerts[0].body
    Server.objects.filter(pk=server.pk).update(current_accounts=5)
    services.server_check(server_id=server.pk)
    assert Server.objects.get(pk=server.pk).capacity_alerted_at is None  # armed again


def test_staff_place_a_service_on_a_chosen_server(customer):
    first, second = ServerFactory(), ServerFactory(capacity_accounts=1)
    service = service_on(first, customer=customer, status="pending")
    Server.objects.filter(pk=first.pk).update(current_accounts=1)
    services.server_place_manually(service_id=service.pk, server_id=second.pk)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.current_accounts, second.current_accounts) == (0, 1)
    other = Service.objects.create(
        customer=customer,
        product=service.product,
        cycle="monthly",
        currency="USD",
        recurring_amount=Decimal("10"),
        status="pending",
    )
    with pytest.raises(NoServerCapacity, match="is full"):
        services.server_place_manually(service_id=other.pk, server_id=second.pk)
