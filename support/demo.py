"""Demo data of the support desk for `manage.py seed_demo`: canned responses, one answered
ticket of the demo customer, knowledge-base articles (one a draft) and an announcement.
Idempotent (the ticket by its request key, responses by title, articles and categories by
slug, the announcement by title)."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser

from accounts.models import Customer
from support.models import (
    Announcement,
    Article,
    ArticleCategory,
    CannedResponse,
    Department,
    Ticket,
)
from support.services import article_save, ticket_open, ticket_reply_by_staff

DEMO_TICKET_KEY = "demo-first-ticket"
CANNED = {
    "Looking into it": "Thanks for the details, we are looking into it and will update this "
    "ticket as soon as we know more.",
    "Solved? Close it": "This should be solved now. If it is, you can close the ticket; if "
    "not, just reply here.",
}


CATEGORIES = {
    "hosting": ("Web hosting", "Uploading your site, email accounts and the control panel."),
    "billing": ("Billing and invoices", "Paying, account credit, refunds and renewals."),
}
# slug: (category, title, summary, body, published)
ARTICLES = {
    "upload-website-files": (
        "hosting",
        "Uploading your website's files",
        "With the panel's file manager or over SFTP.",
        "Open your hosting service and choose **Open control panel**, then *File manager*: "
        "upload into `public_html`.\n\nFor many files use SFTP (FileZilla, WinSCP) with the "
        "login shown on your service's page, port 22.",
        True,
    ),
    "email-bounces": (
        "hosting",
        "Email to my domain bounces",
        "Check the domain's MX record first.",
        "When mail to your domain bounces, its **MX record** usually points elsewhere. In "
        "*DNS*, the domain needs an MX record pointing at your hosting server's mail name; "
        "changes take up to an hour to be seen everywhere.",
        True,
    ),
    "pay-with-credit": (
        "billing",
        "Paying an invoice with account credit",
        "Credit is applied first; the rest with another payment method.",
        "Add credit under *Billing & credits*. An unpaid invoice's page offers **Pay with "
        "credit**; if the credit does not cover it all, pay the rest with another payment method.",
        True,
    ),
    "refund-policy-draft": (
        "billing",
        "Refunds (draft)",
        "",
        "Staff are still writing this one: customers never see a draft.",
        False,
    ),
}
ANNOUNCEMENT_TITLE = "Welcome to the new support desk"


def kb_seed() -> None:
    categories = {}
    for position, (slug, (name, description)) in enumerate(CATEGORIES.items()):
        categories[slug], _ = ArticleCategory.objects.get_or_create(
            slug=slug, defaults={"name": name, "description": description, "position": position}
        )
    for slug, (category, title, summary, body, published) in ARTICLES.items():
        if Article.objects.filter(slug=slug).exists():
            continue
        status = Article.Status.PUBLISHED if published else Article.Status.DRAFT
        article_save(
            article=Article(
                slug=slug,
                category=categories[category],
                title=title,
                summary=summary,
                body=body,
                status=status,
            )
        )
    Announcement.objects.get_or_create(
        title=ANNOUNCEMENT_TITLE,
        defaults={
            "body": "Open a ticket from any service's page, and search the **knowledge "
            "base** for quick answers.",
        },
    )


def support_seed(*, customer: Customer, staff: AbstractBaseUser) -> None:
    for title, body in CANNED.items():
        CannedResponse.objects.get_or_create(title=title, defaults={"body": body})
    kb_seed()
    if Ticket.objects.filter(customer=customer, request_key=DEMO_TICKET_KEY).exists():
        return
    department = Department.objects.filter(is_active=True, name="Technical").first()
    department = department or Department.objects.filter(is_active=True).first()
    if department is None:  # staff removed every department
        return
    ticket = ticket_open(
        customer=customer,
        department_id=department.pk,
        subject="How do I upload my website?",
        body="Hello, I bought hosting. How do I **upload** my site's files?",
        request_key=DEMO_TICKET_KEY,
    )
    ticket_reply_by_staff(
        staff=staff,
        ticket_id=ticket.pk,
        body="Hi! Use the *File manager* of your hosting panel, or SFTP with the login on "
        "your service's page. Reply here if anything is unclear.",
        idempotency_key="demo-answer",
    )
