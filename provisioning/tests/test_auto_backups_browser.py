"""Automatic backups on a service's page in Chromium: the last backup and its time, and the
customer turning them off and on again, the box answering in place (htmx, no reload).
Screenshots at 1280 and 375 px go to $SCREENSHOT_DIR when it is set."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from accounts.tests.factories import PASSWORD
from billing_portal.common.browser import browser_log_in
from provisioning.models import AutomaticBackup, ProductBackupPolicy, ServiceBackupSetting
from provisioning.tests.factories import ServerFactory, service_on

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _shot(page, name: str) -> None:
    folder = os.environ.get("SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"backups-{name}.png"), full_page=True)


def test_the_customer_sees_the_last_backup_and_turns_them_off_and_on_in_place(
    page, live_server, customer
):
    sandbox = ServerFactory(module="sandbox", location="Frankfurt am Main")
    service = service_on(
        sandbox, customer=customer, status="active", external_id="site-1", domain="blog.example"
    )
    service.product.module_settings = {"stands_in_for": "wordpress"}
    service.product.save()
    ProductBackupPolicy.objects.create(product=service.product, keep=3)
    made = timezone.now().replace(hour=0, minute=7, second=0, microsecond=0)
    AutomaticBackup.objects.create(
        service=service,
        slot=made.date() - timedelta(days=1),
        name="AUTO-yesterday",
        status="succeeded",
        backup_id="b1",
        finished_at=made - timedelta(days=1),
    )
    AutomaticBackup.objects.create(
        service=service,
        slot=made.date(),
        name=f"AUTO{made:%Y%m%d}-2",
        status="succeeded",
        backup_id="b2",
        finished_at=made,
    )

    browser_log_in(page, live_server.url, email=customer.user.email, password=PASSWORD)
    page.goto(f"{live_server.url}/services/{service.pk}/")
    box = page.get_by_test_id("auto-backups")
    assert box.get_by_test_id("auto-backups-state").inner_text() == "On, daily"
    assert f"{made:%Y-%m-%d} 00:07 UTC" in box.get_by_test_id("auto-backups-last").inner_text()
    _shot(page, "on-1280")

    page.evaluate("window.notReloaded = true")
    box.get_by_test_id("auto-backups-off").click()
    page.get_by_text("Automatic backups are off.").wait_for()
    assert page.get_by_test_id("auto-backups-state").inner_text() == "Off"
    assert page.evaluate("window.notReloaded") is True  # swapped in place
    assert ServiceBackupSetting.objects.get(service=service).enabled is False
    _shot(page, "off-1280")

    page.set_viewport_size({"width": 375, "height": 740})
    page.get_by_test_id("auto-backups-on").click()
    page.get_by_text("Automatic backups are on.").wait_for()
    assert page.get_by_test_id("auto-backups-state").inner_text() == "On, daily"
    assert ServiceBackupSetting.objects.get(service=service).enabled is True
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    page.get_by_test_id("auto-backups").scroll_into_view_if_needed()
    _shot(page, "on-375")
