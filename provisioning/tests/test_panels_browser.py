"""Game server, hosting and support self-service in Chromium, on the sandbox panel: open the
service page, run an action, see it queued (the page polls with htmx) and then its result,
without a manual reload; screenshots at 1280 and 375 px for review.

The worker is played by the test: the action's message is held back (the kernel's queue is
replaced for the test) so the queued state can be seen, then the operation is run as the
worker runs it, and the open page picks the result up on its own."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from accounts.tests.factories import PASSWORD
from billing_portal.common import operations as kernel
from billing_portal.common.browser import browser_log_in
from billing_portal.tests.test_csp_browser import REPORT_VIOLATIONS
from provisioning.models import ProvisioningOperation, Service
from provisioning.services import operation_run
from provisioning.services.actions import live_reads_forget
from provisioning.tests.factories import ServerFactory, panel_product, service_on

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path("/work/wt/notes/shots")
Op = ProvisioningOperation


@pytest.fixture
def held(monkeypatch) -> list[int]:
    """Operation ids queued by the page, not sent to a worker (the test runs them)."""
    queued: list[int] = []
    monkeypatch.setattr(kernel, "operation_queue", lambda kind, pk, countdown=0: queued.append(pk))
    return queued


@pytest.fixture
def violations(page) -> list[str]:
    """Content-Security-Policy violations and script errors of the pages `page` opens (as
    billing_portal/tests/test_csp_browser.py collects them)."""
    found: list[str] = []

    def report(text: str) -> None:  # Playwright binds a Python function, not a method
        found.append(text)

    page.expose_function("reportViolation", report)
    page.add_init_script(REPORT_VIOLATIONS)
    page.on("console", lambda message: message.type == "error" and found.append(message.text))
    page.on("pageerror", lambda error: found.append(f"page error: {error}"))
    return found


def _service(customer, stands_in_for: str, **fields: Any) -> Service:
    server = ServerFactory(module="sandbox", location="Frankfurt")
    product = panel_product(server, stands_in_for=stands_in_for, plan="priority")
    service = service_on(
        server,
        customer=customer,
        product=product,
        status=Service.Status.ACTIVE,
        external_id=f"sandbox-{uuid.uuid4().hex[:12]}",  # the demo state is per external id
        **fields,
    )
    live_reads_forget(service.pk)
    return service


def _open(page, live_server, customer, service: Service) -> None:
    browser_log_in(page, live_server.url, email=customer.user.email, password=PASSWORD)
    page.goto(f"{live_server.url}/services/{service.pk}/")


def _queued_then_done(page, held: list[int], done_text: str) -> None:
    """The status box shows the action waiting, then (the worker ran it) its result: once
    it ended htmx loaded the service page showing it, so every section has the new state."""
    box = page.get_by_test_id("action-status")
    box.wait_for()
    assert box.get_attribute("data-status") == "pending"
    assert "Queued" in box.inner_text()
    assert held, "the page queued no operation"
    operation_run(operation_id=held[-1])
    page.locator('[data-testid="action-status"][data-status="succeeded"]').wait_for(timeout=15_000)
    assert done_text in page.get_by_test_id("action-done").inner_text()
    assert f"?op={held[-1]}" in page.url


def _shots(page, name: str) -> None:
    """Screenshots at 1280 and 375 px (no sideways scrolling on the phone)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"panels-{name}-1280.png"), full_page=True)
    page.set_viewport_size({"width": 375, "height": 800})
    page.screenshot(path=str(SHOTS / f"panels-{name}-375.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    page.set_viewport_size({"width": 1280, "height": 900})


def test_game_server_stop_shows_progress_then_result(page, live_server, customer, held, violations):
    service = _service(customer, "pterodactyl", panel_url=f"{live_server.url}/panel")
    _open(page, live_server, customer, service)
    assert page.get_by_test_id("game-state").inner_text() == "Running"
    assert "1536 MB of 4096 MB" in page.get_by_test_id("game-usage").inner_text()
    page.get_by_test_id("action-stop").click()
    _queued_then_done(page, held, "The server is stopping.")
    assert Op.objects.get(pk=held[-1]).payload["action"] == "stop"
    page.locator('[data-testid="game-state"]', has_text="Offline").wait_for()
    assert page.get_by_test_id("action-start").is_visible()
    _shots(page, "game")
    assert violations == []  # CSP: no inline script or style, htmx and our scripts from 'self'


def test_hosting_new_database_shows_its_password_once(
    page, live_server, customer, held, violations
):
    service = _service(customer, "directadmin", domain="ada.example.com")
    _open(page, live_server, customer, service)
    assert "SSL certificates" in page.get_by_test_id("hosting-stats").inner_text()
    assert ".sandbox.test" in page.get_by_test_id("hosting-domains").inner_text()
    page.get_by_test_id("db-name").fill("shop")
    page.get_by_test_id("action-create_database").click()
    _queued_then_done(page, held, "The database is ready.")
    secret = page.get_by_test_id("action-secret").inner_text()
    password = Op.objects.get(pk=held[-1]).secret_result.get("password", "")
    assert password == ""  # taken as it was shown
    assert "Password:" in secret
    assert "_shop" in page.get_by_test_id("action-status").inner_text()
    # the statistics count it, and the form has a fresh click key
    page.locator('[data-testid="hosting-stats"]', has_text="1 of 10").wait_for()
    _shots(page, "hosting")
    page.get_by_test_id("db-name").fill("blog")
    page.get_by_test_id("action-create_database").click()
    page.locator('[data-testid="action-status"][data-status="pending"]').wait_for()
    assert len(set(held)) == 2  # a second database, not the first one again
    assert violations == []


def test_support_key_regenerated_after_typed_confirmation(
    page, live_server, customer, held, violations
):
    service = _service(customer, "support", secrets={"support_key": "SK-DEMO0001"})
    _open(page, live_server, customer, service)
    assert page.get_by_test_id("support-key").inner_text() == "SK-DEMO0001"
    assert page.get_by_test_id("support-tier").inner_text() == "Priority"
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_test_id("copy-support-key").click()
    page.get_by_test_id("copy-support-key").filter(has_text="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == "SK-DEMO0001"
    page.get_by_test_id("confirm-regenerate_key").fill("REGENERATE")
    page.get_by_test_id("action-regenerate_key").click()
    _queued_then_done(page, held, "Your new support key")
    service.refresh_from_db()
    new_key = service.secrets["support_key"]
    assert new_key != "SK-DEMO0001"
    assert new_key in page.get_by_test_id("action-secret").inner_text()
    page.get_by_test_id("support-key").filter(has_text=new_key).wait_for()
    page.get_by_test_id("credential-support_key").filter(has_text=new_key).wait_for()
    assert "SK-DEMO0001" not in page.content()
    _shots(page, "support")
    assert violations == []
