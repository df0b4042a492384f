"""Issue acceptance 1 in a real browser against the test PowerDNS: buy Basic with credit, add
a delegated zone, add an A record with PROXYSRV, and the DNS server answers the proxy IP."""

from __future__ import annotations

from decimal import Decimal

import pytest
from djmoney.money import Money

from accounts.tests.factories import PASSWORD
from billing_portal.common.browser import browser_log_in
from credits.services import credit_entry_append
from dnszones.tests.conftest import PROXY_IP
from dnszones.tests.plans import dns_seed
from dnszones.tests.test_powerdns import ask

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_buy_basic_add_a_zone_and_a_proxysrv_record(page, live_server, customer, parent_zone):
    dns_seed()  # a transactional test: earlier ones may have flushed the seeded plans
    credit_entry_append(
        customer=customer,
        amount=Money(Decimal("10"), "USD"),
        kind="admin_add",
        idempotency_key="browser",
    )
    browser_log_in(page, live_server.url, email=customer.user.email, password=PASSWORD)

    page.goto(f"{live_server.url}/dns/")
    page.get_by_test_id("buy-basic").click()
    assert "$5.00 is invoiced now" in page.get_by_test_id("quote-amount").inner_text()
    page.get_by_test_id("confirm").click()
    page.get_by_text("Your DNS plan is Basic").wait_for()
    page.locator("#zone-name").fill("shop.test")
    page.get_by_role("button", name="Add", exact=True).click()
    page.get_by_text("shop.test is created").wait_for()

    page.locator("#r-name").fill("www")
    page.locator("#r-type").select_option("A")
    page.locator("#r-ttl").fill("300")
    page.locator("#r-content").fill("PROXYSRV")
    page.get_by_role("button", name="Add record").click()
    page.get_by_text("The record was added").wait_for()
    assert PROXY_IP in page.get_by_test_id("records").inner_text()
    assert ask(parent_zone, "www.shop.test", "A") == [PROXY_IP]
