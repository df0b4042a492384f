"""The support desk's writes: opening a ticket, replies and internal notes, closing and
reopening, staff's assignment, moves, priority changes and merges, and the sweeps' per-ticket
work (auto-close notice, auto-close, overdue alert).

Each function owns its transaction, locks the tickets it changes (support/locks.py: tickets
are locked alone, last in the portal's order), writes an audit event and queues its emails
through the outbox with the transaction. Emails carry the message text and a link; internal
notes are never sent to the customer. A ticket's priority and response target come from the
customer's support subscription (an active service of the `support` module, named by its
support key or, without one, the customer's best plan) and otherwise from the defaults.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from accounts.models import Customer, User
from billing_portal.common.audit import audit_record
from billing_portal.common.emails import email_send_on_commit
from billing_portal.common.outbox import outbox_enqueue_many
from billing_portal.common.request import RequestMeta
from billing_portal.common.webhooks import WebhookEventType, webhook_emit
from provisioning.models import Service
from provisioning.selectors import service_get_for_customer, services_active_of_module
from support.attachments import CheckedFile, Upload, attachments_check
from support.audit import SupportAudit
from support.errors import (
    InboundRefused,
    InvalidTransition,
    SupportError,
    TicketClosed,
    UnknownSupportKey,
)
from support.inbound import inbound_parse
from support.locks import announcement_lock, ticket_lock, tickets_lock
from support.models import (
    TICKET_TRANSITIONS,
    Announcement,
    AnnouncementOptOut,
    Article,
    Department,
    Priority,
    Ticket,
    TicketAttachment,
    TicketMessage,
)
from support.tokens import ticket_reply_address, ticket_token

S = Ticket.Status
SUPPORT_MODULE = "support"
PRIORITY_RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}
BODY_MAX = 20_000
EMAIL = "support_ticket"  # templates/emails/support_ticket*.{txt,html}


# --- priority from a support subscription ----------------------------------------------------


@dataclass(frozen=True)
class SupportLevel:
    priority: str
    response_hours: int
    subscription: Service | None = None


def _plan_level(service: Service) -> SupportLevel:
    plan = service.product.module_settings or {}
    priority = str(plan.get("priority") or Priority.NORMAL).strip().lower()
    if priority not in Priority.values:
        priority = Priority.NORMAL
    try:
        hours = int(plan.get("response_hours") or settings.SUPPORT_DEFAULT_RESPONSE_HOURS)
    except (TypeError, ValueError):
        hours = settings.SUPPORT_DEFAULT_RESPONSE_HOURS
    return SupportLevel(priority, max(hours, 1), service)


def support_level_for(*, customer: Customer, support_key: str = "") -> SupportLevel:
    """The level a new ticket of `customer` gets: the plan of the subscription whose key was
    entered (UnknownSupportKey when it is none of theirs), else their best active plan, else
    the defaults."""
    subscriptions = services_active_of_module(customer=customer, module=SUPPORT_MODULE)
    key = support_key.strip()
    if key:
        for service in subscriptions:
            stored = str(service.secrets.get("support_key") or "")
            if stored and hmac.compare_digest(stored.encode(), key.encode()):
                return _plan_level(service)
        raise UnknownSupportKey()
    levels = [_plan_level(service) for service in subscriptions]
    if levels:
        return max(
            levels,
            key=lambda level: (PRIORITY_RANK[Priority(level.priority)], -level.response_hours),
        )
    return SupportLevel(Priority.NORMAL, settings.SUPPORT_DEFAULT_RESPONSE_HOURS)


# --- emails ------------------------------------------------------------------------------


def _customer_link(ticket: Ticket) -> str:
    return reverse("support:ticket_detail", args=[ticket.pk])


def _staff_link(ticket: Ticket) -> str:
    return reverse("admin:support_ticket_change", args=[ticket.pk])


def _email_context(
    ticket: Ticket, *, intro: str, body: str, path: str, label: str
) -> dict[str, Any]:
    return {
        "subject_line": f"[#{ticket.pk}] {ticket.subject}",
        "ticket_number": ticket.pk,
        "intro": intro,
        "body": body,
        "link_path": path,
        "link_label": label,
    }


def _email_customer(ticket: Ticket, *, intro: str, body: str = "") -> None:
    context = _email_context(
        ticket, intro=intro, body=body, path=_customer_link(ticket), label="View your ticket"
    )
    reply_to = ticket_reply_address(ticket.pk)
    if reply_to:  # the reference lets a reply find the ticket if the address is rewritten
        context["subject_line"] += f" [ref {ticket_token(ticket.pk)}]"
        context["reply_hint"] = "Reply to this email to answer; write above the quoted text."
    email_send_on_commit(
        to=[ticket.customer.user.email],
        name=EMAIL,
        context=context,
        reply_to=[reply_to] if reply_to else None,
    )


def _staff_recipients(ticket: Ticket, *, everyone: bool = False) -> list[str]:
    """The assignee, else the department's address; `everyone`: both, and the department
    group's members (an overdue alert)."""
    addresses: list[str] = []
    if ticket.assignee_id:
        assignee = User.objects.filter(pk=ticket.assignee_id, is_active=True).first()
        if assignee is not None:
            addresses.append(assignee.email)
    department = ticket.department
    if everyone or not addresses:
        addresses.append(department.email)
    if everyone and department.group_id:
        members = User.objects.filter(groups=department.group_id, is_active=True, is_staff=True)
        addresses.extend(members.values_list("email", flat=True))
    return sorted({address for address in addresses if address})


