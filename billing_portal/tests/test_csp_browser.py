"""The Content-Security-Policy in a real browser: the admin and the client area work under it
(their scripts run) and Chromium reports no violation, and a form whose POST is redirected
to the service's panel on another origin is not stopped by form-action."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.urls import reverse
from djmoney.money import Money

from accounts.tests.factories import PASSWORD, UserFactory
from accounts.tests.second_factor import browser_staff_log_in
from billing_portal.common.browser import browser_log_in
from billing_portal.tests import test_hostile_input as hostile
from credits.services import credit_entry_append
from dnszones import services as dns_services
from dnszones.tests.plans import dns_seed
from provisioning.tests.factories import ServerFactory, service_on

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Fired on the document for every blocked load, inline script or style, form target, ...
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportViolation(`${event.effectiveDirective} blocked ${event.blockedURI || "inline"}`
                         + ` on ${document.location.pathname}`);
});
"""


@pytest.fixture
def violations(page) -> list[str]:
    """Every policy violation and console error of the pages `page` opens."""
    found: list[str] = []

    def report(text: str) -> None:
        found.append(text)

    page.expose_function("reportViolation", report)
    page.add_init_script(REPORT_VIOLATIONS)
    page.on(
        "console",
        lambda message: (
            message.type == "error"
            and found.append(f"{message.text} ({message.location.get('url')})")
        ),
    )
    page.on("pageerror", lambda error: found.append(f"page error: {error}"))
    return found


def test_the_admin_works_under_the_policy(page, live_server, violations, customer):
    staff = UserFactory(is_staff=True, is_superuser=True)
    browser_staff_log_in(page, live_server.url, staff)  # the code prompt follows the password

    # a changelist: the actions script runs (the header box selects every row)
    page.goto(f"{live_server.url}{reverse('admin:accounts_customer_changelist')}")
    page.locator("#action-toggle").check()
    assert page.locator("input.action-select").first.is_checked()
    assert "selected" in page.locator(".action-counter").inner_text()

    # an action's confirmation page
    page.locator("select[name=action]").select_option("delete_selected")
    page.get_by_role("button", name="Go").first.click()
    page.get_by_role("heading", name="Delete multiple objects").wait_for()

    # a change form, with its related-object widgets
    page.goto(f"{live_server.url}{reverse('admin:accounts_customer_change', args=[customer.pk])}")
    page.locator("#customer_form").wait_for()
    page.goto(f"{live_server.url}{reverse('admin:accounts_user_change', args=[staff.pk])}")
    page.locator("#user_form").wait_for()

    assert violations == []


@pytest.fixture
def client_world(customer, monkeypatch, invoice_factory) -> SimpleNamespace:
    """An issued invoice, a DNS plan with a zone and a record, a service being set up."""
    dns_seed()  # a transactional test: earlier ones may have flushed the seeded plans
    monkeypatch.setattr(dns_services, "delegation_check", lambda name: None)
    w = SimpleNamespace(customer=customer)
    credit_entry_append(
        customer=customer,
        amount=Money(Decimal("50"), "USD"),
        kind="admin_add",
        idempotency_key="csp-browser",
    )
    w.invoice = invoice_factory(customer, "30.00", description="Hosting")
    hostile._dns(w)
    server = ServerFactory()
    w.service = service_on(server, customer=customer, status="provisioning")
    return w


def test_the_client_area_works_under_the_policy(page, live_server, violations, client_world):
    w = client_world
    browser_log_in(page, live_server.url, email=w.customer.user.email, password=PASSWORD)
    page.get_by_test_id("current-user").wait_for()

    page.goto(f"{live_server.url}{reverse('invoices:invoice_detail', args=[w.invoice.pk])}")
    page.get_by_test_id("invoice-totals").wait_for()
    page.goto(f"{live_server.url}{reverse('invoices:invoice_print', args=[w.invoice.pk])}")
    page.get_by_role("button", name="Print this invoice").wait_for()
    page.goto(f"{live_server.url}{reverse('dns:zone_detail', args=[w.zone.pk])}")
    page.get_by_text("shop.example").first.wait_for()

    # the service page's polling script runs: it asks the status endpoint by itself
    status_url = reverse("provisioning:service_status", args=[w.service.pk])
    with page.expect_request(lambda request: request.url.endswith(status_url), timeout=10_000):
        page.goto(f"{live_server.url}{reverse('provisioning:service_detail', args=[w.service.pk])}")

    assert violations == []


def test_open_control_panel_follows_the_redirect_to_the_panels_origin(
    page, live_server, violations, customer, monkeypatch
):
    """The panel is on another origin (here: the same server under another host name); the
    login form's POST is answered with a redirect there, which form-action must allow."""
    panel = live_server.url.replace("localhost", "127.0.0.1")
    assert panel != live_server.url
    server = ServerFactory(module="sandbox", base_url=panel)
    service = service_on(server, customer=customer, status="active", external_id="sso-1")
    monkeypatch.setattr(
        "billing.views.provisioning.service_login_url", lambda service: f"{panel}/accounts/login/"
    )
    browser_log_in(page, live_server.url, email=customer.user.email, password=PASSWORD)
    page.goto(f"{live_server.url}{reverse('provisioning:service_detail', args=[service.pk])}")
    page.get_by_role("button", name="Open control panel").click()
    page.wait_for_url(f"{panel}/accounts/login/")
    assert violations == []
