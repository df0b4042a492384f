"""The client area in a real browser (Debian's Chromium driven by Playwright)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from accounts.tests.factories import PASSWORD
from billing import services as billing_services
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


# (name, type, value): every record type, a long DKIM key and SPF/DMARC texts among them.
DKIM = (
    "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwq3mJ5ZfT1b3T0Jk9m0Ch"
    "r8rS1x2vB4Gf8cH0aW3XkLq9pYt7uV6mN2eD5sF1gH4jK8lZ0xC3vB7nM1qW2eR5tY6uI9oP0aS3dF4gH7"
    "jK2lZ5xC8vB1nM4qW7eR0tY3uI6oP9aS2dF5gH8jK1lZ4xC7vB0nM3qW6eR9tY2uI5oP8aS1dF4gH7jK0l"
    "Z3xC6vB9nM2qW5eR8tY1uI4oP7aS0dF3gH6jK9lZ2xC5vB8nM1qW4eR7tY0uI3oP6aS9dF2gH5jK8lZ1QI"
    "DAQAB"
)
RECORDS = [
    ("@", "A", "192.0.2.10"),
    ("www", "A", "PROXYSRV"),
    ("@", "AAAA", "2001:db8:1:2:3:4:5:6"),
    ("shop", "CNAME", "shops.myshopify.com"),
    ("@", "MX", "10 mail.a-rather-long-domain-name.example"),
    ("@", "MX", "20 backup-mx.mail-provider.example.net"),
    ("delegated", "NS", "ns1.example.net"),
    ("@", "TXT", "v=spf1 include:_spf.mail-provider.example.net include:_spf.example.org ~all"),
    (
        "_dmarc",
        "TXT",
        "v=DMARC1; p=quarantine; rua=mailto:reports@a-rather-long-domain-name.example; pct=100",
    ),
    ("mail._domainkey", "TXT", DKIM),
    ("_minecraft._tcp", "SRV", "0 5 25565 mc.a-rather-long-domain-name.example"),
    ("@", "CAA", '0 issue "letsencrypt.org"'),
    ("@", "CAA", '0 iodef "mailto:security@a-rather-long-domain-name.example"'),
]

FULLY_SHOWN = """el => {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || r.left < 0 || r.right > window.innerWidth + 0.5) {
        return false;
    }
    for (let a = el.parentElement; a; a = a.parentElement) {  // not clipped by a scroller
        if (getComputedStyle(a).overflowX !== "visible") {
            const box = a.getBoundingClientRect();
            if (r.left < box.left - 0.5 || r.right > box.right + 0.5) return false;
        }
    }
    return true;
}"""


# Table cells and buttons of the page that are cut off: outside the screen, or hidden behind
# a horizontal scroller (a table wider than its box). Filter pills (.nav) may scroll.
CUT_OFF = """() => {
    const shown = FULLY;
    return [...document.querySelectorAll("main td, main th, main button, main .btn")]
        .filter(el => !el.closest(".nav") && el.getClientRects().length && !shown(el))
        .map(el => el.tagName + ": " + el.innerText.trim().slice(0, 40));
}""".replace("FULLY", FULLY_SHOWN)


def _client_area_with_data(customer, settings, monkeypatch) -> dict[str, str]:
    """A customer with something on every client-area page; returns {page: path}."""
    from datetime import date, timedelta
    from decimal import Decimal

    from django.utils import timezone

    from billing.services import payment_record
    from billing_portal.common.audit import AuditEvent
    from billing_portal.common.testing import usd
    from catalogue.models import ConfigurableOptionPrice, TaxRate
    from catalogue.tests.factories import (
        ConfigurableOptionFactory,
        ProductFactory,
        ProductPriceFactory,
    )
    from credits.services import credit_entry_append
    from dnszones import services as dns_services
    from dnszones.tests.plans import buy, dns_product, dns_seed
    from invoices import services as invoice_services
    from payments.models import SavedPaymentMethod
    from provisioning.models import Service
    from provisioning.tests.factories import ServerFactory, panel_product, placed_product

    settings.STRIPE_SECRET_KEY = "sk_test_dummy"
    dns_seed()
    credit_entry_append(
        customer=customer, amount=usd("500"), kind="admin_add", idempotency_key="phone"
    )
    server = ServerFactory(location="Frankfurt am Main")
    product = panel_product(server)
    ProductPriceFactory(product=product, cycle="annual", price=usd("110"))
    memory = ConfigurableOptionFactory(product=product, name="Extra memory for the server")
    ConfigurableOptionPrice.objects.create(
        option=memory, cycle="monthly", currency="USD", unit_price=usd("2.50"), setup_fee=usd("0")
    )
    bigger = placed_product(
        server.group,
        name="Minecraft 8 GB game server (more players, more mods)",
        group=product.group,
        module=product.module,
    )
    ProductPriceFactory(product=bigger, price=usd("20"))
    service = Service.objects.create(
        customer=customer,
        product=product,
        cycle="monthly",
        currency="USD",
        recurring_amount=Decimal("10"),
        server=server,
        status="active",
        external_id="sb-1",
        username="averyveryverylongusername",
        panel_url="https://panel.example.test/server/abcdef",
        secrets={"password": "Xq9-long-generated-password-value"},
        next_due_date=timezone.localdate() + timedelta(days=20),
        hostname="mc.a-rather-long-hostname.example",
    )
    Service.objects.create(
        customer=customer,
        product=ProductFactory(name="WordPress Premium managed site"),
        cycle="monthly",
        currency="USD",
        recurring_amount=Decimal("25"),
        status="provisioning",
    )
    TaxRate.objects.create(country=customer.country, rate=Decimal("19"), name="VAT")
    lines = [
        invoice_services.LineDraft(
            kind="service",
            description="Minecraft 4 GB game server, Frankfurt am Main "
            "(mc.a-rather-long-hostname.example)",
            unit_price=usd("1249.99"),
            quantity=Decimal("2"),
            discount=usd("125.00"),
            period_start=date(2026, 4, 1),
            period_end=date(2026, 5, 1),
        ),
        invoice_services.LineDraft(
            kind="setup_fee", description="Set-up fee", unit_price=usd("9.99")
        ),
    ]
    draft = invoice_services.invoice_create_draft(customer=customer, currency="USD", lines=lines)
    invoice = billing_services.invoice_issue(invoice_id=draft.pk)
    payment_record(
        invoice_id=invoice.pk,
        gateway="manual",
        reference="bank-transfer-20260401",
        amount=usd("100.00"),
    )
    SavedPaymentMethod.objects.create(
        customer=customer,
        gateway="stripe",
        reference="pm_1",
        brand="visa",
        last4="4242",
        exp_month=12,
        exp_year=2030,
        is_default=True,
    )
    buy(customer)
    monkeypatch.setattr(dns_services, "delegation_check", lambda name: None)  # layout only
    zone = dns_services.zone_create(customer=customer, name="a-rather-long-domain-name.example")
    for name, rtype, value in RECORDS:
        dns_services.record_add(
            customer=customer, zone_id=zone.pk, name=name, type=rtype, ttl=3600, content=value
        )
    receipt = credit_entry_append(  # a debit with a receipt, as DNS plans were paid before
        customer=customer,
        amount=usd("-5.00"),
        kind="service_purchase",
        idempotency_key="phone:receipt",
        description="DNS plan Basic, one month",
    )
    event = AuditEvent.objects.filter(customer=customer).first()
    return {
        "dashboard": "/",
        "services": "/services/",
        "service": f"/services/{service.pk}/",
        "plan change": f"/services/{service.pk}/change-plan/",
        "catalogue": "/order/",
        "order": f"/order/{product.slug}/",
        "invoices": "/invoices/",
        "invoice": f"/invoices/{invoice.pk}/",
        "invoice print": f"/invoices/{invoice.pk}/print/",
        "payments": "/payments/",
        "cards": "/payments/cards/",
        "billing": "/billing/",
        "billing payments": "/billing/?tab=payments",
        "receipt": f"/billing/receipts/{receipt.pk}/",
        "dns": "/dns/",
        "dns confirm": f"/dns/plans/{dns_product('Pro').pk}/",
        "zone": f"/dns/zones/{zone.pk}/",
        "zone delete": f"/dns/zones/{zone.pk}/delete/",
        "profile": "/accounts/profile/",
        "password": "/accounts/password/change/",
        "activity": "/accounts/activity/",
        "activity event": f"/accounts/activity/{event.pk}/",
    }


def _assert_fully_shown(page, locator, what: str) -> None:
    assert locator.count() > 0, f"no {what}"
    for index in range(locator.count()):
        element = locator.nth(index)
        element.scroll_into_view_if_needed()
        assert element.evaluate(FULLY_SHOWN), f"{what} #{index} is cut off or outside the screen"


def test_every_client_area_page_with_data_fits_a_phone_screen(
    page, live_server, customer, settings, monkeypatch
):
    """At 375 px nothing is wider than the screen on any client-area page filled with data;
    the invoice's Discount, Tax and Total, and every record's value and Delete button in the
    DNS editor, are on the screen (values wrap at word boundaries, never a letter a line)."""
    from billing_portal.common.browser import ARTIFACTS

    paths = _client_area_with_data(customer, settings, monkeypatch)
    page.set_viewport_size(PHONE)
    browser_log_in(page, live_server.url, email=customer.user.email, password=PASSWORD)
    too_wide = []
    for name, path in paths.items():
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, f"{name} ({path}) answered {response.status}"
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if overflow > 0:
            too_wide.append(f"{name} ({path}) overflows by {overflow} px")
        if cut := page.evaluate(CUT_OFF):
            too_wide.append(f"{name} ({path}) cuts off {cut}")
    assert not too_wide, "\n".join(too_wide)

    page.goto(f"{live_server.url}{paths['invoice']}")
    for label in ("Discount", "Tax", "Total"):
        _assert_fully_shown(page, page.get_by_test_id(f"line-{label.lower()}"), f"line {label}")
    _assert_fully_shown(page, page.get_by_test_id("invoice-totals"), "the totals")

    page.goto(f"{live_server.url}{paths['zone']}")
    _assert_fully_shown(page, page.get_by_role("button", name="Delete", exact=True), "Delete")
    _assert_fully_shown(page, page.get_by_test_id("record-value"), "a record's value")
    longest = page.get_by_test_id("record-value").filter(has_text="v=DKIM1").first
    width = longest.evaluate("el => el.getBoundingClientRect().width")
    assert width >= 200, f"the DKIM value is squeezed into {width} px"

    # screenshots for people to look at (test-artifacts/, not committed)
    ARTIFACTS.mkdir(exist_ok=True)
    for size, viewport in (("375", PHONE), ("1280", {"width": 1280, "height": 900})):
        page.set_viewport_size(viewport)
        for name in ("dashboard", "invoice", "zone", "dns confirm", "invoice print", "receipt"):
            page.goto(f"{live_server.url}{paths[name]}")
            shot = ARTIFACTS / f"client-{name.replace(' ', '-')}-{size}.png"
            page.screenshot(path=str(shot), full_page=True)
