"""A WordPress site's page in Chromium: the customer makes a backup on the sandbox and
follows it from queued to done in the status box, without a manual reload; screenshots at
1280 and 375 px (the phone layout has no sideways scroll)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection, transaction

from accounts.tests.factories import PASSWORD
from billing_portal.common import operations as kernel
from billing_portal.common.browser import browser_log_in
from provisioning.models import Service, SitePlan
from provisioning.tests.factories import ServerFactory, panel_product, service_on

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path("/work/wt/notes/shots")
WORKER_DELAY = 2.5  # seconds before "the worker" takes the operation, so progress shows


@pytest.fixture
def delayed_worker(monkeypatch):
    """Operations run a moment after commit in a thread of their own, as a worker would take
    them from the queue (eager tasks would finish inside the click's request)."""
    from provisioning.services import operation_run

    def run_later(operation_id: int) -> None:
        try:
            operation_run(operation_id=operation_id)
        finally:
            connection.close()

    def queue(kind, operation_id: int, countdown: float = 0) -> None:
        timer = threading.Timer(WORKER_DELAY + countdown, run_later, args=[operation_id])
        transaction.on_commit(timer.start)

    monkeypatch.setattr(kernel, "operation_queue", queue)


def test_a_backup_is_followed_from_queued_to_done_without_a_manual_reload(
    page, live_server, customer, delayed_worker
):
    cache.clear()
    # a transactional test's flush may have taken the migration's plans
    SitePlan.objects.get_or_create(
        name="basic", defaults={"memory_gb": 2, "disk_gb": 20, "backups": 2, "domains": 3}
    )
    server = ServerFactory(module="sandbox", location="Frankfurt")
    service = service_on(
        server,
        customer=customer,
        product=panel_product(server, stands_in_for="wordpress", plan="basic"),
        status=Service.Status.ACTIVE,
        external_id="sandbox-svc-browser",
    )
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser_log_in(page, live_server.url, email=customer.user.email, password=PASSWORD)
    page.goto(f"{live_server.url}/services/{service.pk}/")
    assert page.get_by_test_id("site-container").inner_text() == "Running"
    assert page.get_by_test_id("site-backups-quota").inner_text() == "0/2"

    page.get_by_test_id("action-create_backup").click()
    status = page.get_by_test_id("action-status")
    page.locator('[data-testid="action-status"][data-status="pending"]').wait_for()
    assert "Queued" in status.inner_text()
    page.screenshot(path=str(SHOTS / "wp-1280-progress.png"), full_page=True)
    page.locator('[data-testid="action-status"][data-status="succeeded"]').wait_for(timeout=20_000)
    assert "The backup is made." in status.inner_text()
    assert "BAK" in status.inner_text()
    assert "?op=" in page.url  # htmx polled the box, then loaded the page showing the result
    assert page.get_by_test_id("site-backups-quota").inner_text() == "1/2"
    page.screenshot(path=str(SHOTS / "wp-1280.png"), full_page=True)

    page.set_viewport_size({"width": 375, "height": 740})
    page.reload()
    assert page.get_by_test_id("site-backups-quota").inner_text() == "1/2"
    assert page.get_by_test_id("site-backup").inner_text().startswith("BAK")
    page.get_by_text("Roll back or delete").click()  # the typed confirmations
    page.get_by_test_id("confirm-rollback1").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    page.screenshot(path=str(SHOTS / "wp-375.png"), full_page=True)
