"""The knowledge base and announcements in a real browser (Chromium): the empty states, the
dashboard's announcements, the categories, a search by a word of an article's body, the
article, the new-ticket form's suggestions appearing as the subject is typed (the local
script, under the CSP: no violation logged), and the announcements page. Screenshots at 1280
and 375 px go to $SCREENSHOT_DIR when it is set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.utils import timezone

from accounts.tests.factories import PASSWORD
from billing_portal.common.browser import browser_log_in
from support.models import Announcement, Article, ArticleCategory
from support.services import article_save
from support.tests.helpers import department

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {"1280": (1280, 900), "375": (375, 740)}


def _shots(page, name: str) -> None:
    folder = os.environ.get("SCREENSHOT_DIR")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    for label, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(Path(folder) / f"kb-{name}-{label}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def _seed() -> None:
    hosting = ArticleCategory.objects.create(
        name="Web hosting", slug="hosting", description="Uploading your site, email, the panel."
    )
    billing = ArticleCategory.objects.create(
        name="Billing and invoices", slug="billing", description="Paying, credit, refunds."
    )
    for category, title, summary, body in (
        (hosting, "Uploading your website's files", "File manager or SFTP.",
         "Open **File manager** in the panel, or connect with SFTP on port 22.\n\n"
         "1. Open your service\n2. Choose *Open control panel*\n3. Upload into `public_html`"),
        (hosting, "Email to my domain bounces", "Check the MX record.",
         "Mail bounces when the domain's MX record points elsewhere."),
        (billing, "Paying an invoice with account credit", "Credit first, then a card.",
         "Add credit under *Billing & credits*, then pay the invoice with it."),
    ):  # fmt: skip
        article_save(
            article=Article(
                category=category,
                title=title,
                slug=title.lower().replace(" ", "-").replace("'", ""),
                summary=summary,
                body=body,
                status=Article.Status.PUBLISHED,
            )
        )
    now = timezone.now()
    Announcement.objects.create(
        title="Planned network maintenance",
        body="On **Sunday** from 02:00 to 03:00 UTC servers may be unreachable for a minute.",
        essential=True,
        publish_at=now - timezone.timedelta(hours=1),
    )
    Announcement.objects.create(
        title="A new data centre in Frankfurt",
        body="Order VPS and game servers in *Frankfurt* from today.",
        publish_at=now - timezone.timedelta(days=3),
    )


def test_the_knowledge_base_and_announcements_pages(page, live_server, customer):
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    department("Technical")
    browser_log_in(page, live_server.url, email=customer.user.email, password=PASSWORD)

    # empty states
    page.goto(f"{live_server.url}/support/kb/")
    page.get_by_text("No articles yet").wait_for()
    _shots(page, "index-empty")
    page.goto(f"{live_server.url}/support/announcements/")
    page.get_by_text("No announcements yet").wait_for()
    _shots(page, "announcements-empty")

    _seed()
    page.goto(f"{live_server.url}/")
    dashboard = page.get_by_test_id("dashboard-announcements")
    assert "Planned network maintenance" in dashboard.inner_text()
    _shots(page, "dashboard")

    page.goto(f"{live_server.url}/support/kb/")
    assert "2 articles" in page.get_by_test_id("kb-categories").inner_text()
    _shots(page, "index")
    page.get_by_label("Search the knowledge base").fill("SFTP")
    page.get_by_role("button", name="Search").click()
    page.get_by_test_id("kb-result-count").wait_for()
    assert page.get_by_test_id("kb-articles").inner_text().count("\n") == 1  # one article
    _shots(page, "search")
    page.get_by_role("link", name="Uploading your website's files").click()
    page.get_by_test_id("kb-article").wait_for()
    assert "public_html" in page.get_by_test_id("kb-article").inner_text()
    _shots(page, "article")
    page.goto(f"{live_server.url}/support/kb/category/hosting/")
    _shots(page, "category")

    # the new-ticket form suggests articles as the subject is typed
    page.goto(f"{live_server.url}/support/new/")
    suggestions = page.get_by_test_id("kb-suggestions")
    assert suggestions.is_hidden()
    page.get_by_label("Subject").press_sequentially("My email bounces")
    suggestions.get_by_role("link", name="Email to my domain bounces").wait_for()
    _shots(page, "ticket-form")

    page.goto(f"{live_server.url}/support/announcements/")
    assert "Service notice" in page.get_by_test_id("announcements").inner_text()
    _shots(page, "announcements")
    assert violations == []
