"""The desk in a real browser (Chromium): a customer opens a ticket with an attachment, staff
answer it from the ticket's admin page, and the customer sees the answer. Screenshots at 1280
and 375 px go to $SCREENSHOT_DIR when it is set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from accounts.tests.factories import PASSWORD, UserFactory
from accounts.tests.second_factor import browser_staff_log_in
from billing_portal.common.browser import browser_log_in
from support.models import Ticket
from support.tests.helpers import PNG, department

pytestmark = [
    pytest.mark.browser,
    pytest.mark.real_second_factor,
    pytest.mark.django_db(transaction=True),
]


def _shot(page, name: str) -> None:
    folder = os.environ.get("SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"support-{name}.png"), full_page=True)


def test_a_customer_opens_a_ticket_staff_answer_the_customer_sees_it(
    page, browser, live_server, customer, tmp_path
):
    technical = department("Technical")
    screenshot = tmp_path / "screen.png"
    screenshot.write_bytes(PNG)

    # the customer opens a ticket with a file
    browser_log_in(page, live_server.url, email=customer.user.email, password=PASSWORD)
    page.goto(f"{live_server.url}/support/")
    _shot(page, "empty-1280")
    page.get_by_test_id("new-ticket").first.click()
    page.get_by_label("Department").select_option(str(technical.pk))
    page.get_by_label("Subject").fill("Website shows an error")
    page.get_by_label("Message").fill("Since this morning my site shows **error 500**.")
    page.get_by_label("Attachments").set_input_files(str(screenshot))
    _shot(page, "form-1280")
    page.get_by_role("button", name="Open ticket").click()
    page.get_by_text("is open: we will email you").wait_for()
    ticket = Ticket.objects.get(customer=customer)
    assert page.get_by_test_id("attachment").inner_text() == "screen.png"
    _shot(page, "opened-1280")

    # staff answer from the ticket's page in the admin
    staff = UserFactory(is_staff=True, is_superuser=True)
    staff_page = browser.new_page(viewport={"width": 1280, "height": 900})
    browser_staff_log_in(staff_page, live_server.url, staff)
    staff_page.goto(f"{live_server.url}/admin/support/ticket/")
    staff_page.get_by_role("link", name=f"#{ticket.pk}").click()
    staff_page.locator("#id_internal").check()
    staff_page.locator("#id_body").fill("Internal: check the PHP logs first.")
    staff_page.get_by_role("button", name="Send").click()
    staff_page.get_by_text("Internal note added.").wait_for()
    staff_page.locator("#id_body").fill("We fixed a **broken plugin**; your site works again.")
    staff_page.get_by_role("button", name="Send").click()
    staff_page.get_by_text("Reply sent to the customer.").wait_for()
    _shot(staff_page, "admin-1280")
    staff_page.close()

    # the customer sees the answer, not the note
    page.reload()
    conversation = page.get_by_test_id("conversation").inner_text()
    assert "We fixed a broken plugin" in conversation
    assert "PHP logs" not in conversation
    assert "Awaiting your reply" in page.get_by_test_id("ticket-status").inner_text()
    _shot(page, "answered-1280")
    page.set_viewport_size({"width": 375, "height": 740})
    _shot(page, "answered-375")
    page.goto(f"{live_server.url}/support/")
    _shot(page, "list-375")
    page.goto(f"{live_server.url}/support/new/")
    _shot(page, "form-375")
