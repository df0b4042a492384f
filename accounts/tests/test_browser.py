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
