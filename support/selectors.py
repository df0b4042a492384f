"""The support desk's reads, scoped by the caller: a customer's own tickets, messages
without internal notes and attachments of their own tickets; staff read everything."""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet

from accounts.models import Customer
from support.models import CannedResponse, Department, Ticket, TicketAttachment, TicketMessage


def departments_offered() -> QuerySet[Department]:
    return Department.objects.filter(is_active=True)


def ticket_list_for_customer(*, customer: Customer) -> QuerySet[Ticket]:
    """The customer's tickets, latest activity first (on support_ticket_cust_idx)."""
    return (
        Ticket.objects.filter(customer=customer)
        .select_related("department")
        .order_by("-last_message_at", "-id")
    )


def ticket_get_for_customer(*, customer: Customer, ticket_id: int) -> Ticket:
    """The customer's own ticket (DoesNotExist for anyone else's)."""
    return Ticket.objects.select_related("department", "service__product").get(
        pk=ticket_id, customer=customer
    )


def _with_attachments(messages: QuerySet[TicketMessage]) -> QuerySet[TicketMessage]:
    files = TicketAttachment.objects.order_by("id")
    return messages.prefetch_related(Prefetch("attachments", queryset=files))


def ticket_messages_for_customer(*, ticket: Ticket) -> QuerySet[TicketMessage]:
    """What the customer sees of the conversation: every message but internal notes."""
    rows = TicketMessage.objects.filter(ticket=ticket, internal=False).order_by("created_at", "id")
    return _with_attachments(rows)


def ticket_messages_for_staff(*, ticket: Ticket) -> QuerySet[TicketMessage]:
    """The whole conversation, internal notes included."""
    rows = TicketMessage.objects.filter(ticket=ticket).select_related("author")
    return _with_attachments(rows.order_by("created_at", "id"))


def attachment_get_for_customer(*, customer: Customer, attachment_id: int) -> TicketAttachment:
    """An attachment of the customer's own ticket, on a message they can see."""
    return TicketAttachment.objects.get(
        pk=attachment_id, ticket__customer=customer, message__internal=False
    )


def attachment_get(*, attachment_id: int) -> TicketAttachment:
    return TicketAttachment.objects.get(pk=attachment_id)


def canned_responses_for(*, ticket: Ticket) -> QuerySet[CannedResponse]:
    return CannedResponse.objects.filter(
        Q(department__isnull=True) | Q(department=ticket.department_id), is_active=True
    )
