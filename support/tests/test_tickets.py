"""Tickets end to end: opening, replies, internal notes (never shown or emailed to the
customer), closing and reopening, auto-close with a moving clock, overdue alerts, priority
from a support key, attachments (limits, a disguised executable), isolation, and constant
queries on the list and a long conversation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.tests.factories import UserFactory
from billing_portal.common.audit import AuditEvent
from support import services
from support.errors import AttachmentRefused, TicketClosed, UnknownSupportKey
from support.models import Priority, Ticket, TicketMessage
from support.tasks import tickets_sweep_task
from support.tests.helpers import EXE, PNG, department, support_subscription, ticket_for, upload

pytestmark = pytest.mark.django_db

SECRET_NOTE = "Internal: customer is on the legacy node, do not promise a date"


@pytest.fixture
def staff():
    return UserFactory(is_staff=True, is_superuser=True, email="ada@staff.example")


def _actions(ticket: Ticket) -> list[str]:
    return list(
        AuditEvent.objects.filter(object_id=str(ticket.pk), object_type="support.ticket")
        .order_by("id")
        .values_list("action", flat=True)
    )


# --- the conversation --------------------------------------------------------------------


def test_open_reply_note_close_reopen(
    customer, client, staff, mailoutbox, django_capture_on_commit_callbacks
):
    department("Technical")
    # given: the customer opens a ticket from the form
    client.force_login(customer.user)
    form = client.get(reverse("support:ticket_create"))
    assert form.status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("support:ticket_create"),
            {
                "department": department().pk,
                "subject": "Server down",
                "body": "It stopped <script>alert(1)</script> at *noon*.",
                "support_key": "",
                "request_key": "k1",
            },
        )
    ticket = Ticket.objects.get(customer=customer)
    assert response.status_code == 302
    assert (ticket.status, ticket.priority, ticket.response_hours) == ("open", "normal", 24)
    assert ticket.response_due_at is not None
    to = sorted(address for m in mailoutbox for address in m.to)
    assert to == sorted([customer.user.email, "technical@localhost"])
    assert all("It stopped" in m.body for m in mailoutbox)
    assert any(reverse("support:ticket_detail", args=[ticket.pk]) in m.body for m in mailoutbox)
    mailoutbox.clear()

    # when staff add an internal note and a reply
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_reply_by_staff(
            staff=staff, ticket_id=ticket.pk, body=SECRET_NOTE, internal=True
        )
        services.ticket_reply_by_staff(
            staff=staff, ticket_id=ticket.pk, body="Restarted it for you."
        )
    ticket.refresh_from_db()
    # then the customer is emailed the reply only, and sees the reply but not the note
    assert [m.to for m in mailoutbox] == [[customer.user.email]]
    assert "Restarted it for you." in mailoutbox[0].body
    assert all(SECRET_NOTE not in m.body for m in mailoutbox)
    assert all(SECRET_NOTE not in str(m.alternatives) for m in mailoutbox)
    assert (ticket.status, ticket.assignee, ticket.response_due_at) == (
        "awaiting_customer",
        staff,
        None,
    )
    page = client.get(reverse("support:ticket_detail", args=[ticket.pk])).content.decode()
    assert "Restarted it for you." in page
    assert SECRET_NOTE not in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page
    assert "<em>noon</em>" in page

    # the customer replies: it awaits staff again, who are told
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("support:ticket_detail", args=[ticket.pk]),
            {"body": "Works, thanks!", "request_key": "r1"},
        )
        client.post(  # the same form sent twice adds one message
            reverse("support:ticket_detail", args=[ticket.pk]),
            {"body": "Works, thanks!", "request_key": "r1"},
        )
    ticket.refresh_from_db()
    assert ticket.status == "awaiting_staff"
    assert ticket.messages.filter(body="Works, thanks!").count() == 1
    assert [m.to for m in mailoutbox] == [[staff.email]]  # the assignee, now

    # close and reopen
    client.post(reverse("support:ticket_close", args=[ticket.pk]))
    ticket.refresh_from_db()
    assert ticket.status == "closed"
    assert ticket.closed_at is not None
    with pytest.raises(TicketClosed):
        services.ticket_reply_by_customer(customer=customer, ticket_id=ticket.pk, body="x")
    client.post(reverse("support:ticket_reopen", args=[ticket.pk]))
    ticket.refresh_from_db()
    assert ticket.status == "awaiting_staff"
    assert ticket.closed_at is None
    assert _actions(ticket) == [
        "ticket.opened",
        "ticket.note_added",
        "ticket.replied",
        "ticket.replied",
        "ticket.closed",
        "ticket.reopened",
    ]


def test_a_double_submitted_new_ticket_opens_one(customer):
    first = ticket_for(customer, request_key="same")
    again = ticket_for(customer, request_key="same")
    assert first.pk == again.pk
    assert Ticket.objects.filter(customer=customer).count() == 1


def test_bad_new_ticket_input_is_a_form_error_and_writes_nothing(customer, client):
    client.force_login(customer.user)
    response = client.post(
        reverse("support:ticket_create"),
        {"department": "99999", "subject": "x\x00", "body": "", "request_key": "k"},
    )
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"department", "subject", "body"}
    assert not Ticket.objects.exists()


# --- priority from a support subscription -------------------------------------------------


def test_a_support_key_gives_the_plan_priority_and_response_target(customer, client):
    subscription = support_subscription(customer, "SK-GOLD-1", priority="urgent", hours=2)
    client.force_login(customer.user)
    client.post(
        reverse("support:ticket_create"),
        {
            "department": department().pk,
            "subject": "Need help",
            "body": "Please",
            "support_key": "SK-GOLD-1",
            "request_key": "k1",
        },
    )
    ticket = Ticket.objects.get(customer=customer)
    assert (ticket.priority, ticket.response_hours, ticket.subscription) == (
        Priority.URGENT,
        2,
        subscription,
    )
    assert ticket.response_due_at - ticket.created_at == timedelta(hours=2)


def test_without_a_key_the_best_active_plan_counts_and_ended_ones_do_not(customer, other_customer):
    support_subscription(customer, "SK-1", priority="high", hours=8)
    support_subscription(customer, "SK-2", priority="low", hours=48)
    support_subscription(customer, "SK-3", priority="urgent", hours=1, status="terminated")
    assert ticket_for(customer).priority == Priority.HIGH
    assert ticket_for(other_customer).priority == Priority.NORMAL


def test_an_unknown_or_someone_elses_key_is_refused(customer, other_customer):
    support_subscription(other_customer, "SK-THEIRS")
    for key in ("SK-THEIRS", "nonsense"):
        with pytest.raises(UnknownSupportKey):
            ticket_for(customer, support_key=key)
    assert not Ticket.objects.exists()


# --- auto-close and overdue, by the sweep -------------------------------------------------


def test_auto_close_with_a_notice_before_on_a_moving_clock(
    customer, staff, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.SUPPORT_AUTO_CLOSE_DAYS, settings.SUPPORT_CLOSE_NOTICE_DAYS = 7, 2
    start = datetime(2026, 6, 1, 9, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        ticket = ticket_for(customer)
        services.ticket_reply_by_staff(staff=staff, ticket_id=ticket.pk, body="Can you try again?")
        mailoutbox.clear()

        clock.move_to(start + timedelta(days=4, hours=23))
        with django_capture_on_commit_callbacks(execute=True):
            tickets_sweep_task()
        assert mailoutbox == []

        clock.move_to(start + timedelta(days=5, minutes=1))
        with django_capture_on_commit_callbacks(execute=True):
            tickets_sweep_task()
            tickets_sweep_task()  # the notice goes once
        assert len(mailoutbox) == 1
        assert "2026-06-08" in mailoutbox[0].body
        ticket.refresh_from_db()
        assert ticket.status == "awaiting_customer"

        clock.move_to(start + timedelta(days=7, minutes=2))
        with django_capture_on_commit_callbacks(execute=True):
            tickets_sweep_task()
        ticket.refresh_from_db()
        assert ticket.status == "closed"
        assert len(mailoutbox) == 2
        assert "closed this ticket" in mailoutbox[1].body
    assert _actions(ticket)[-2:] == ["ticket.close_notice_sent", "ticket.auto_closed"]


def test_a_customer_reply_stops_the_auto_close(customer, staff, settings):
    start = datetime(2026, 6, 1, 9, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        ticket = ticket_for(customer)
        services.ticket_reply_by_staff(staff=staff, ticket_id=ticket.pk, body="Try again?")
        clock.move_to(start + timedelta(days=6))
        tickets_sweep_task()  # the notice
        services.ticket_reply_by_customer(customer=customer, ticket_id=ticket.pk, body="Still down")
        clock.move_to(start + timedelta(days=30))
        tickets_sweep_task()
    ticket.refresh_from_db()
    assert ticket.status == "awaiting_staff"
    assert ticket.close_notice_sent_at is None


def test_an_overdue_ticket_emails_its_department_once(
    customer, staff, mailoutbox, django_capture_on_commit_callbacks
):
    member = UserFactory(is_staff=True, email="tech@staff.example")
    member.groups.add(department().group)
    start = datetime(2026, 6, 1, 9, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        ticket = ticket_for(customer)
        mailoutbox.clear()
        clock.move_to(start + timedelta(hours=25))
        with django_capture_on_commit_callbacks(execute=True):
            tickets_sweep_task()
            tickets_sweep_task()
        ticket.refresh_from_db()
        assert ticket.is_overdue
    assert len(mailoutbox) == 1
    assert sorted(mailoutbox[0].to) == ["tech@staff.example", "technical@localhost"]
    assert "was due an answer" in mailoutbox[0].body


def test_the_staff_queue_marks_overdue_tickets(customer, client, staff):
    with time_machine.travel(datetime(2026, 6, 1, 9, tzinfo=UTC), tick=False):
        overdue = ticket_for(customer, subject="Old one")
    ticket_for(customer, subject="New one")
    client.force_login(staff)
    page = client.get(reverse("admin:support_ticket_changelist")).content.decode()
    assert page.count("ticket-overdue") == 1
    assert f"#{overdue.pk}" in page


# --- attachments --------------------------------------------------------------------------


def test_attachments_are_stored_and_served_only_to_the_customer_and_staff(
    customer, other_customer, client, staff
):
    ticket = ticket_for(customer, attachments=[upload("screen.png")])
    attachment = ticket.attachments.get()
    assert (attachment.name, attachment.content_type, attachment.size) == (
        "screen.png",
        "image/png",
        len(PNG),
    )
    assert attachment.file.name.endswith(".png")
    assert "screen" not in attachment.file.name
    url = reverse("support:attachment", args=[attachment.pk])

    client.force_login(customer.user)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="screen.png"')
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == PNG

    client.force_login(other_customer.user)
    assert client.get(url).status_code == 404
    client.logout()
    assert client.get(url).status_code == 302  # to the login page
    client.force_login(UserFactory(is_staff=True))  # staff without the right to see tickets
    assert client.get(url).status_code == 404
    client.force_login(staff)
    assert client.get(url).status_code == 200


def test_a_disguised_executable_and_other_types_are_refused(customer):
    for name, content in (
        ("invoice.pdf", EXE),  # a Windows program named as a PDF
        ("screen.png", b"%PDF-1.4 not a picture"),  # a PDF named as a picture
        ("run.exe", b"plain text"),  # text, but named to be run
        ("notes.txt", b"\x00\x01\x02binary"),  # unknown binary
        ("empty.txt", b""),
    ):
        with pytest.raises(AttachmentRefused):
            ticket_for(customer, attachments=[upload(name, content, "application/pdf")])
    assert not Ticket.objects.exists()
    ticket = ticket_for(customer, attachments=[upload("log.txt", "Fehler: ü\n".encode())])
    assert ticket.attachments.get().content_type == "text/plain"


def test_attachment_limits(customer, settings, client):
    settings.SUPPORT_ATTACHMENT_MAX_COUNT, settings.SUPPORT_ATTACHMENT_MAX_BYTES = 2, 100
    with pytest.raises(AttachmentRefused, match="at most 2"):
        ticket_for(customer, attachments=[upload(f"{n}.txt", b"hello") for n in range(3)])
    with pytest.raises(AttachmentRefused, match="larger than"):
        ticket_for(customer, attachments=[upload("big.txt", b"x" * 101)])
    client.force_login(customer.user)
    response = client.post(
        reverse("support:ticket_create"),
        {
            "department": department().pk,
            "subject": "Files",
            "body": "See attached",
            "attachments": [upload(f"{n}.txt", b"hello") for n in range(3)],
        },
    )
    assert response.status_code == 200
    assert "at most 2" in response.content.decode()
    assert not Ticket.objects.exists()


def test_an_internal_notes_attachment_is_not_served_to_the_customer(customer, client, staff):
    ticket = ticket_for(customer)
    services.ticket_reply_by_staff(
        staff=staff, ticket_id=ticket.pk, body="note", internal=True, attachments=[upload()]
    )
    client.force_login(customer.user)
    attachment = ticket.attachments.get()
    assert client.get(reverse("support:attachment", args=[attachment.pk])).status_code == 404


# --- isolation and queries ------------------------------------------------------------------


def test_customers_see_only_their_own_tickets(customer, other_customer, client):
    theirs = ticket_for(other_customer, subject="Their secret ticket")
    mine = ticket_for(customer, subject="My ticket")
    client.force_login(customer.user)
    listing = client.get(reverse("support:ticket_list")).content.decode()
    assert "My ticket" in listing
    assert "Their secret ticket" not in listing
    for name in ("support:ticket_detail",):
        assert client.get(reverse(name, args=[theirs.pk])).status_code == 404
    for name in ("support:ticket_detail", "support:ticket_close", "support:ticket_reopen"):
        assert client.post(reverse(name, args=[theirs.pk]), {"body": "hi"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "open"
    assert theirs.messages.count() == 1
    assert client.get(reverse("support:ticket_detail", args=[mine.pk])).status_code == 200


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_ticket_list_runs_the_same_queries_for_1_and_20_tickets(customer, client):
    client.force_login(customer.user)
    ticket_for(customer)
    one = _queries(client, reverse("support:ticket_list"))
    for n in range(19):
        ticket_for(customer, subject=f"Ticket {n}")
    assert _queries(client, reverse("support:ticket_list")) == one


def test_a_ticket_with_200_replies_runs_the_same_queries_as_one_with_2(customer, client, staff):
    ticket = ticket_for(customer, attachments=[upload()])
    services.ticket_reply_by_staff(
        staff=staff, ticket_id=ticket.pk, body="Hi", attachments=[upload()]
    )
    client.force_login(customer.user)
    url = reverse("support:ticket_detail", args=[ticket.pk])
    few = _queries(client, url)
    admin_client = client.__class__()
    admin_client.force_login(staff)
    admin_url = reverse("admin:support_ticket_change", args=[ticket.pk])
    _queries(admin_client, admin_url)  # the first admin page also loads the session's caches
    admin_few = _queries(admin_client, admin_url)
    TicketMessage.objects.bulk_create(
        TicketMessage(
            ticket=ticket,
            author_name="x",
            from_staff=n % 2 == 0,
            internal=n % 4 == 0,
            body=f"reply {n}",
        )
        for n in range(198)
    )
    assert _queries(client, url) == few
    assert _queries(admin_client, admin_url) == admin_few


# --- staff in the admin ----------------------------------------------------------------------


def test_staff_answer_from_the_ticket_page(
    customer, client, staff, mailoutbox, django_capture_on_commit_callbacks
):
    ticket = ticket_for(customer)
    services.ticket_reply_by_staff(
        staff=staff, ticket_id=ticket.pk, body=SECRET_NOTE, internal=True
    )
    client.force_login(staff)
    page = client.get(reverse("admin:support_ticket_change", args=[ticket.pk])).content.decode()
    assert SECRET_NOTE in page
    assert "internal note" in page
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:support_ticket_reply", args=[ticket.pk]),
            {"body": "On it.", "status": "on_hold", "request_key": "a1"},
        )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "on_hold"
    assert [m.to for m in mailoutbox] == [[customer.user.email]]


def test_merge_moves_the_conversation_and_closes_the_merged_ticket(customer, staff):
    first, second = ticket_for(customer, subject="One"), ticket_for(customer, subject="Two")
    assert services.ticket_merge(ticket_ids=[second.pk], into_id=first.pk, actor=staff) == 1
    second.refresh_from_db()
    assert (second.status, second.merged_into) == ("closed", first)
    assert first.messages.count() == 2


def test_a_merge_across_customers_is_refused(customer, other_customer, staff):
    mine, theirs = ticket_for(customer), ticket_for(other_customer)
    with pytest.raises(services.SupportError):
        services.ticket_merge(ticket_ids=[theirs.pk], into_id=mine.pk, actor=staff)
    assert mine.messages.count() == 1


def test_another_customers_service_is_refused(customer, other_customer):
    theirs = support_subscription(other_customer, "SK-X")
    with pytest.raises(services.SupportError, match="your services"):
        ticket_for(customer, service_id=theirs.pk)
    assert not Ticket.objects.exists()
