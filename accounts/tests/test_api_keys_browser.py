"""The API key pages in a real browser: make a key, see it once, use it, revoke it; the
pages at desktop and phone widths (screenshots in test-artifacts/)."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.tests.factories import PASSWORD
from billing_portal.common.browser import ARTIFACTS, browser_log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 375, "height": 740}}


def _shots(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for label, size in WIDTHS.items():
        page.set_viewport_size(size)
        page.screenshot(path=str(ARTIFACTS / f"api_keys_{name}_{label}.png"), full_page=True)
    page.set_viewport_size(WIDTHS["desktop"])


def test_make_see_once_use_and_revoke_a_key(page, live_server, customer):
    browser_log_in(page, live_server.url, email=customer.user.email, password=PASSWORD)
    page.goto(f"{live_server.url}/accounts/api-keys/")
    page.get_by_text("No API keys yet").wait_for()
    _shots(page, "empty")

    page.get_by_role("link", name="Create a key").click()
    page.locator("#id_name").fill("Monitoring")
    page.get_by_label("Pay invoices and move money").check()
    page.locator("#id_allowed_ips").fill("127.0.0.1")
    _shots(page, "form")
    page.get_by_role("button", name="Create the key").click()

    shown = page.get_by_label("The new API key")
    token = shown.input_value()
    assert token.startswith("bpk_")
    _shots(page, "created")
    answer = Client(HTTP_AUTHORIZATION=f"Bearer {token}").get(
        "/api/v1/me/", REMOTE_ADDR="127.0.0.1"
    )
    assert answer.status_code == 200

    page.reload()
    assert page.get_by_label("The new API key").count() == 0
    page.get_by_role("link", name="Revoke").click()
    _shots(page, "revoke")
    page.get_by_role("button", name="Revoke the key").click()
    page.get_by_text("was revoked").wait_for()
    _shots(page, "list")
    answer = Client(HTTP_AUTHORIZATION=f"Bearer {token}").get(
        "/api/v1/me/", REMOTE_ADDR="127.0.0.1"
    )
    assert answer.status_code == 401