def _email_staff(ticket: Ticket, *, intro: str, body: str = "", everyone: bool = False) -> None:
    to = _staff_recipients(ticket, everyone=everyone)
    if to:
        context = _email_context(
            ticket, intro=intro, body=body, path=_staff_link(ticket), label="Open in staff admin"
        )
        email_send_on_commit(to=to, name=EMAIL, context=context)


# --- messages ------------------------------------------------------------------------------


def _name_of(user: AbstractBaseUser | None, customer: Customer | None) -> str:
    if customer is not None:
        return customer.name
    if isinstance(user, User):  # staff have no names here: their address's local part
        return user.email.split("@")[0].capitalize() or "Support"
    return "Support"


def _attach(ticket: Ticket, message: TicketMessage, files: Sequence[CheckedFile]) -> None:
    for checked in files:
        TicketAttachment.objects.create(
            ticket=ticket,
            message=message,
            file=checked.content,
            name=checked.name,
            content_type=checked.content_type,
            size=checked.size,
        )


def _add_message(
    ticket: Ticket,
    *,
    author: AbstractBaseUser | None,
    customer: Customer | None,
    body: str,
    internal: bool,
    source: str,
    idempotency_key: str,
    files: Sequence[CheckedFile],
) -> TicketMessage | None:
    """The new message, or None when its key was used on this ticket already (a repeat)."""
    if idempotency_key and ticket.messages.filter(idempotency_key=idempotency_key).exists():
        return None
    message = TicketMessage.objects.create(
        ticket=ticket,
        author=author if isinstance(author, User) else None,
        author_name=_name_of(author, customer),
        from_staff=customer is None,
        internal=internal,
        body=body,
        source=source,
        idempotency_key=idempotency_key,
    )
    _attach(ticket, message, files)
    return message


def _await_staff(ticket: Ticket, now: datetime) -> None:
    ticket.status = S.AWAITING_STAFF
    ticket.response_due_at = now + timedelta(hours=ticket.response_hours)
    ticket.overdue_alerted_at = None
    ticket.awaiting_customer_since = None
    ticket.close_notice_sent_at = None


def _await_customer(ticket: Ticket, now: datetime, status: str = S.AWAITING_CUSTOMER) -> None:
    ticket.status = status
    ticket.response_due_at = None
    ticket.overdue_alerted_at = None
    ticket.awaiting_customer_since = now if status == S.AWAITING_CUSTOMER else None
    ticket.close_notice_sent_at = None
    if status == S.CLOSED:
        ticket.closed_at = now


# --- customers and staff: opening, replying, closing, reopening -----------------------------


