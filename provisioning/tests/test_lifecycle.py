"""Placement, operations and the service lifecycle on the sandbox panel."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.cache import cache
from django.utils import timezone

from billing import services as billing_services
from billing_portal.common.audit import AuditEvent
from catalogue.models import Order
from invoices.models import Invoice
from provisioning import services
from provisioning.audit import ProvisioningAudit
from provisioning.errors import NoServerCapacity
from provisioning.models import ProvisioningOperation, Server, ServerGroup, Service
from provisioning.tests.factories import (
    ServerFactory,
    ServerGroupFactory,
    panel_product,
    service_on,
)

pytestmark = pytest.mark.django_db
Op = ProvisioningOperation


@pytest.fixture(autouse=True)
def _staff(staff_alerts):
    cache.clear()


def _order(customer, product, capture) -> Service:
    request = billing_services.OrderRequest(product=product, cycle="monthly", currency="USD")
    with capture(execute=True):
        order = billing_services.order_place(customer=customer, request=request)
    return order.services.get()


def _pay(service, capture) -> None:
    invoice = Invoice.objects.get(lines__service=service, status="unpaid")
    with capture(execute=True):
        billing_services.invoice_mark_paid(invoice_id=invoice.pk)


def test_paid_service_is_active_only_after_the_panel_confirms(
    customer, django_capture_on_commit_callbacks
):
    server = ServerFactory()
    service = _order(customer, panel_product(server), django_capture_on_commit_callbacks)
    assert service.server == server
    server.refresh_from_db()
    assert server.current_accounts == 1

    invoice = Invoice.objects.get(lines__service=service)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        billing_services.invoice_mark_paid(invoice_id=invoice.pk)
    service.refresh_from_db()
    assert service.status == Service.Status.PROVISIONING  # paid, not yet confirmed
    operation = Op.objects.get(service=service)
    assert (operation.kind, operation.status) == ("create", "pending")
    with django_capture_on_commit_callbacks(execute=True):
        for callback in callbacks:  # the task runs after commit (in-process here)
            callback()
    service.refresh_from_db()
    operation.refresh_from_db()
    assert service.status == Service.Status.ACTIVE
    assert operation.status == Op.Status.SUCCEEDED
    assert service.external_id == f"sandbox-svc-{service.pk}"
    assert service.secrets["password"]
    assert AuditEvent.objects.filter(action=ProvisioningAudit.SERVICE_PROVISIONED).count() == 1
    summary = operation.request_summary
    assert (summary["kind"], summary["server"], summary["reference"]) == (
        "create",
        server.name,
        service.reference,
    )
    assert service.secrets["password"] not in str(summary) + str(operation.response_summary)
    welcome = next(m for m in mail.outbox if "is ready" in m.subject)
    assert service.panel_url in welcome.body
    assert service.username in welcome.body


def test_suspension_and_unsuspension_follow_the_invoices(
    customer, django_capture_on_commit_callbacks
):
    server = ServerFactory()
    service = _order(customer, panel_product(server), django_capture_on_commit_callbacks)
    _pay(service, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        services.service_suspend(service_id=service.pk, reason="overdue")
    kinds = list(Op.objects.filter(service=service).order_by("pk").values_list("kind", "status"))
    assert kinds == [("create", "succeeded"), ("suspend", "succeeded")]
    with django_capture_on_commit_callbacks(execute=True):
        services.service_unsuspend(service_id=service.pk, reason="paid")
    with django_capture_on_commit_callbacks(execute=True):
        services.service_terminate(service_id=service.pk, reason="closed")
    kinds = list(Op.objects.filter(service=service).order_by("pk").values_list("kind", flat=True))
    assert kinds == ["create", "suspend", "unsuspend", "terminate"]
    server.refresh_from_db()
    assert server.current_accounts == 0  # the slot came back


def test_least_utilised_and_fill_first_placement(customer, django_capture_on_commit_callbacks):
    group = ServerGroupFactory()
    busy = ServerFactory(group=group, capacity_accounts=10, current_accounts=5)
    idle = ServerFactory(group=group, capacity_accounts=100, current_accounts=10)
    product = panel_product(busy)
    assert services.server_place(product=product) == idle  # 10% used beats 50%
    group.strategy = ServerGroup.Strategy.FILL_FIRST
    group.save()
    assert services.server_place(product=product) == idle  # the fullest in accounts first
    idle.current_accounts = 0
    idle.save()
    assert services.server_place(product=product) == busy


def test_offline_inactive_and_full_servers_are_skipped_and_the_order_refused(
    customer, django_capture_on_commit_callbacks
):
    group = ServerGroupFactory()
    ServerFactory(group=group, is_online=False)
    ServerFactory(group=group, is_active=False)
    full = ServerFactory(group=group, capacity_accounts=1, current_accounts=1)
    product = panel_product(full)
    request = billing_services.OrderRequest(product=product, cycle="monthly", currency="USD")
    with pytest.raises(NoServerCapacity, match="all our servers for it are full"):
        billing_services.order_place(customer=customer, request=request)
    assert (Order.objects.count(), Invoice.objects.count(), Service.objects.count()) == (0, 0, 0)
    assert "No server capacity" in mail.outbox[-1].subject


def test_the_order_page_refuses_with_a_clear_message_before_payment(client, customer):
    full = ServerFactory(capacity_accounts=1, current_accounts=1)
    product = panel_product(full)
    client.force_login(customer.user)
    for extra in ({}, {"place": "1"}):  # the review step, and placing directly
        response = client.post(f"/order/{product.slug}/", {"cycle": "monthly", **extra})
        assert "all our servers for it are full" in response.content.decode()
    assert Invoice.objects.count() == 0


def test_permanent_errors_fail_at_once_and_staff_retry(
    customer, settings, django_capture_on_commit_callbacks, monkeypatch
):
    from provisioning.errors import PanelPermanentError
    from provisioning.panels.sandbox import SandboxPanel

    server = ServerFactory()
    service = _order(customer, panel_product(server), django_capture_on_commit_callbacks)

    def refuse(self, spec):
        raise PanelPermanentError("Sandbox answered 422: The egg is invalid.", status=422)

    monkeypatch.setattr(SandboxPanel, "create", refuse)
    _pay(service, django_capture_on_commit_callbacks)
    service.refresh_from_db()
    operation = Op.objects.get(service=service)
    assert (operation.status, operation.attempts) == ("failed", 1)
    assert service.status == Service.Status.FAILED
    assert "The egg is invalid" in mail.outbox[-1].body
    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        services.operation_retry(operation_id=operation.pk, staff=customer.user)
    service.refresh_from_db()
    assert service.status == Service.Status.ACTIVE


def test_later_operations_wait_for_earlier_ones(customer, django_capture_on_commit_callbacks):
    server = ServerFactory()
    service = _order(customer, panel_product(server), django_capture_on_commit_callbacks)
    _pay(service, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=False):
        services.service_suspend(service_id=service.pk, reason="x")
        services.service_unsuspend(service_id=service.pk, reason="y")
    suspend, unsuspend = Op.objects.filter(service=service).exclude(kind="create").order_by("pk")
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=False):
        assert services.operation_run(operation_id=unsuspend.pk, now=now).status == "pending"
    services.operation_run(operation_id=suspend.pk, now=now)
    later = now + timedelta(minutes=1)
    assert services.operation_run(operation_id=unsuspend.pk, now=later).status == "succeeded"


def test_the_sweeper_finds_lost_and_interrupted_operations(customer):
    server = ServerFactory()
    service = service_on(server, customer=customer, status="provisioning")
    now = timezone.now()
    lost = Op.objects.create(
        service=service,
        kind="create",
        idempotency_key="a",
        next_attempt_at=now - timedelta(minutes=5),
    )
    killed = Op.objects.create(
        service=service,
        kind="suspend",
        idempotency_key="b",
        status="running",
        started_at=now - timedelta(minutes=30),
    )
    fresh = Op.objects.create(
        service=service, kind="unsuspend", idempotency_key="c", next_attempt_at=now
    )
    due = services.operations_sweep(now=now)
    assert lost.pk in due
    assert fresh.pk not in due
    killed.refresh_from_db()
    assert killed.status == Op.Status.PENDING
    assert Server.objects.exclude(module="dns").get().current_accounts == 0
