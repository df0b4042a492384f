"""The client area in a real browser (Debian's Chromium driven by Playwright)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from accounts.tests.factories import PASSWORD
from billing_portal.common.browser import browser_log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 375, "height": 740}
PASSWORD_NEW = "browser-test-passphrase-9"


def test_register_verify_login_dashboard_logout(page, live_server, mailoutbox):
    # given a visitor on the registration page
    page.goto(f"{live_server.url}/accounts/register/")
    page.locator("#id_name").fill("Grace Browser")
    page.locator("#id_email").fill("grace@example.com")
    page.locator("#id_country").select_option("NL")
    page.locator("#id_password1").fill(PASSWORD_NEW)
    page.locator("#id_password2").fill(PASSWORD_NEW)
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("heading", name="Check your email").wait_for()

    # when they follow the link from the verification email
    assert len(mailoutbox) == 1
    link = re.search(r"http://\S+/accounts/verify/\S+/", mailoutbox[0].body).group(0)
    page.goto(link)
    page.get_by_text("Your email address is verified").wait_for()
    assert page.url == f"{live_server.url}/accounts/login/"

    # and log in
    page.locator("#id_username").fill("grace@example.com")
    page.locator("#id_password").fill(PASSWORD_NEW)
    page.get_by_role("button", name="Log in").click()

    # then the dashboard greets them
    page.get_by_role("heading", name="Welcome, Grace Browser").wait_for()
    assert page.url == f"{live_server.url}/"

    # and logging out returns to the login page
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("heading", name="Log in").wait_for()
    page.goto(f"{live_server.url}/")
    assert page.url.startswith(f"{live_server.url}/accounts/login/")


def test_failed_login_shows_an_error(page, live_server, customer):
    page.goto(f"{live_server.url}/accounts/login/")
    page.locator("#id_username").fill(customer.user.email)
    page.locator("#id_password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("The email address or password is incorrect").wait_for()


@pytest.mark.parametrize(
    "url_name",
    [
        "dashboard",
        "provisioning:service_list",
        "invoices:invoice_list",
        "credits:overview",
        "dns:zone_list",
        "accounts:profile",
        "accounts:activity_list",
    ],
)
def test_every_page_fits_a_phone_screen(page, live_server, customer, url_name):
    page.set_viewport_size(PHONE)
    browser_log_in(page, live_server.url, email=customer.user.email, password=PASSWORD)

    page.goto(f"{live_server.url}{reverse(url_name)}")
    # nothing wider than the screen
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    # the navigation is collapsed behind the toggler and opens on tap
    services = page.get_by_role("link", name="Services", exact=True)
    assert not services.is_visible()
    page.get_by_role("button", name="Toggle navigation").click()
    services.wait_for(state="visible")


def test_pages_with_content_fit_a_phone_screen(page, live_server, customer, settings, monkeypatch):
    """The service page, the plan-change page, the DNS record editor and the billing page
    with its purchase forms, filled with data, at 375 px."""
    from decimal import Decimal

    from djmoney.money import Money

    from credits.services import credit_entry_append
    from dnszones import services as dns_services
    from dnszones.demo import dns_plans_seed
    from dnszones.models import DnsPlan
    from provisioning.models import Service
    from provisioning.tests.factories import ServerFactory, panel_product

    settings.STRIPE_SECRET_KEY = "sk_test_dummy"
    dns_plans_seed()
    credit_entry_append(customer=customer, amount=Money(Decimal("50"), "USD"), kind="admin_add",
                        idempotency_key="phone")  # fmt: skip
    server = ServerFactory(location="Frankfurt am Main")
    service = Service.objects.create(
        customer=customer, product=panel_product(server), cycle="monthly", currency="USD",
        recurring_amount=Decimal("10"), server=server, status="active", external_id="sb-1",
        username="averyveryverylongusername", panel_url="https://panel.example.test/server/abcdef",
        secrets={"password": "Xq9-long-generated-password-value"},
    )  # fmt: skip
    dns_services.dns_plan_buy(customer=customer, request_key="phone",
                              plan_id=DnsPlan.objects.get(name="Basic").pk)  # fmt: skip
    monkeypatch.setattr(dns_services, "delegation_check", lambda name: None)  # layout only
    zone = dns_services.zone_create(customer=customer, name="a-rather-long-domain-name.example")
    dns_services.record_add(customer=customer, zone_id=zone.pk, name="_dmarc", type="TXT",
                            ttl=3600, content="v=DMARC1; p=quarantine; rua=mailto:reports@"
                            "a-rather-long-domain-name.example; pct=100")  # fmt: skip
    page.set_viewport_size(PHONE)
    browser_log_in(page, live_server.url, email=customer.user.email, password=PASSWORD)
    for path in (f"/services/{service.pk}/", f"/services/{service.pk}/change-plan/",
                 f"/dns/zones/{zone.pk}/", "/dns/", "/billing/"):  # fmt: skip
        page.goto(f"{live_server.url}{path}")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, path
