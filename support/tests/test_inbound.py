"""Replies by email: a raw message on stdin of `manage.py support_inbound` lands on the ticket
its signed token names, without the quoted text; a forged token, another sender or a repeat
is refused or ignored. The messages are built with the standard library's email package."""

from __future__ import annotations

import io
from email.message import EmailMessage

import pytest
from django.core.management import CommandError, call_command

from billing_portal.common.audit import AuditEvent
from support import services
from support.errors import InboundRefused
from support.tests.helpers import PNG, ticket_for
from support.tokens import ticket_reply_address, ticket_token

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _inbound(settings):
    settings.SUPPORT_INBOUND_ADDRESS = "support@desk.example"


def _reply(sender: str, to: str, text: str, *, subject: str = "Re: your ticket", **headers):
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = headers.get("message_id", "<reply-1@mail.example>")
    message.set_content(text)
    if headers.get("attachment"):
        message.add_attachment(PNG, maintype="image", subtype="png", filename="shot.png")
    return message.as_bytes()


QUOTED = (
    "It works again, thank you!\n\n"
    "On Mon, 1 Jun 2026 at 10:00, Support <support@desk.example> wrote:\n"
    "> We restarted your server.\n"
    "> -- Reply above this line --\n"
)


def _run(raw: bytes, monkeypatch) -> str:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(raw)))
    out = io.StringIO()
    call_command("support_inbound", stdout=out)
    return out.getvalue()


def test_a_reply_lands_on_its_ticket_without_the_quoted_text(customer, monkeypatch):
    ticket = ticket_for(customer)
    raw = _reply(
        f"Ada <{customer.user.email.upper()}>",
        ticket_reply_address(ticket.pk),
        QUOTED,
        attachment=True,
    )
    assert f"#{ticket.pk}" in _run(raw, monkeypatch)
    message = ticket.messages.order_by("-id").first()
    assert (message.body, message.source, message.from_staff) == (
        "It works again, thank you!",
        "email",
        False,
    )
    assert message.attachments.get().name == "shot.png"
    ticket.refresh_from_db()
    assert ticket.status == "awaiting_staff"
    # the same email delivered again adds nothing
    assert "Already taken" in _run(raw, monkeypatch)
    assert ticket.messages.count() == 2


def test_the_token_in_the_subject_is_enough_and_a_closed_ticket_reopens(customer):
    ticket = ticket_for(customer)
    services.ticket_close(ticket_id=ticket.pk, actor=customer.user, customer=customer)
    subject = f"Re: [#{ticket.pk}] Server down [ref {ticket_token(ticket.pk)}]"
    raw = _reply(customer.user.email, "support@desk.example", "Down again", subject=subject)
    services.ticket_reply_from_email(raw=raw)
    ticket.refresh_from_db()
    assert ticket.status == "awaiting_staff"
    assert ticket.messages.last().body == "Down again"


def test_a_forged_or_altered_token_is_refused(customer, monkeypatch):
    ticket = ticket_for(customer)
    token = ticket_token(ticket.pk)
    forged = f"{ticket.pk}.{'A' * 43}"
    other_ticket = f"{ticket.pk + 1}.{token.split('.')[1]}"
    for to in (f"support+{forged}@desk.example", f"support+{other_ticket}@desk.example", "x@y"):
        with pytest.raises(CommandError) as refused:
            _run(_reply(customer.user.email, to, "Hello"), monkeypatch)
        assert refused.value.returncode == 67
    assert ticket.messages.count() == 1


def test_mail_from_another_address_is_refused_and_recorded(customer, other_customer):
    ticket = ticket_for(customer)
    raw = _reply(other_customer.user.email, ticket_reply_address(ticket.pk), "Let me in")
    with pytest.raises(InboundRefused):
        services.ticket_reply_from_email(raw=raw)
    assert ticket.messages.count() == 1
    event = AuditEvent.objects.get(action="ticket.email_refused")
    assert event.details["sender"] == other_customer.user.email


def test_a_reply_with_only_quoted_text_is_refused(customer):
    ticket = ticket_for(customer)
    raw = _reply(customer.user.email, ticket_reply_address(ticket.pk), "> just the quote\n")
    with pytest.raises(InboundRefused, match="no text"):
        services.ticket_reply_from_email(raw=raw)


def test_customer_emails_carry_the_reply_address_and_internal_notes_none(
    customer, mailoutbox, django_capture_on_commit_callbacks
):
    from accounts.tests.factories import UserFactory

    staff = UserFactory(is_staff=True)
    with django_capture_on_commit_callbacks(execute=True):
        ticket = ticket_for(customer)
        services.ticket_reply_by_staff(
            staff=staff, ticket_id=ticket.pk, body="secret", internal=True
        )
        services.ticket_reply_by_staff(staff=staff, ticket_id=ticket.pk, body="Answer")
    to_customer = [m for m in mailoutbox if m.to == [customer.user.email]]
    assert len(to_customer) == 2  # the confirmation and the answer
    for message in to_customer:
        assert message.reply_to == [ticket_reply_address(ticket.pk)]
        assert ticket_token(ticket.pk) in message.subject
        assert "secret" not in message.body


def test_a_reply_to_a_merged_ticket_lands_on_the_ticket_it_was_merged_into(customer):
    from accounts.tests.factories import UserFactory

    kept, merged = ticket_for(customer, subject="Kept"), ticket_for(customer, subject="Merged")
    services.ticket_merge(ticket_ids=[merged.pk], into_id=kept.pk, actor=UserFactory(is_staff=True))
    raw = _reply(customer.user.email, ticket_reply_address(merged.pk), "Any news?")
    message = services.ticket_reply_from_email(raw=raw)
    assert message.ticket_id == kept.pk
