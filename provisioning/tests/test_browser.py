"""Issue acceptance 1 in a real browser: the demo customer orders a game server on the
sandbox panel, pays with demo credit and sees it active with its login details."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from accounts.models import User
from accounts.tests.factories import PASSWORD
from billing.management.commands.seed_demo import CUSTOMER_EMAIL
from billing_portal.common.browser import browser_log_in
from provisioning.models import Service

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_order_pay_with_demo_credit_and_see_the_service_active(page, live_server):
    call_command("seed_demo", stdout=io.StringIO())  # random passwords with DEBUG off
    user = User.objects.get(email=CUSTOMER_EMAIL)
    user.set_password(PASSWORD)
    user.save()
    browser_log_in(page, live_server.url, email=CUSTOMER_EMAIL, password=PASSWORD)

    page.goto(f"{live_server.url}/order/minecraft-4gb/")
    page.get_by_label("Monthly: $12.00").check()
    page.locator("#id_hostname").fill("mc.demo.test")
    page.locator("input[name^=option_]").fill("0")  # no extra memory
    page.get_by_role("button", name="Review order").click()
    page.get_by_role("button", name="Place order").click()
    page.get_by_text("Your order is placed").wait_for()
    page.get_by_role("button", name="Use account credit").click()

    service = Service.objects.get(customer__user__email=CUSTOMER_EMAIL)
    page.goto(f"{live_server.url}/services/{service.pk}/")
    assert page.get_by_test_id("service-status").inner_text() == "Active"
    service.refresh_from_db()
    assert page.get_by_test_id("credential-password").inner_text() == service.secrets["password"]


def test_open_control_panel_shows_the_sandbox_page_on_a_phone(page, live_server, customer):
    from decimal import Decimal

    from provisioning.tests.factories import ServerFactory, panel_product

    server = ServerFactory(module="sandbox", location="Frankfurt am Main")
    service = Service.objects.create(
        customer=customer,
        product=panel_product(server, stands_in_for="directadmin"),
        cycle="monthly",
        currency="USD",
        recurring_amount=Decimal("10"),
        server=server,
        status="active",
        external_id="sandbox-svc-with-a-rather-long-reference-0001",
        username="averyveryverylongusername",
        domain="a-rather-long-domain-name.example",
    )
    page.set_viewport_size({"width": 375, "height": 740})
    browser_log_in(page, live_server.url, email=customer.user.email, password=PASSWORD)
    page.goto(f"{live_server.url}/services/{service.pk}/")
    page.get_by_role("button", name="Open control panel").click()
    page.get_by_role("heading", name="Sandbox control panel").wait_for()
    assert page.url == f"{live_server.url}/services/{service.pk}/sandbox-panel/"
    assert page.get_by_test_id("sandbox-username").inner_text() == service.username
    assert "DirectAdmin" in page.content()
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0


def test_the_set_up_page_updates_itself_when_the_service_becomes_active(
    page, live_server, customer
):
    from provisioning.tests.factories import ServerFactory, service_on

    server = ServerFactory()
    service = service_on(server, customer=customer, status="provisioning")
    browser_log_in(page, live_server.url, email=customer.user.email, password=PASSWORD)
    page.goto(f"{live_server.url}/services/{service.pk}/")
    assert page.get_by_test_id("service-status").inner_text() == "Being set up"

    # the panel confirms (a worker marks it active): the open page follows without a click
    Service.objects.filter(pk=service.pk).update(
        status="active", username="gamer", secrets={"password": "fresh-secret"}
    )
    page.get_by_test_id("credential-password").wait_for(timeout=20_000)
    assert page.get_by_test_id("service-status").inner_text() == "Active"
    assert page.get_by_test_id("credential-password").inner_text() == "fresh-secret"
    assert page.get_by_test_id("status-poll").count() == 0  # and it stops asking
