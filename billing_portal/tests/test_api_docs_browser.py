"""The API docs (/api/docs/, Swagger UI from drf-spectacular-sidecar) in Chromium: the page
renders the schema's operations under the portal's Content-Security-Policy (no violation,
no console error), every request it makes stays on this machine (no CDN), and screenshots
at desktop and phone widths are left in test-artifacts/ to look at."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from billing_portal.common.browser import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportViolation(`${event.effectiveDirective} blocked ${event.blockedURI || "inline"}`);
});
"""
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


@pytest.mark.parametrize("width", [1280, 375])
def test_the_docs_render_the_operations_from_local_assets_only(page, live_server, width):
    requested: list[str] = []
    problems: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    def report(text: str) -> None:
        problems.append(text)

    page.expose_function("reportViolation", report)
    page.add_init_script(REPORT_VIOLATIONS)
    page.set_viewport_size({"width": width, "height": 900})

    page.goto(f"{live_server.url}/api/docs/")
    page.locator(".opblock").first.wait_for()

    summaries = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/v1/invoices/" in text for text in summaries)
    assert any("/api/v1/me/" in text for text in summaries)
    assert "API" in page.locator(".swagger-ui .info .title").inner_text()

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"api-docs-{width}.png"), full_page=False)

    # data: URLs (Swagger UI's inline icons) never leave the page; anything else must be us.
    away = [
        url
        for url in requested
        if urlsplit(url).scheme != "data" and urlsplit(url).hostname not in LOCAL_HOSTS
    ]
    assert away == [], f"requests that left the machine: {away}"
    assert any("/static/drf_spectacular_sidecar/" in url for url in requested)
    assert any("/api/schema/" in url for url in requested)
    assert problems == []
