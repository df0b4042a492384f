"""Acting as a customer in Chromium: a Support user signs in to the admin with their code,
opens a customer, acts as them, sees the banner in the client area, is refused a payment
page, and stops, landing back on the customer's admin page without a new code. Screenshots
at 1280 and 375 px (test-artifacts/, not committed)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.tests.factories import CustomerFactory
from accounts.tests.helpers import role_member
from accounts.tests.second_factor import browser_staff_log_in
from billing_portal.common.browser import ARTIFACTS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.real_second_factor,
]

PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 900}


def _shots(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(ARTIFACTS / f"acting-{name}-375.png"), full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=str(ARTIFACTS / f"acting-{name}-1280.png"), full_page=True)
    assert overflow <= 0, f"{name} is wider than a phone screen"


def test_support_acts_as_a_customer_sees_the_banner_and_stops(page, live_server):
    # given a Support user with an authenticator app, and a customer
    staff = role_member("Support")
    customer = CustomerFactory(name="Ada Customer")
    admin_page = reverse("admin:accounts_customer_change", args=[customer.pk])
    page.set_viewport_size(DESKTOP)
    browser_staff_log_in(page, live_server.url, staff)

    # when they act as the customer from the customer's admin page
    page.goto(f"{live_server.url}{admin_page}")
    _shots(page, "admin-button")
    page.get_by_role("button", name="Act as this customer").click()
    page.wait_for_url(f"{live_server.url}/")

    # then the client area is the customer's, with the banner on every page
    banner = page.get_by_test_id("acting-banner")
    banner.get_by_text("You are acting as Ada Customer").wait_for()
    assert staff.email in banner.inner_text()
    _shots(page, "banner-dashboard")
    page.goto(f"{live_server.url}{reverse('credits:overview')}")
    banner.wait_for()
    page.goto(f"{live_server.url}{reverse('accounts:password_change')}")  # refused
    page.get_by_text("Staff acting as a customer cannot change the password").wait_for()
    _shots(page, "refused")

    # and "Stop acting" returns to the admin, past the second factor already given
    page.get_by_role("button", name="Stop acting").click()
    page.wait_for_url(f"{live_server.url}{admin_page}")
    page.get_by_role("button", name="Act as this customer").wait_for()
    page.goto(f"{live_server.url}/")
    assert page.get_by_test_id("acting-banner").count() == 0