def _webhook_fields(ticket: Ticket) -> dict[str, object]:
    """What outbound webhooks say about a ticket (billing_portal/common/webhooks.py): no
    message text, which stays in the portal."""
    return {
        "customer_id": ticket.customer_id,
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": ticket.priority,
        "department_id": ticket.department_id,
        "last_message_at": ticket.last_message_at,
    }


def ticket_open(
    *,
    customer: Customer,
    department_id: int,
    subject: str,
    body: str,
    service_id: int | None = None,
    support_key: str = "",
    attachments: Sequence[Upload] = (),
    request_key: str = "",
    meta: RequestMeta | None = None,
) -> Ticket:
    """Open a ticket for the customer with its first message (a repeat of `request_key`
    returns the ticket it opened)."""
    if request_key:
        opened = Ticket.objects.filter(customer=customer, request_key=request_key).first()
        if opened is not None:
            return opened
    department = Department.objects.filter(pk=department_id, is_active=True).first()
    if department is None:
        raise SupportError("Choose one of the departments offered.")
    service = None
    if service_id is not None:
        try:
            service = service_get_for_customer(customer=customer, service_id=service_id)
        except Service.DoesNotExist as error:
            raise SupportError("Choose one of your services.") from error
    level = support_level_for(customer=customer, support_key=support_key)
    files = attachments_check(list(attachments))
    now = timezone.now()
    try:
        with transaction.atomic():
            ticket = Ticket(
                customer=customer,
                department=department,
                subject=subject,
                priority=level.priority,
                response_hours=level.response_hours,
                service=service,
                subscription=level.subscription,
                request_key=request_key,
                created_at=now,
                last_message_at=now,
            )
            _await_staff(ticket, now)
            ticket.status = S.OPEN
            ticket.save()
            _add_message(
                ticket,
                author=customer.user,
                customer=customer,
                body=body,
                internal=False,
                source=TicketMessage.Source.WEB,
                idempotency_key="",
                files=files,
            )
            audit_record(
                action=SupportAudit.TICKET_OPENED,
                actor=customer.user,
                customer=customer,
                target=ticket,
                meta=meta,
                details={
                    "department": department.name,
                    "priority": ticket.priority,
                    "subscription": level.subscription.pk if level.subscription else None,
                    "attachments": len(files),
                },
            )
            webhook_emit(WebhookEventType.TICKET_OPENED, ticket, **_webhook_fields(ticket))
            _email_customer(
                ticket, intro="We have received your ticket and will answer it soon.", body=body
            )
            _email_staff(
                ticket,
                intro=f"New {ticket.get_priority_display().lower()} priority ticket from "
                f"{customer.name} in {department.name}.",
                body=body,
            )
    except IntegrityError:  # the same form sent twice at once: the other request opened it
        return Ticket.objects.get(customer=customer, request_key=request_key)
    return ticket


def ticket_reply_by_customer(
    *,
    customer: Customer,
    ticket_id: int,
    body: str,
    attachments: Sequence[Upload] = (),
    idempotency_key: str = "",
    source: str = TicketMessage.Source.WEB,
    reopen: bool = False,
    meta: RequestMeta | None = None,
) -> TicketMessage | None:
    """The customer's reply: the ticket awaits staff again, who are emailed. A closed
    ticket takes a reply only with `reopen` (a reply by email reopens it). None: a repeat."""
    files = attachments_check(list(attachments))
    with transaction.atomic():
        ticket = ticket_lock(ticket_id, customer=customer)
        if ticket.is_closed and not reopen:
            raise TicketClosed()
        message = _add_message(
            ticket,
            author=customer.user,
            customer=customer,
            body=body,
            internal=False,
            source=source,
            idempotency_key=idempotency_key,
            files=files,
        )
        if message is None:
            return None
        was_closed = ticket.is_closed
        now = timezone.now()
        _await_staff(ticket, now)
        ticket.last_message_at, ticket.closed_at = now, None
        ticket.save()
        audit_record(
            action=SupportAudit.TICKET_REPLIED,
            actor=customer.user,
            customer=customer,
            target=ticket,
            meta=meta,
            details={"message": message.pk, "source": source, "reopened": was_closed},
        )
        webhook_emit(
            WebhookEventType.TICKET_REPLIED, ticket, by="customer", **_webhook_fields(ticket)
        )
        _email_staff(ticket, intro=f"{customer.name} replied to ticket #{ticket.pk}.", body=body)
    return message


