"""Issue 18 acceptance 1 and 2 on the demo data of `make run` (seed_demo, embedded defaults:
sandbox panels, tasks run in the process): the demo customer, who bought the demo support
plan and a hosting service with their demo credit, opens a ticket on the service; it carries
the support plan's priority; the demo staff user answers it in the admin; the customer is
emailed the answer and sees it on the ticket's page."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from accounts.models import User
from billing.management.commands.seed_demo import CUSTOMER_EMAIL, STAFF_EMAIL
from catalogue.models import Product
from provisioning.models import Service
from support.models import Department, Ticket

pytestmark = pytest.mark.django_db


def _order_and_pay(client: Client, slug: str, capture) -> Service:
    product = Product.objects.get(slug=slug)
    form = client.get(reverse("orders:product", args=[slug])).context["form"]
    data = {"cycle": "monthly", "place": "1"}
    data |= {name: "0" for name in form.fields if name.startswith("option_")}
    for name in ("domain", "hostname"):
        if name in form.fields:
            data[name] = "demo-shop.test"
    response = client.post(reverse("orders:product", args=[slug]), data)
    invoice = client.get(response.url).context
    with capture(execute=True):
        client.post(
            reverse("credits:pay_invoice", args=[invoice["invoice"].pk]),
            {"nonce": invoice["pay_nonce"]},
        )
    service = Service.objects.get(customer__user__email=CUSTOMER_EMAIL, product=product)
    assert service.status == "active"
    return service


def test_the_demo_customer_opens_a_ticket_on_a_service_and_gets_the_staff_answer(
    client, settings, mailoutbox, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())  # idempotent: one demo ticket
    demo = User.objects.get(email=CUSTOMER_EMAIL)
    assert Ticket.objects.filter(customer=demo.customer).count() == 1
    client.force_login(demo)
    _order_and_pay(client, "support-priority", capture)
    hosting = _order_and_pay(client, "hosting-directadmin", capture)

    # the customer opens a ticket from the service's page
    page = client.get(reverse("provisioning:service_detail", args=[hosting.pk])).content.decode()
    assert f"/support/new/?service={hosting.pk}" in page
    form = client.get(reverse("support:ticket_create"), {"service": hosting.pk}).context["form"]
    assert form.initial["service"] == hosting.pk
    mailoutbox.clear()
    with capture(execute=True):
        response = client.post(
            reverse("support:ticket_create"),
            {
                "department": Department.objects.get(name="Technical").pk,
                "subject": "Email to my domain bounces",
                "body": "Mail to info@demo-shop.test bounces since yesterday.",
                "service": hosting.pk,
                "request_key": form.initial["request_key"],
            },
        )
    ticket = Ticket.objects.get(customer=demo.customer, subject="Email to my domain bounces")
    assert response.url == reverse("support:ticket_detail", args=[ticket.pk])
    # acceptance 2: the demo support plan's priority and response target
    assert (ticket.service, ticket.priority, ticket.response_hours) == (hosting, "high", 2)
    assert ticket.subscription.product.slug == "support-priority"

    # the demo staff user answers in the admin
    staff = Client()
    staff.force_login(User.objects.get(email=STAFF_EMAIL))
    change = staff.get(reverse("admin:support_ticket_change", args=[ticket.pk]))
    assert "Mail to info@demo-shop.test bounces" in change.content.decode()
    key = change.context["reply_form"].initial["request_key"]
    mailoutbox.clear()
    with capture(execute=True):
        staff.post(
            reverse("admin:support_ticket_reply", args=[ticket.pk]),
            {"body": "The MX record was missing; it is back.", "status": "awaiting_customer",
             "request_key": key},
        )  # fmt: skip

    # the customer gets the email and sees the reply
    assert [m.to for m in mailoutbox] == [[CUSTOMER_EMAIL]]
    assert "The MX record was missing" in mailoutbox[0].body
    assert reverse("support:ticket_detail", args=[ticket.pk]) in mailoutbox[0].body
    shown = client.get(reverse("support:ticket_detail", args=[ticket.pk])).content.decode()
    assert "The MX record was missing; it is back." in shown
