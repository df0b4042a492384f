"""Playwright fixtures for browser tests: Debian's Chromium, headless, no downloads.

Registered as a pytest plugin from the root conftest. A failing test leaves a full-page
screenshot in test-artifacts/<test name>.png.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread while it is open;
    # the database work pytest-django and the tests do meanwhile is still plain synchronous
    # code, so Django's async-safety guard is relaxed for exactly that span (one module).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        yield from _launch(sync_playwright)
    finally:
        if previous is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def _launch(sync_playwright) -> Iterator:
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
            headless=True,
            args=CHROMIUM_ARGS,
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser, request) -> Iterator:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def browser_log_in(
    page,
    base_url: str,
    *,
    email: str,
    password: str,
    code: Callable[[], str] | None = None,
    path: str = "/accounts/login/",
    lands_on: str = "/",
) -> None:
    """Log in through the login page (`path`; the admin's is /admin/login/) and wait for
    `lands_on`. A user with a second factor then gets the code prompt: `code` gives the
    code to type (for staff, e.g. `accounts.tests.second_factor.totp_code` of a device).
    """
    page.goto(f"{base_url}{path}")
    page.locator("#id_username").fill(email)
    page.locator("#id_password").fill(password)
    page.get_by_role("button", name="Log in").click()
    if code is not None:
        browser_enter_code(page, code())
    page.wait_for_url(f"{base_url}{lands_on}")


def browser_enter_code(page, code: str) -> None:
    """On the second-factor prompt: type the code and submit it."""
    page.locator("#id_code").fill(code)
    page.get_by_role("button", name="Verify").click()