def ticket_reply_by_staff(
    *,
    staff: AbstractBaseUser,
    ticket_id: int,
    body: str,
    internal: bool = False,
    status: str = S.AWAITING_CUSTOMER,
    attachments: Sequence[Upload] = (),
    idempotency_key: str = "",
    meta: RequestMeta | None = None,
) -> TicketMessage | None:
    """A staff reply (emailed to the customer; the ticket then awaits them, or is put on
    hold or closed with it) or an internal note (seen by staff only, changes nothing else).
    None: a repeat of `idempotency_key`."""
    if status not in (S.AWAITING_CUSTOMER, S.ON_HOLD, S.CLOSED):
        raise InvalidTransition(
            "A reply leaves the ticket awaiting the customer, on hold or closed."
        )
    files = attachments_check(list(attachments))
    with transaction.atomic():
        ticket = ticket_lock(ticket_id)
        message = _add_message(
            ticket,
            author=staff,
            customer=None,
            body=body,
            internal=internal,
            source=TicketMessage.Source.STAFF,
            idempotency_key=idempotency_key,
            files=files,
        )
        if message is None:
            return None
        if internal:
            action = SupportAudit.TICKET_NOTE_ADDED
        else:
            action = SupportAudit.TICKET_REPLIED
            now = timezone.now()
            _await_customer(ticket, now, status)
            ticket.last_message_at = now
            if ticket.assignee_id is None and isinstance(staff, User):
                ticket.assignee = staff  # who answers first takes it
            ticket.save()
            _email_customer(
                ticket, intro=f"{message.author_name} replied to your ticket.", body=body
            )
            webhook_emit(
                WebhookEventType.TICKET_REPLIED, ticket, by="staff", **_webhook_fields(ticket)
            )
        audit_record(
            action=action,
            actor=staff,
            customer=ticket.customer,
            target=ticket,
            meta=meta,
            details={"message": message.pk, "status": ticket.status},
        )
    return message


def ticket_close(
    *,
    ticket_id: int,
    actor: AbstractBaseUser,
    customer: Customer | None = None,
    meta: RequestMeta | None = None,
) -> Ticket:
    """Close the ticket (the customer's own when `customer` is given). Closing a closed one
    changes nothing."""
    with transaction.atomic():
        lookups = {"customer": customer} if customer is not None else {}
        ticket = ticket_lock(ticket_id, **lookups)
        if ticket.is_closed:
            return ticket
        _await_customer(ticket, timezone.now(), S.CLOSED)
        ticket.save()
        audit_record(
            action=SupportAudit.TICKET_CLOSED,
            actor=actor,
            customer=ticket.customer,
            target=ticket,
            meta=meta,
            details={"by": "customer" if customer is not None else "staff"},
        )
    return ticket


def ticket_reopen(*, ticket_id: int, customer: Customer, meta: RequestMeta | None = None) -> Ticket:
    """The customer reopens their closed ticket: it awaits staff again."""
    with transaction.atomic():
        ticket = ticket_lock(ticket_id, customer=customer)
        if not ticket.is_closed:
            return ticket
        if ticket.merged_into_id:
            raise SupportError(
                f"This ticket was merged into #{ticket.merged_into_id}: reply there."
            )
        _await_staff(ticket, timezone.now())
        ticket.closed_at = None
        ticket.save()
        audit_record(
            action=SupportAudit.TICKET_REOPENED,
            actor=customer.user,
            customer=customer,
            target=ticket,
            meta=meta,
        )
        _email_staff(ticket, intro=f"{customer.name} reopened ticket #{ticket.pk}.")
    return ticket


# --- staff: status, assignment, department, priority, merge ---------------------------------


