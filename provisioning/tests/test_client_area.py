"""Issue acceptance 1 through the client area on the seeded sandbox panel: a new service is
ordered, paid with demo credit and becomes active; suspension and unsuspension follow its
invoices. And customers cannot see or act on each other's services."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.models import Customer
from accounts.tests.helpers import assert_customer_isolation
from billing.services import billing_run
from catalogue.models import Product
from invoices.models import Invoice
from provisioning.models import ProvisioningOperation, Service

pytestmark = pytest.mark.django_db


def test_order_pay_with_demo_credit_and_watch_the_service_follow_its_invoices(
    client, django_capture_on_commit_callbacks
):
    call_command("seed_demo", stdout=io.StringIO())
    customer = Customer.objects.get(user__email="demo@example.com")
    client.force_login(customer.user)

    # order the sandbox-provisioned game server
    memory = Product.objects.get(slug="minecraft-4gb").options.get()
    form = {
        "cycle": "monthly",
        "hostname": "mc.demo.test",
        f"option_{memory.pk}": "0",
        "place": "1",
    }
    response = client.post("/order/minecraft-4gb/", form)
    assert response.status_code == 302, response.content.decode()[-3000:]
    invoice = Invoice.objects.get(customer=customer)
    assert response.url == reverse("invoices:invoice_detail", args=[invoice.pk])
    nonce = client.get(response.url).context["pay_nonce"]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("credits:pay_invoice", args=[invoice.pk]), {"nonce": nonce})
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    service = Service.objects.get(customer=customer)
    assert service.status == Service.Status.ACTIVE
    assert service.server.name == "sandbox-1"

    page = client.get(reverse("provisioning:service_detail", args=[service.pk])).content.decode()
    assert 'data-testid="service-status">Active<' in page
    assert f'data-testid="credential-password">{service.secrets["password"]}<' in page
    response = client.post(reverse("provisioning:service_login", args=[service.pk]))
    assert response.url == reverse("provisioning:sandbox_panel", args=[service.pk])

    # unpaid renewal → suspended on the panel; paid → unsuspended
    Customer.objects.filter(pk=customer.pk).update(credit_auto_apply=False)
    due = service.next_due_date
    with django_capture_on_commit_callbacks(execute=True):
        billing_run(today=due - timedelta(days=7))
        billing_run(today=due + timedelta(days=4))
    service.refresh_from_db()
    assert service.status == Service.Status.SUSPENDED
    renewal = Invoice.objects.get(customer=customer, kind="renewal")
    # the page says why and offers the invoice to pay
    page = client.get(reverse("provisioning:service_detail", args=[service.pk])).content.decode()
    notice = page[page.index('data-testid="suspended-notice"') :]
    assert "This service is suspended (overdue invoice), so its controls" in notice
    assert f"Pay invoice {renewal.number}" in notice
    assert reverse("invoices:invoice_detail", args=[renewal.pk]) in notice
    nonce = client.get(reverse("invoices:invoice_detail", args=[renewal.pk])).context["pay_nonce"]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("credits:pay_invoice", args=[renewal.pk]), {"nonce": nonce})
    service.refresh_from_db()
    assert service.status == Service.Status.ACTIVE
    kinds = list(service.operations.order_by("pk").values_list("kind", "status"))
    assert kinds == [("create", "succeeded"), ("suspend", "succeeded"), ("unsuspend", "succeeded")]
    # (the demo's second customer has the one failed operation the dashboard points at)
    failed = ProvisioningOperation.objects.filter(status="failed", service__customer=customer)
    assert failed.count() == 0


def test_customers_cannot_see_or_act_on_another_customers_service(client, customer, other_customer):
    from provisioning.tests.factories import ServerFactory, service_on

    server = ServerFactory()
    service = service_on(
        server,
        customer=customer,
        status="active",
        external_id="sandbox-x",
        secrets={"password": "owner-only"},
    )
    assert_customer_isolation(
        client,
        urls=[reverse("provisioning:service_detail", args=[service.pk])],
        owner=customer,
        intruder=other_customer,
    )
    assert_customer_isolation(
        client,
        urls=[reverse("provisioning:service_login", args=[service.pk])],
        owner=customer,
        intruder=other_customer,
        method="post",
    )


def test_a_support_key_is_shown_to_its_customer(client, customer, mocked):
    from provisioning.services.actions import live_reads_forget
    from provisioning.tests.factories import ServerFactory, service_on

    server = ServerFactory(module="support", credentials={"token": "t"})
    service = service_on(
        server,
        customer=customer,
        status="active",
        external_id="svc-1",
        secrets={"support_key": "SK-7731"},
    )
    live_reads_forget(service.pk)
    # the page's support section reads the subscription's details from the backend
    mocked.get(f"{server.base_url}/support/svc-1", json={"status": "active", "tier": "gold"})
    client.force_login(customer.user)
    page = client.get(reverse("provisioning:service_detail", args=[service.pk])).content.decode()
    assert "Support key" in page
    assert 'data-testid="credential-support_key">SK-7731<' in page


def _service_in(customer, status: str) -> Service:
    from provisioning.tests.factories import ServerFactory, service_on

    server = ServerFactory()
    return service_on(server, customer=customer, status=status)


def test_the_status_endpoint_is_the_customers_own(client, customer, other_customer):
    service = _service_in(customer, "provisioning")
    url = reverse("provisioning:service_status", args=[service.pk])
    assert_customer_isolation(client, urls=[url], owner=customer, intruder=other_customer)
    client.force_login(customer.user)
    response = client.get(url)
    assert response.json() == {"status": "provisioning", "label": "Being set up", "final": False}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.parametrize(
    ("status", "refreshes"),
    [
        ("pending", True),
        ("provisioning", True),
        ("active", False),
        ("failed", False),
    ],
)
def test_the_service_page_refreshes_itself_only_until_active_or_failed(
    client, customer, status, refreshes
):
    service = _service_in(customer, status)
    client.force_login(customer.user)
    page = client.get(reverse("provisioning:service_detail", args=[service.pk])).content.decode()
    status_url = reverse("provisioning:service_status", args=[service.pk])
    assert (f'data-status-url="{status_url}"' in page) is refreshes
    assert ("js/service_status.js" in page) is refreshes
    final = client.get(status_url).json()["final"]
    assert final is not refreshes  # the script stops once the endpoint says final
    assert "<script>" not in page  # no inline script (a CSP comes later)
