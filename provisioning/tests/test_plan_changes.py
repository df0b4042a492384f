"""Plan changes: prorated in Decimal to the end of the period; upgrades invoiced and applied
when paid (or expired), downgrades credited and applied at once; both change the package on
the panel."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tests.helpers import assert_customer_isolation
from billing import services as billing_services
from billing.models import ServiceChange
from billing.services import billing_run
from billing_portal.common.testing import usd
from catalogue.tests.factories import ProductPriceFactory
from credits.models import CreditEntry
from credits.services import credit_balance
from invoices.models import Invoice
from provisioning import services
from provisioning.errors import ProvisioningError
from provisioning.models import Service
from provisioning.tests.factories import ServerFactory, placed_product

pytestmark = pytest.mark.django_db
TODAY = date(2026, 3, 11)  # 20 of the 31 days from Mar 1 to Apr 1 are left


@pytest.fixture
def plans():
    server = ServerFactory()
    small, medium, large = (
        placed_product(
            server.group,
            name=name,
            slug=slug,
            module="sandbox",
            module_settings={"plan": slug},
        )
        for name, slug in (("Small", "small"), ("Medium", "medium"), ("Large", "large"))
    )
    medium.group = large.group = small.group
    medium.save()
    large.save()
    for product, price in ((small, "4.00"), (medium, "10.00"), (large, "25.00")):
        ProductPriceFactory(product=product, price=usd(price))
    return server, small, medium, large


@pytest.fixture
def service(customer, plans):
    server, _small, medium, _large = plans
    return Service.objects.create(
        customer=customer,
        product=medium,
        cycle="monthly",
        currency="USD",
        recurring_amount=usd("10.00"),
        server=server,
        status="active",
        external_id="sandbox-svc-x",
        next_due_date=date(2026, 4, 1),
    )


def test_proration_is_by_days_left_in_the_period(service, plans):
    _server, small, _medium, large = plans
    up = services.plan_change_quote(service=service, to_product=large, today=TODAY)
    down = services.plan_change_quote(service=service, to_product=small, today=TODAY)
    assert (up.days_left, up.days_in_period) == (21, 31)
    assert up.difference == usd("10.16")  # 15 * 21 / 31 = 10.161…
    assert down.difference == usd("-4.06")  # -6 * 21 / 31 = -4.064…
    last_day = services.plan_change_quote(service=service, to_product=large, today=date(2026, 4, 1))
    assert last_day.difference == usd("0")


def test_an_upgrade_is_invoiced_and_applied_when_paid(
    service, plans, django_capture_on_commit_callbacks
):
    _server, _small, _medium, large = plans
    change = billing_services.plan_change_request(
        customer=service.customer, service_id=service.pk, to_product_id=large.pk, today=TODAY
    )
    invoice = change.invoice
    assert (invoice.kind, invoice.total) == (Invoice.Kind.UPGRADE, usd("10.16"))
    service.refresh_from_db()
    assert service.product.slug == "medium"  # not before payment
    with pytest.raises(ProvisioningError, match="waiting for payment"):
        billing_services.plan_change_request(
            customer=service.customer, service_id=service.pk, to_product_id=large.pk, today=TODAY
        )
    with django_capture_on_commit_callbacks(execute=True):
        billing_services.invoice_mark_paid(invoice_id=invoice.pk)
    service.refresh_from_db()
    assert (service.product.slug, service.recurring_amount) == ("large", usd("25.00"))
    operation = service.operations.get(kind="change_package")
    assert operation.status == "succeeded"
    assert operation.payload == {"settings": {"plan": "large", "options": {}}}


def test_a_downgrade_credits_the_difference_and_applies_now(
    service, plans, django_capture_on_commit_callbacks
):
    _server, small, _medium, _large = plans
    with django_capture_on_commit_callbacks(execute=True):
        change = billing_services.plan_change_request(
            customer=service.customer, service_id=service.pk, to_product_id=small.pk, today=TODAY
        )
    service.refresh_from_db()
    assert (change.status, change.invoice) == (ServiceChange.Status.APPLIED, None)
    assert (service.product.slug, service.recurring_amount) == ("small", usd("4.00"))
    entry = CreditEntry.objects.get()
    assert (entry.kind, entry.amount) == (CreditEntry.Kind.DOWNGRADE_CREDIT, usd("4.06"))
    assert credit_balance(customer=service.customer, currency="USD") == usd("4.06")
    assert service.operations.get(kind="change_package").status == "succeeded"


def test_adding_add_ons_is_a_prorated_upgrade_and_they_replace_the_old_ones(
    service, plans, django_capture_on_commit_callbacks
):
    from catalogue.models import ConfigurableOptionPrice
    from catalogue.tests.factories import ConfigurableOptionFactory

    memory = ConfigurableOptionFactory(product=service.product, name="Extra memory", max_quantity=8)
    ConfigurableOptionPrice.objects.create(
        option=memory, cycle="monthly", currency="USD", unit_price=usd("3.00"), setup_fee=usd("0")
    )
    with pytest.raises(ProvisioningError, match="choose between 0 and 8"):
        services.plan_change_quote(
            service=service,
            to_product=service.product,
            option_quantities={memory.pk: 9},
            today=TODAY,
        )
    with pytest.raises(ProvisioningError, match="Nothing would change"):
        services.plan_change_quote(service=service, to_product=service.product, today=TODAY)
    change = billing_services.plan_change_request(
        customer=service.customer,
        service_id=service.pk,
        to_product_id=service.product_id,
        option_quantities={memory.pk: 2},
        today=TODAY,
    )
    assert change.invoice.total == usd("4.06")  # +6.00 a month, 21 of 31 days
    assert "Extra memory x 2" in change.invoice.lines.get().description
    with django_capture_on_commit_callbacks(execute=True):
        billing_services.invoice_mark_paid(invoice_id=change.invoice_id)
    service.refresh_from_db()
    assert service.recurring_amount == usd("16.00")
    assert list(service.options.values_list("option__name", "quantity")) == [("Extra memory", 2)]
    package = service.operations.get(kind="change_package")
    assert package.payload["settings"]["options"] == {"Extra memory": 2}


def test_unpaid_upgrades_expire(service, plans, settings):
    _server, _small, _medium, large = plans
    change = billing_services.plan_change_request(
        customer=service.customer, service_id=service.pk, to_product_id=large.pk, today=TODAY
    )
    due = change.invoice.due_date
    billing_run(today=due + timedelta(days=settings.BILLING_UPGRADE_INVOICE_EXPIRY_DAYS - 1))
    change.refresh_from_db()
    assert change.status == ServiceChange.Status.AWAITING_PAYMENT
    billing_run(today=due + timedelta(days=settings.BILLING_UPGRADE_INVOICE_EXPIRY_DAYS))
    change.refresh_from_db()
    change.invoice.refresh_from_db()
    assert change.status == ServiceChange.Status.EXPIRED
    assert change.invoice.status == Invoice.Status.CANCELLED
    assert not change.invoice.notices.exists()  # no reminders for an optional upgrade


def test_plan_change_pages_and_isolation(client, service, plans, other_customer):
    service.next_due_date = timezone.localdate() + timedelta(days=10)
    service.save()
    client.force_login(service.customer.user)
    page = client.get(reverse("provisioning:service_change", args=[service.pk])).content.decode()
    assert 'data-testid="quote-large">Pay $' in page
    assert 'data-testid="quote-small">$' in page
    assert "back as credit" in page
    _server, small, _medium, _large = plans
    response = client.post(
        reverse("provisioning:service_change", args=[service.pk]),
        {"product": small.pk},
        follow=True,
    )
    assert "now has the Small plan" in response.content.decode()
    assert_customer_isolation(
        client,
        urls=[reverse("provisioning:service_change", args=[service.pk])],
        owner=service.customer,
        intruder=other_customer,
    )


def test_add_ons_change_from_the_page(client, service):
    from catalogue.models import ConfigurableOptionPrice
    from catalogue.tests.factories import ConfigurableOptionFactory

    memory = ConfigurableOptionFactory(product=service.product, max_quantity=8)
    ConfigurableOptionPrice.objects.create(
        option=memory, cycle="monthly", currency="USD", unit_price=usd("3.00"), setup_fee=usd("0")
    )
    service.next_due_date = timezone.localdate() + timedelta(days=10)
    service.save()
    client.force_login(service.customer.user)
    url = reverse("provisioning:service_change", args=[service.pk])
    assert f'name="option_{memory.pk}"' in client.get(url).content.decode()
    response = client.post(url, {"product": service.product_id, f"option_{memory.pk}": "3"})
    change = ServiceChange.objects.get()
    assert response.url == reverse("invoices:invoice_detail", args=[change.invoice_id])
    assert change.option_quantities == {str(memory.pk): 3}


@pytest.mark.parametrize(
    "product", ["-1", "0", "99999999999999999999", "\u0661", "1e3", "abc", "", "\x00", "999999"]
)
def test_an_unknown_or_malformed_plan_is_refused_with_a_message(client, service, product):
    service.next_due_date = timezone.localdate() + timedelta(days=10)
    service.save()
    client.force_login(service.customer.user)
    url = reverse("provisioning:service_change", args=[service.pk])
    response = client.post(url, {"product": product})
    assert response.status_code == 302
    assert "Choose one of the plans shown." in client.get(response.url).content.decode()
    assert not ServiceChange.objects.exists()


@pytest.fixture
def memory(service):
    from catalogue.models import ConfigurableOptionPrice
    from catalogue.tests.factories import ConfigurableOptionFactory
    from provisioning.models import ServiceOption

    option = ConfigurableOptionFactory(product=service.product, max_quantity=8)
    ConfigurableOptionPrice.objects.create(
        option=option, cycle="monthly", currency="USD", unit_price=usd("3.00"), setup_fee=usd("0")
    )
    ServiceOption.objects.create(service=service, option=option, quantity=2)
    service.recurring_amount = usd("16.00")
    service.next_due_date = timezone.localdate() + timedelta(days=10)
    service.save()
    return option


@pytest.mark.parametrize(
    "quantity", ["", " ", "-1", "2.5", "\u0662", "99999999999999999999", "NaN", "1e308", "\x00"]
)
def test_a_missing_or_malformed_add_on_quantity_is_refused_not_removed(
    client, service, memory, quantity
):
    client.force_login(service.customer.user)
    url = reverse("provisioning:service_change", args=[service.pk])
    response = client.post(url, {"product": service.product_id, f"option_{memory.pk}": quantity})
    assert response.status_code == 302
    page = client.get(response.url).content.decode()
    assert f"{memory.name}: enter a whole number from 0 to 8." in page
    assert list(service.options.values_list("quantity", flat=True)) == [2]
    assert not ServiceChange.objects.exists()
    assert not CreditEntry.objects.exists()


def test_zero_removes_an_add_on_and_credits_the_rest_of_the_period(client, service, memory):
    client.force_login(service.customer.user)
    url = reverse("provisioning:service_change", args=[service.pk])
    response = client.post(url, {"product": service.product_id, f"option_{memory.pk}": "0"})
    assert response.status_code == 302
    assert not service.options.exists()
    assert CreditEntry.objects.get().kind == CreditEntry.Kind.DOWNGRADE_CREDIT


def test_an_add_on_of_another_product_is_refused(client, service, memory):
    from catalogue.tests.factories import ConfigurableOptionFactory

    foreign = ConfigurableOptionFactory()
    client.force_login(service.customer.user)
    url = reverse("provisioning:service_change", args=[service.pk])
    response = client.post(
        url,
        {"product": service.product_id, f"option_{memory.pk}": "2", f"option_{foreign.pk}": "1"},
    )
    assert response.status_code == 302
    assert "does not belong" in client.get(response.url).content.decode()
    assert not ServiceChange.objects.exists()
