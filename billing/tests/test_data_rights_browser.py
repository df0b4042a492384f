"""Data rights in a real browser (Chromium): a customer prepares and downloads their
archive (issue 16, acceptance 3; desktop and phone), and staff erase a customer through the
confirmation page; screenshots at 1280 and 375 px go to $SCREENSHOT_DIR when it is set."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from accounts.models import Customer
from accounts.tests.factories import PASSWORD
from accounts.tests.helpers import staff_user
from accounts.tests.second_factor import browser_staff_log_in
from billing_portal.common.browser import browser_log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 375, "height": 740}


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "data_exports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "exports")},
        },
    }


def _shot(page, name: str) -> None:
    folder = os.environ.get("SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"data-{name}.png"), full_page=True)


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])
def test_a_customer_prepares_and_downloads_their_archive(
    page, live_server, customer, invoice_factory, viewport
):
    invoice = invoice_factory(customer, "12.00")
    if viewport:
        page.set_viewport_size(viewport)
    size = "phone" if viewport else "desktop"
    browser_log_in(page, live_server.url, email=customer.user.email, password=PASSWORD)
    page.goto(f"{live_server.url}/accounts/data/")
    _shot(page, f"empty-{size}")
    page.get_by_role("button", name="Prepare my archive").click()
    # Tasks run in-process after commit here, so the archive is ready on the next page.
    page.get_by_test_id("export-download").wait_for()
    _shot(page, f"ready-{size}")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    with page.expect_download() as download_info:
        page.get_by_test_id("export-download").click()
    download = download_info.value
    assert download.suggested_filename.startswith("my-data-")
    archive = zipfile.ZipFile(io.BytesIO(Path(download.path()).read_bytes()))
    assert f"invoices/{invoice.number}.pdf" in archive.namelist()


def test_staff_erase_a_customer_on_the_confirmation_page(page, live_server, customer):
    staff = staff_user("view_customer", "erase_customer")  # password: PASSWORD (factory)
    browser_staff_log_in(page, live_server.url, staff)
    page.goto(f"{live_server.url}/admin/accounts/customer/{customer.pk}/change/")
    page.get_by_role("link", name="Erase personal data").click()
    page.locator("#id_email").fill(customer.user.email)
    _shot(page, "erase-desktop")
    page.set_viewport_size(PHONE)
    _shot(page, "erase-phone")
    page.get_by_role("button", name="Erase personal data").click()
    page.get_by_text("The customer's personal data was erased.").wait_for()
    assert Customer.objects.get(pk=customer.pk).erased_at is not None