def _staff_change(
    ticket_ids: Sequence[int],
    actor: AbstractBaseUser,
    action: SupportAudit,
    change: Any,
    meta: RequestMeta | None,
) -> int:
    """Apply `change(ticket) -> details or None` to each ticket, locked in id order, with an
    audit event for each it changed; the number changed."""
    changed = 0
    with transaction.atomic():
        for ticket in tickets_lock(list(ticket_ids)):
            details = change(ticket)
            if details is None:
                continue
            ticket.save()
            audit_record(
                action=action, actor=actor, customer=ticket.customer, target=ticket, meta=meta,
                details=details,
            )  # fmt: skip
            changed += 1
    return changed


def ticket_status_set(
    *,
    ticket_ids: Sequence[int],
    status: str,
    actor: AbstractBaseUser,
    meta: RequestMeta | None = None,
) -> int:
    """Staff set the status (on hold, awaiting staff, ...); closed ones reopen this way too."""
    if status not in S.values:
        raise InvalidTransition("Unknown status.")

    def change(ticket: Ticket) -> dict[str, Any] | None:
        if ticket.status == status or status not in TICKET_TRANSITIONS[ticket.status]:
            return None
        before = ticket.status
        now = timezone.now()
        if status == S.AWAITING_STAFF:
            _await_staff(ticket, now)
            ticket.closed_at = None
        else:
            _await_customer(ticket, now, status)
        return {"from": before, "to": status}

    return _staff_change(ticket_ids, actor, SupportAudit.TICKET_STATUS_CHANGED, change, meta)


def ticket_assign(
    *,
    ticket_ids: Sequence[int],
    assignee: User | None,
    actor: AbstractBaseUser,
    meta: RequestMeta | None = None,
) -> int:
    if assignee is not None and not (assignee.is_staff and assignee.is_active):
        raise SupportError("Tickets are assigned to active staff members only.")

    def change(ticket: Ticket) -> dict[str, Any] | None:
        if ticket.assignee_id == (assignee.pk if assignee else None):
            return None
        ticket.assignee = assignee
        return {"assignee": assignee.email if assignee else ""}

    return _staff_change(ticket_ids, actor, SupportAudit.TICKET_ASSIGNED, change, meta)


def ticket_move(
    *,
    ticket_ids: Sequence[int],
    department_id: int,
    actor: AbstractBaseUser,
    meta: RequestMeta | None = None,
) -> int:
    department = Department.objects.filter(pk=department_id).first()
    if department is None:
        raise SupportError("Choose a department.")

    def change(ticket: Ticket) -> dict[str, Any] | None:
        if ticket.department_id == department.pk:
            return None
        before = ticket.department.name
        ticket.department = department
        return {"from": before, "to": department.name}

    return _staff_change(ticket_ids, actor, SupportAudit.TICKET_MOVED, change, meta)


def ticket_priority_set(
    *,
    ticket_ids: Sequence[int],
    priority: str,
    actor: AbstractBaseUser,
    meta: RequestMeta | None = None,
) -> int:
    if priority not in Priority.values:
        raise SupportError("Choose a priority.")

    def change(ticket: Ticket) -> dict[str, Any] | None:
        if ticket.priority == priority:
            return None
        before, ticket.priority = ticket.priority, priority
        return {"from": before, "to": priority}

    return _staff_change(ticket_ids, actor, SupportAudit.TICKET_PRIORITY_CHANGED, change, meta)


def ticket_merge(
    *,
    ticket_ids: Sequence[int],
    into_id: int,
    actor: AbstractBaseUser,
    meta: RequestMeta | None = None,
) -> int:
    """Move the messages and attachments of `ticket_ids` into ticket `into_id` (of the same
    customer) and close them, pointing at it; the number merged."""
    sources = [pk for pk in ticket_ids if pk != into_id]
    merged = 0
    with transaction.atomic():
        locked = {ticket.pk: ticket for ticket in tickets_lock([*sources, into_id])}
        target = locked.get(into_id)
        if target is None:
            raise SupportError(f"There is no ticket #{into_id}.")
        for pk in sources:
            source = locked.get(pk)
            if source is None:
                continue
            if source.customer_id != target.customer_id:
                raise SupportError("Only tickets of the same customer can be merged.")
            TicketMessage.objects.filter(ticket=source).update(ticket=target)
            TicketAttachment.objects.filter(ticket=source).update(ticket=target)
            _await_customer(source, timezone.now(), S.CLOSED)
            source.merged_into = target
            source.save()
            target.last_message_at = max(target.last_message_at, source.last_message_at)
            audit_record(
                action=SupportAudit.TICKET_MERGED,
                actor=actor,
                customer=source.customer,
                target=source,
                meta=meta,
                details={"into": target.pk},
            )
            merged += 1
        target.save()
    return merged


