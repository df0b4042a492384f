"""The staff dashboard in a real browser (Chromium): staff log in and land on it, first with
no data (the empty states), then with the hand-built business of data.py (figures, each
chart drawn, its numbers one click away, an attention item leading to its list); no
Content-Security-Policy violation; the page fits 1280 and 375 px screens (screenshots in
test-artifacts/, not committed)."""

from __future__ import annotations

import pytest
import time_machine

from accounts.tests.factories import UserFactory
from accounts.tests.second_factor import browser_staff_log_in
from billing_portal.common.browser import ARTIFACTS
from billing_portal.tests.test_csp_browser import violations  # noqa: F401 (a fixture)
from provisioning.models import Server
from reports.tests.data import NOW, build_business

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENS = (("1280", {"width": 1280, "height": 900}), ("375", {"width": 375, "height": 740}))

# What sticks out to the right of the window (to name it when the page is too wide).
WIDE = """[...document.querySelectorAll("body *")]
  .map((e) => [e.getBoundingClientRect().left + e.scrollWidth, `${e.tagName}#${e.id}`])
  .sort((a, b) => b[0] - a[0]).slice(0, 5)"""


def _screenshots(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for size, viewport in SCREENS:
        page.set_viewport_size(viewport)
        page.reload()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        wide = page.evaluate(WIDE)
        assert overflow <= 0, f"the dashboard is {overflow} px too wide at {size} px: {wide}"
        page.screenshot(path=str(ARTIFACTS / f"{name}-{size}.png"), full_page=True)
    page.set_viewport_size(SCREENS[0][1])


def test_staff_land_on_the_dashboard_empty_then_with_figures_and_charts(
    page,
    live_server,
    violations,  # noqa: F811
):
    with time_machine.travel(NOW, tick=True):
        Server.objects.update(is_active=False)  # the DNS group's, from a migration: not counted
        staff = UserFactory(is_staff=True, is_superuser=True)
        browser_staff_log_in(page, live_server.url, staff)  # lands on /admin/
        page.get_by_role("heading", name="Needs attention today").wait_for()
        assert page.locator("#figures-empty").is_visible()
        assert page.locator(".chart-empty").count() == 5
        assert page.locator("#content-main").is_visible()  # the app list, below
        _screenshots(page, "admin-dashboard-empty")

        build_business()
        page.reload()
        assert "35.00 USD" in page.locator("#mrr-usd").inner_text()
        assert "down" in page.locator("#mrr-usd").inner_text()
        images = page.locator("img.chart-image")
        assert images.count() == 6
        for n in range(images.count()):  # each SVG decoded and drawn
            assert images.nth(n).evaluate("(img) => img.complete && img.naturalWidth > 0")
        ageing = page.locator("#chart-ageing")
        ageing.get_by_text("The numbers").click()
        assert "31-60 days" in ageing.locator("table").inner_text()
        assert "160.00 (2)" in ageing.locator("table").inner_text()
        _screenshots(page, "admin-dashboard")

        page.locator("#attention-failed_operations a").click()
        page.wait_for_url("**/provisioningoperation/?status__exact=failed")
        assert page.locator("#result_list tbody tr").count() == 1
    assert violations == []
