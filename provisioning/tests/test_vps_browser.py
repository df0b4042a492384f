"""A VPS's page in Chromium: the customer shuts the server down and reinstalls it; the status
box shows the action queued, then (a worker having run it) its result, without a reload.
Screenshots at 1280 and 375 px go to the notes' shots folder."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.core.cache import cache

from accounts.tests.factories import PASSWORD
from billing_portal.common import operations as kernel
from billing_portal.common.browser import browser_log_in
from provisioning.models import ProvisioningOperation, Service
from provisioning.services import operation_run
from provisioning.tests.factories import ServerFactory, panel_product

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path("/work/wt/notes/shots")


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """Operations are left queued for the test to run, as a worker would a moment later
    (tasks otherwise run at once in tests, and the page would never show them waiting)."""
    ids: list[int] = []
    monkeypatch.setattr(kernel, "task_publish_on_commit", lambda name, args, **kw: ids.extend(args))
    return ids


def _shot(page, name: str) -> None:
    if SHOTS.is_dir():
        page.screenshot(path=str(SHOTS / f"vps-{name}.png"), full_page=True)


def _vps(customer) -> Service:
    server = ServerFactory(module="sandbox", location="Amsterdam")
    return Service.objects.create(
        customer=customer,
        product=panel_product(server, stands_in_for="virtfusion"),
        cycle="monthly",
        currency="USD",
        recurring_amount=Decimal("10"),
        server=server,
        status=Service.Status.ACTIVE,
        external_id="sandbox-svc-browser-vps",
        hostname="vps.demo.test",
    )


def _worker_runs_the_last_action(queued: list[int]) -> None:
    operation_run(operation_id=queued[-1])


def test_shut_down_and_reinstall_show_progress_then_the_result(page, live_server, customer, queued):
    cache.clear()
    service = _vps(customer)
    browser_log_in(page, live_server.url, email=customer.user.email, password=PASSWORD)
    page.goto(f"{live_server.url}/services/{service.pk}/")
    assert page.get_by_test_id("vps-state").inner_text() == "Running"
    _shot(page, "1280")

    page.get_by_test_id("action-shutdown").click()
    status = page.locator('[data-testid="action-status"][data-status="pending"]')
    status.wait_for()
    assert "Queued" in status.inner_text()
    _worker_runs_the_last_action(queued)
    done = page.locator('[data-testid="action-status"][data-status="succeeded"]')
    done.wait_for()
    assert "The server is shutting down." in done.inner_text()
    # once it ended htmx loaded the page showing it: the whole section has the new state
    assert page.url.endswith(f"/services/{service.pk}/?op={queued[-1]}#action-status")
    assert page.get_by_test_id("vps-state").inner_text() == "Stopped"

    page.get_by_test_id("vps-template").select_option(label="Ubuntu 24.04 LTS")
    page.get_by_test_id("confirm-reinstall").fill("REINSTALL")
    page.get_by_test_id("action-reinstall").click()
    page.locator('[data-testid="action-status"][data-status="pending"]').wait_for()
    _worker_runs_the_last_action(queued)
    page.locator('[data-testid="action-status"][data-status="succeeded"]').wait_for()
    secret = page.get_by_test_id("action-secret").inner_text()
    assert "Root password:" in secret
    assert "Ubuntu 24.04 LTS" in page.get_by_test_id("action-status").inner_text()
    _shot(page, "reinstalled-1280")
    reinstall = ProvisioningOperation.objects.get(pk=queued[-1])
    assert reinstall.secret_result == {}  # shown once, then gone

    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(f"{live_server.url}/services/{service.pk}/")
    assert page.get_by_test_id("vps-state").inner_text() == "Running"  # the reinstall booted it
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    _shot(page, "375")