# --- the sweeps' per-ticket work ---------------------------------------------------------


def _waiting_cutoff(days: int) -> datetime:
    return timezone.now() - timedelta(days=days)


def ticket_close_notice_send(*, ticket_id: int) -> bool:
    """Tell the customer their ticket closes soon, once per wait; whether it was sent."""
    notice_after = settings.SUPPORT_AUTO_CLOSE_DAYS - settings.SUPPORT_CLOSE_NOTICE_DAYS
    with transaction.atomic():
        ticket = ticket_lock(ticket_id)
        waiting = ticket.awaiting_customer_since
        if (
            ticket.status != S.AWAITING_CUSTOMER
            or ticket.close_notice_sent_at is not None
            or waiting is None
            or waiting > _waiting_cutoff(notice_after)
        ):
            return False
        ticket.close_notice_sent_at = timezone.now()
        ticket.save(update_fields=["close_notice_sent_at"])
        closes_on = waiting + timedelta(days=settings.SUPPORT_AUTO_CLOSE_DAYS)
        audit_record(
            action=SupportAudit.TICKET_CLOSE_NOTICE_SENT, customer=ticket.customer, target=ticket
        )
        _email_customer(
            ticket,
            intro="We are waiting for your answer. Without one, this ticket will be closed on "
            f"{timezone.localtime(closes_on):%Y-%m-%d}; reply to keep it open.",
        )
    return True


def ticket_auto_close(*, ticket_id: int) -> bool:
    """Close a ticket that has awaited its customer SUPPORT_AUTO_CLOSE_DAYS, its notice
    sent SUPPORT_CLOSE_NOTICE_DAYS before; whether closed."""
    with transaction.atomic():
        ticket = ticket_lock(ticket_id)
        waiting = ticket.awaiting_customer_since
        noticed = ticket.close_notice_sent_at
        if (
            ticket.status != S.AWAITING_CUSTOMER
            or waiting is None
            or waiting > _waiting_cutoff(settings.SUPPORT_AUTO_CLOSE_DAYS)
            or noticed is None
            or noticed > _waiting_cutoff(settings.SUPPORT_CLOSE_NOTICE_DAYS)
        ):
            return False
        _await_customer(ticket, timezone.now(), S.CLOSED)
        ticket.save()
        audit_record(
            action=SupportAudit.TICKET_AUTO_CLOSED,
            customer=ticket.customer,
            target=ticket,
            details={"days": settings.SUPPORT_AUTO_CLOSE_DAYS},
        )
        _email_customer(
            ticket,
            intro="We closed this ticket as we have not heard back. Reopen it from the portal "
            "if you still need help.",
        )
    return True


def ticket_overdue_alert(*, ticket_id: int) -> bool:
    """Email staff once about a ticket past its response target; whether they were."""
    with transaction.atomic():
        ticket = ticket_lock(ticket_id)
        due = ticket.response_due_at
        if (
            ticket.status not in (S.OPEN, S.AWAITING_STAFF)
            or ticket.overdue_alerted_at is not None
            or due is None
            or due > timezone.now()
        ):
            return False
        ticket.overdue_alerted_at = timezone.now()
        ticket.save(update_fields=["overdue_alerted_at"])
        audit_record(
            action=SupportAudit.TICKET_OVERDUE_ALERTED, customer=ticket.customer, target=ticket
        )
        _email_staff(
            ticket,
            intro=f"Ticket #{ticket.pk} ({ticket.get_priority_display()} priority) was due an "
            f"answer at {timezone.localtime(due):%Y-%m-%d %H:%M}.",
            everyone=True,
        )
    return True


SWEEP_BATCH = 500


@dataclass(frozen=True)
class SweepDue:
    close_notices: list[int]
    auto_closes: list[int]
    overdue: list[int]


