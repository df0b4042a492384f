"""Sessions in a real browser: ending another session from the security page signs that
browser out (two browser contexts, two cookie jars); screenshots of the pages at 1280 and
375 px (test-artifacts/, not committed)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from accounts.tests.factories import PASSWORD, UserFactory
from accounts.tests.second_factor import totp_code, totp_device
from billing_portal.common.browser import ARTIFACTS, browser_log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SIZES = (("1280", {"width": 1280, "height": 900}), ("375", {"width": 375, "height": 740}))


def _context(browser, **options):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **options)
    context.set_default_timeout(15_000)
    return context


def _shots(page, url: str, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for size, viewport in SIZES:
        page.set_viewport_size(viewport)
        page.goto(url)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} at {size} px is {overflow} px wider than the screen"
        page.screenshot(path=str(ARTIFACTS / f"{name}-{size}.png"), full_page=True)
    page.set_viewport_size(SIZES[0][1])


def test_ending_another_session_signs_that_browser_out(browser, live_server, customer):
    laptop_context, other_context = _context(browser), _context(browser, user_agent=FIREFOX)
    try:
        laptop, other = laptop_context.new_page(), other_context.new_page()
        for page in (laptop, other):
            browser_log_in(page, live_server.url, email=customer.user.email, password=PASSWORD)

        # the laptop lists both sessions, itself first
        security = f"{live_server.url}{reverse('accounts:security')}"
        laptop.goto(security)
        rows = laptop.get_by_test_id("session")
        assert rows.count() == 2
        assert "This session" in rows.nth(0).inner_text()
        other_row = rows.filter(has_text="Firefox 128 on Ubuntu")
        assert "last seen" in other_row.inner_text()
        _shots(laptop, security, "sessions-security")

        # and signs the other one out
        other_row.get_by_role("button", name="Sign out").click()
        laptop.get_by_text("That session was signed out.").wait_for()
        assert laptop.get_by_test_id("session").count() == 1

        # the other browser's next page is the login page
        other.goto(f"{live_server.url}/")
        other.wait_for_url(re.compile(r".*/accounts/login/.*"))
        # while the laptop stays signed in
        laptop.goto(f"{live_server.url}/")
        assert laptop.url == f"{live_server.url}/"
    finally:
        laptop_context.close()
        other_context.close()


def test_the_email_change_and_staff_session_pages(page, live_server, customer, mailoutbox):
    browser_log_in(page, live_server.url, email=customer.user.email, password=PASSWORD)
    page.goto(f"{live_server.url}{reverse('accounts:email_change')}")
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(f"{live_server.url}{reverse('accounts:email_change')}")
    _shots(page, page.url, "email-change")
    page.locator("#id_new_email").fill("not an address")
    page.get_by_role("button", name="Send the confirmation link").click()
    page.get_by_text("Enter a valid email address.").wait_for()
    page.locator("#id_new_email").fill("ada.new@example.org")
    page.get_by_role("button", name="Send the confirmation link").click()
    page.get_by_text("We sent a link to ada.new@example.org").wait_for()
    message = next(m for m in mailoutbox if m.to == ["ada.new@example.org"])
    link = re.search(r"http://\S+/accounts/email/confirm/\S+/", message.body).group(0)
    _shots(page, link, "email-change-confirm")
    page.get_by_role("button", name="Confirm the new address").click()
    page.get_by_text("Your email address is now ada.new@example.org.").wait_for()

    staff = UserFactory(is_staff=True, is_superuser=True)
    device = totp_device(staff)
    page.context.clear_cookies()
    browser_log_in(
        page,
        live_server.url,
        email=staff.email,
        password=PASSWORD,
        code=lambda: totp_code(device),
        path="/admin/login/",
        lands_on="/admin/",
    )
    page.get_by_role("link", name="My sessions").click()
    page.get_by_test_id("session").first.wait_for()
    assert "(this session)" in page.get_by_test_id("session").first.inner_text()
    _shots(page, page.url, "sessions-staff")
