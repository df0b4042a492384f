"""The dashboard tells the customer the truth: services by status, what is due and when with
a pay button, credit and VPS tokens, the latest invoices and services being set up; only
their own, in a constant number of queries, with empty states for a new customer."""

from __future__ import annotations

import re
from datetime import date

import pytest
import requests
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing import services as billing_services
from billing_portal.common.testing import VIRTFUSION_API as VF
from billing_portal.common.testing import usd
from catalogue.tests.factories import ProductFactory
from credits.services import credit_entry_append
from invoices import services as invoice_services
from invoices.models import Invoice
from provisioning.models import Service

pytestmark = pytest.mark.django_db


@pytest.fixture
def virtfusion(virtfusion_settings, mocked):
    cache.clear()
    yield mocked
    cache.clear()


def _tokens(mocked, customer, value) -> None:
    mocked.get(
        f"{VF}/selfService/hourlyStats/byUserExtRelationId/{customer.pk}",
        json={"data": {"credit": {"value": value}}},
    )


def _service(customer, status: str, name: str) -> Service:
    return Service.objects.create(
        customer=customer,
        product=ProductFactory(name=name),
        cycle="monthly",
        currency="USD",
        recurring_amount=usd("10"),
        status=status,
        next_due_date=date(2026, 5, 1),
    )


def _invoice(customer, amount: str, due: date | None, *, paid: bool = False) -> Invoice:
    line = invoice_services.LineDraft(kind="manual", description="Hosting", unit_price=usd(amount))
    draft = invoice_services.invoice_create_draft(
        customer=customer, currency="USD", lines=[line], due_date=due
    )
    invoice = billing_services.invoice_issue(invoice_id=draft.pk)
    Invoice.objects.filter(pk=invoice.pk).update(due_date=due)
    if paid:
        billing_services.invoice_mark_paid(invoice_id=invoice.pk)
    invoice.refresh_from_db()
    return invoice


def _fund(customer, amount: str) -> None:
    credit_entry_append(
        customer=customer,
        amount=usd(amount),
        kind="admin_add",
        idempotency_key=f"fund-{customer.pk}-{amount}",
    )


def _part(html: str, testid: str) -> str:
    """The element with this data-testid, up to its closing tag of the same name."""
    match = re.search(rf'<(\w+)[^>]*data-testid="{testid}"[^>]*>', html)
    assert match, f"no {testid} on the page"
    tag, start = match.group(1), match.start()
    depth, position = 0, start
    for found in re.finditer(rf"<(/?){tag}\b[^>]*>", html[start:]):
        depth += -1 if found.group(1) else 1
        if depth == 0:
            position = start + found.end()
            break
    return html[start:position]


def _text(fragment: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).replace("\xa0", " ").split())