def tickets_due() -> SweepDue:
    """The tickets each sweep step must handle now: three indexed queries, whatever the
    number of tickets (each step then runs per ticket in its own task)."""
    waiting = Ticket.objects.filter(status=S.AWAITING_CUSTOMER)
    notice_after = settings.SUPPORT_AUTO_CLOSE_DAYS - settings.SUPPORT_CLOSE_NOTICE_DAYS
    # Closed only once the notice has had its days (a notice sent late closes later).
    closes = waiting.filter(
        awaiting_customer_since__lte=_waiting_cutoff(settings.SUPPORT_AUTO_CLOSE_DAYS),
        close_notice_sent_at__lte=_waiting_cutoff(settings.SUPPORT_CLOSE_NOTICE_DAYS),
    ).order_by("awaiting_customer_since", "pk")
    notices = waiting.filter(
        awaiting_customer_since__lte=_waiting_cutoff(notice_after),
        close_notice_sent_at__isnull=True,
    ).order_by("awaiting_customer_since", "pk")
    overdue = Ticket.objects.filter(
        status__in=(S.OPEN, S.AWAITING_STAFF),
        response_due_at__lte=timezone.now(),
        overdue_alerted_at__isnull=True,
    ).order_by("response_due_at", "pk")
    return SweepDue(
        close_notices=list(notices.values_list("pk", flat=True)[:SWEEP_BATCH]),
        auto_closes=list(closes.values_list("pk", flat=True)[:SWEEP_BATCH]),
        overdue=list(overdue.values_list("pk", flat=True)[:SWEEP_BATCH]),
    )


# --- replies by email --------------------------------------------------------------------


def ticket_reply_from_email(*, raw: bytes) -> TicketMessage | None:
    """Add an emailed reply to the ticket its signed token names, as the ticket's customer:
    refused (InboundRefused, recorded in the audit log) without a valid token, from another
    address than the customer's, or with no new text. A closed ticket is reopened. None: the
    same email (Message-ID) was taken already."""
    email = inbound_parse(raw)
    ticket = (
        Ticket.objects.select_related("customer__user").filter(pk=email.ticket_id).first()
        if email.ticket_id is not None
        else None
    )
    if ticket is None:
        raise InboundRefused("The email names no ticket (its reference is missing or forged).")
    if ticket.merged_into_id:  # the conversation goes on where it was merged
        ticket = Ticket.objects.select_related("customer__user").get(pk=ticket.merged_into_id)
    if email.sender != ticket.customer.user.email.strip().lower():
        _refused(ticket, email.sender, "not the ticket's customer")
        raise InboundRefused(
            f"Mail from {email.sender} is not from ticket #{ticket.pk}'s customer."
        )
    if not email.text:
        raise InboundRefused("The email has no text above the quoted message.")
    if len(email.text) > BODY_MAX:
        raise InboundRefused("The email's text is too long.")
    return ticket_reply_by_customer(
        customer=ticket.customer,
        ticket_id=ticket.pk,
        body=email.text,
        attachments=email.files,
        idempotency_key=email.message_id,
        source=TicketMessage.Source.EMAIL,
        reopen=True,
    )


def _refused(ticket: Ticket, sender: str, reason: str) -> None:
    audit_record(
        action=SupportAudit.TICKET_EMAIL_REFUSED,
        customer=ticket.customer,
        target=ticket,
        details={"sender": sender[:200], "reason": reason},
    )


# --- knowledge base ----------------------------------------------------------------------


def article_save(*, article: Article) -> Article:
    """Save an article staff edited; publishing it dates it (the first time only, so its
    date stays when staff later fix a typo)."""
    if article.status == Article.Status.PUBLISHED and article.published_at is None:
        article.published_at = timezone.now()
    article.save()
    return article


# --- announcements -----------------------------------------------------------------------

ANNOUNCEMENT_EMAIL = "support_announcement"  # templates/emails/support_announcement*
ANNOUNCEMENT_BATCH = 200  # customers mailed per batch (one transaction, one outbox INSERT)
UNSUBSCRIBE_SALT = "support.announcements.unsubscribe"


