"""Demo data of the support desk for `manage.py seed_demo`: canned responses and one answered
ticket of the demo customer. Idempotent (the ticket by its request key, responses by title)."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser

from accounts.models import Customer
from support.models import CannedResponse, Department, Ticket
from support.services import ticket_open, ticket_reply_by_staff

DEMO_TICKET_KEY = "demo-first-ticket"
CANNED = {
    "Looking into it": "Thanks for the details, we are looking into it and will update this "
    "ticket as soon as we know more.",
    "Solved? Close it": "This should be solved now. If it is, you can close the ticket; if "
    "not, just reply here.",
}


def support_seed(*, customer: Customer, staff: AbstractBaseUser) -> None:
    for title, body in CANNED.items():
        CannedResponse.objects.get_or_create(title=title, defaults={"body": body})
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