def test_the_dashboard_shows_the_customers_own_figures(
    client, customer, other_customer, virtfusion
):
    for n in range(4):
        _service(customer, "active", f"Active plan {n}")
    building = _service(customer, "provisioning", "Minecraft being built")
    waiting = _service(customer, "pending", "VPS awaiting payment")
    _service(customer, "suspended", "Old site")
    later = _invoice(customer, "30.00", date(2026, 5, 1))
    first = _invoice(customer, "20.00", date(2026, 4, 10))
    paid = _invoice(customer, "99.00", date(2026, 3, 1), paid=True)
    _fund(customer, "25.00")
    _tokens(virtfusion, customer, 1500)
    # another customer's things, none of which may show
    _service(other_customer, "provisioning", "Intruder server")
    _service(other_customer, "active", "Intruder active")
    theirs = _invoice(other_customer, "777.00", date(2026, 4, 1))
    _fund(other_customer, "333.00")

    client.force_login(customer.user)
    html = client.get(reverse("dashboard")).content.decode()

    services = _part(html, "dashboard-services")
    assert "4 Active" in _text(services)
    assert "1 Being set up" in _text(services)
    assert "1 Pending" in _text(services)
    assert "1 Suspended" in _text(services)
    assert f'href="{reverse("provisioning:service_list")}?status=active"' in services
    assert "No active services" not in html

    due = _part(html, "dashboard-due")
    assert "$50.00" in _text(due)
    assert "2 unpaid invoices" in _text(due)
    assert "2026-04-10" in _text(due)
    pay = _part(html, "pay-next")
    assert f'href="{reverse("invoices:invoice_detail", args=[first.pk])}"' in pay
    assert "Nothing to pay" not in html

    assert "$25.00" in _text(_part(html, "dashboard-credit"))
    assert "1500" in _text(_part(html, "token-balance"))

    latest = _text(_part(html, "dashboard-invoices"))
    assert all(invoice.number in latest for invoice in (later, first, paid))
    setting_up = _part(html, "dashboard-setting-up")
    for service in (building, waiting):
        assert f'href="{reverse("provisioning:service_detail", args=[service.pk])}"' in setting_up
    assert "Minecraft being built" in setting_up
    assert "Active plan 0" not in setting_up

    for foreign in ("Intruder", theirs.number, "$777.00", "$333.00"):
        assert foreign not in html


def test_the_services_list_filters_by_the_status_the_dashboard_links_to(client, customer):
    _service(customer, "active", "Running one")
    _service(customer, "suspended", "Stopped one")
    client.force_login(customer.user)
    page = client.get(reverse("provisioning:service_list"), {"status": "active"})
    assert "Running one" in page.content.decode()
    assert "Stopped one" not in page.content.decode()
    everything = client.get(reverse("provisioning:service_list"), {"status": "bogus"})
    assert everything.status_code == 200
    assert "Stopped one" in everything.content.decode()


def _queries_for_dashboard(client, customer) -> int:
    client.force_login(customer.user)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("dashboard")).status_code == 200
    return len(queries)


def test_the_dashboard_runs_the_same_queries_for_one_and_for_many(
    client, customer, other_customer, virtfusion
):
    for someone in (customer, other_customer):
        _tokens(virtfusion, someone, 100)
        _fund(someone, "5.00")
    _service(customer, "active", "One")
    _service(customer, "provisioning", "Building")
    _invoice(customer, "10.00", date(2026, 4, 1))
    one = _queries_for_dashboard(client, customer)
    for n in range(12):
        _service(other_customer, ["active", "provisioning", "pending", "suspended"][n % 4], f"S{n}")
        _invoice(other_customer, f"{n + 1}.00", date(2026, 4, n + 1), paid=n % 3 == 0)
    many = _queries_for_dashboard(client, other_customer)
    assert many == one


def test_a_new_customer_sees_empty_states_with_next_steps(client, customer, settings):
    settings.VIRTFUSION_URL = ""
    client.force_login(customer.user)
    html = client.get(reverse("dashboard")).content.decode()
    assert "You have no services yet" in _text(_part(html, "dashboard-services"))
    assert f'href="{reverse("orders:catalogue")}"' in html
    due = _text(_part(html, "dashboard-due"))
    assert "Nothing to pay" in due
    assert 'data-testid="pay-next"' not in html
    assert "$0.00" in _text(_part(html, "dashboard-credit"))
    assert "No invoices yet" in _text(_part(html, "dashboard-invoices"))
    assert 'data-testid="dashboard-setting-up"' not in html  # nothing being set up
    assert "VPS tokens are not offered" in html


def test_virtfusion_down_the_dashboard_says_so_and_shows_the_rest(client, customer, virtfusion):
    virtfusion.get(
        f"{VF}/selfService/hourlyStats/byUserExtRelationId/{customer.pk}",
        body=requests.ConnectTimeout(),
    )
    _fund(customer, "12.00")
    client.force_login(customer.user)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="token-unreachable"' in html
    assert "$12.00" in _text(_part(html, "dashboard-credit"))