def announcement_unsubscribe_token(customer_id: int) -> str:
    """The customer's unsubscribe link token: signed, so it names only that customer."""
    return signing.dumps(customer_id, salt=UNSUBSCRIBE_SALT, compress=True)


def announcement_unsubscribe_customer(token: str) -> Customer | None:
    """The customer a token names (None for a forged, altered or stale one)."""
    try:
        customer_id = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(customer_id, int):
        return None
    return Customer.objects.select_related("user").filter(pk=customer_id).first()


def _announcements_emailable(now: datetime) -> QuerySet[Announcement]:
    return Announcement.objects.filter(
        email_customers=True, emailed_at__isnull=True, is_draft=False, publish_at__lte=now
    )


def announcements_due_for_email() -> list[int]:
    """Published announcements whose email is not finished (the sweep queues each)."""
    due = _announcements_emailable(timezone.now()).order_by("publish_at", "id")
    return list(due.values_list("pk", flat=True)[:100])


def _announcement_recipients(announcement: Announcement) -> QuerySet[Customer]:
    customers = Customer.objects.filter(
        pk__gt=announcement.emailed_up_to, erased_at__isnull=True, user__is_active=True
    )
    if not announcement.essential:  # news: not to those who unsubscribed
        customers = customers.filter(announcement_opt_out__isnull=True)
    return customers.select_related("user").order_by("pk")


def _announcement_context(announcement: Announcement, customer: Customer) -> dict[str, Any]:
    return {
        "title": announcement.title,
        "body": announcement.body,
        "essential": announcement.essential,
        "link_path": reverse("support:announcement_list"),
        "unsubscribe_path": reverse(
            "support:announcement_unsubscribe",
            args=[announcement_unsubscribe_token(customer.pk)],
        ),
    }


def announcement_email_batch(*, announcement_id: int) -> bool:
    """Queue the next batch of an announcement's emails, once per customer: the batch's
    outbox rows and the moved cursor commit together. The first batch records that the
    mailing started; the last (short) one that it is done, with the count. Returns whether
    customers remain (the task then queues the next batch)."""
    now = timezone.now()
    with transaction.atomic():
        try:
            announcement = announcement_lock(announcement_id)
        except Announcement.DoesNotExist:
            return False
        if not _announcements_emailable(now).filter(pk=announcement.pk).exists():
            return False  # a draft again, moved to the future, or finished
        if announcement.email_started_at is None:
            announcement.email_started_at = now
            audit_record(action=SupportAudit.ANNOUNCEMENT_EMAIL_STARTED, target=announcement)
        batch = list(_announcement_recipients(announcement)[:ANNOUNCEMENT_BATCH])
        outbox_enqueue_many(
            "common.email_send",
            [
                {
                    "to": [customer.user.email],
                    "name": ANNOUNCEMENT_EMAIL,
                    "context": _announcement_context(announcement, customer),
                }
                for customer in batch
            ],
        )
        if batch:
            announcement.emailed_up_to = batch[-1].pk
            announcement.emailed_count += len(batch)
        more = len(batch) == ANNOUNCEMENT_BATCH
        if not more:
            announcement.emailed_at = now
            audit_record(
                action=SupportAudit.ANNOUNCEMENT_EMAILED,
                target=announcement,
                details={"recipients": announcement.emailed_count},
            )
        announcement.save(
            update_fields=["email_started_at", "emailed_up_to", "emailed_count", "emailed_at"]
        )
    return more


def announcement_subscription_set(
    *, customer: Customer, subscribed: bool, meta: RequestMeta | None = None
) -> bool:
    """Unsubscribe the customer from announcement emails, or subscribe them again (the
    essential ones are sent whatever they choose). Returns whether anything changed."""
    with transaction.atomic():
        if subscribed:
            changed = AnnouncementOptOut.objects.filter(customer=customer).delete()[0] > 0
            action = SupportAudit.ANNOUNCEMENT_RESUBSCRIBED
        else:
            changed = AnnouncementOptOut.objects.get_or_create(customer=customer)[1]
            action = SupportAudit.ANNOUNCEMENT_UNSUBSCRIBED
        if changed:
            audit_record(action=action, actor=customer.user, customer=customer, meta=meta)
    return changed
