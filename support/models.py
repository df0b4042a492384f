"""The support desk: departments, tickets, their messages and attachments, canned responses.

A ticket belongs to one customer and one department; its priority and response target come
from the customer's support subscription (a `support` service) when one is linked, else the
defaults. Messages are append-only; an internal note is a staff message the customer never
sees (the database refuses an internal note by a customer). Attachments belong to a message
and are stored through the `support_attachments` storage, outside the web root; the ticket is
kept on the attachment too so that the download view checks ownership in one query.

Status moves by the table below: a customer's message makes a ticket await staff, a staff
reply makes it await the customer (then auto-closed after SUPPORT_AUTO_CLOSE_DAYS), staff may
put it on hold, either side may close it and the customer may reopen it.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.files.storage import storages
from django.db import models
from django.db.models import Q
from django.utils import timezone


def attachment_storage():  # a callable: the storage is looked up when used (tests move it)
    return storages["support_attachments"]


class Department(models.Model):
    name = models.CharField(max_length=100, unique=True)
    email = models.EmailField(help_text="New tickets and replies are announced here.")
    group = models.ForeignKey(
        Group,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The staff who answer this department's tickets (emailed when overdue).",
    )
    is_active = models.BooleanField(
        "offered to customers", default=True, help_text="Inactive: no new tickets."
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class Priority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


class Ticket(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        AWAITING_STAFF = "awaiting_staff", "Awaiting staff"
        AWAITING_CUSTOMER = "awaiting_customer", "Awaiting customer"
        ON_HOLD = "on_hold", "On hold"
        CLOSED = "closed", "Closed"

    customer = models.ForeignKey(
        "accounts.Customer", on_delete=models.PROTECT, related_name="tickets"
    )
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="tickets")
    subject = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    response_hours = models.PositiveIntegerField(help_text="The response target, in hours.")
    response_due_at = models.DateTimeField(
        null=True, blank=True, help_text="When staff should have answered (empty: answered)."
    )
    service = models.ForeignKey(
        "provisioning.Service",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The customer's service the ticket is about.",
    )
    subscription = models.ForeignKey(
        "provisioning.Service",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The support subscription that set its priority.",
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        limit_choices_to={"is_staff": True},
    )
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged"
    )
    # A double-submitted new-ticket form opens one ticket.
    request_key = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_message_at = models.DateTimeField(default=timezone.now)
    awaiting_customer_since = models.DateTimeField(null=True, blank=True)
    close_notice_sent_at = models.DateTimeField(null=True, blank=True)
    overdue_alerted_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_message_at", "-id"]
        indexes = [
            # The customer's list, latest activity first.
            models.Index(
                fields=["customer", "-last_message_at", "-id"], name="support_ticket_cust_idx"
            ),
            # Staff's list (same order), and the sweeps' due tickets.
            models.Index(fields=["-last_message_at", "-id"], name="support_ticket_activity_idx"),
            models.Index(fields=["status", "response_due_at"], name="support_ticket_due_idx"),
            models.Index(
                fields=["status", "awaiting_customer_since"], name="support_ticket_waiting_idx"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "request_key"],
                condition=~Q(request_key=""),
                name="support_ticket_request_key_unique",
            ),
        ]
        permissions = [
            ("reply_ticket", "Can reply to tickets and add internal notes"),
            ("assign_ticket", "Can assign tickets to staff"),
            ("merge_ticket", "Can merge tickets"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"

    @property
    def is_closed(self) -> bool:
        return self.status == self.Status.CLOSED

    @property
    def is_overdue(self) -> bool:
        return (
            self.response_due_at is not None
            and not self.is_closed
            and self.response_due_at < timezone.now()
        )


_T = Ticket.Status
# Who may move a ticket where (services check it).
TICKET_TRANSITIONS: dict[str, frozenset[str]] = {
    _T.OPEN: frozenset({_T.AWAITING_STAFF, _T.AWAITING_CUSTOMER, _T.ON_HOLD, _T.CLOSED}),
    _T.AWAITING_STAFF: frozenset({_T.AWAITING_CUSTOMER, _T.ON_HOLD, _T.CLOSED}),
    _T.AWAITING_CUSTOMER: frozenset({_T.AWAITING_STAFF, _T.ON_HOLD, _T.CLOSED}),
    _T.ON_HOLD: frozenset({_T.AWAITING_STAFF, _T.AWAITING_CUSTOMER, _T.CLOSED}),
    _T.CLOSED: frozenset({_T.AWAITING_STAFF, _T.AWAITING_CUSTOMER}),  # reopened
}


class TicketMessage(models.Model):
    class Source(models.TextChoices):
        WEB = "web", "Client area"
        EMAIL = "email", "Email"
        STAFF = "staff", "Staff admin"
        SYSTEM = "system", "Portal"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_name = models.CharField(max_length=200, help_text="As shown, kept if the user goes.")
    from_staff = models.BooleanField(default=False)
    internal = models.BooleanField("internal note", default=False)
    body = models.TextField(help_text="Markdown, rendered without raw HTML.")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.WEB)
    # The form's one-time key, or the email's Message-ID: a repeat adds nothing.
    idempotency_key = models.CharField(max_length=250, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["ticket", "created_at", "id"], name="support_message_ticket_idx")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(internal=False) | Q(from_staff=True),
                name="support_ticketmessage_internal_by_staff",
            ),
            models.UniqueConstraint(
                fields=["ticket", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="support_ticketmessage_key_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.author_name} on #{self.ticket_id}"


class TicketAttachment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    message = models.ForeignKey(TicketMessage, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(storage=attachment_storage, upload_to="%Y/%m/", max_length=200)
    name = models.CharField(max_length=150, help_text="The file's name as uploaded, cleaned.")
    content_type = models.CharField(max_length=100, help_text="As told by the content.")
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class CannedResponse(models.Model):
    """A reply staff insert and edit before sending (per department, or for all)."""

    title = models.CharField(max_length=100)
    body = models.TextField(help_text="Markdown.")
    department = models.ForeignKey(
        Department,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="canned_responses",
        help_text="Empty: offered in every department.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["title", "id"]

    def __str__(self) -> str:
        return self.title


# --- knowledge base ----------------------------------------------------------------------


class ArticleCategory(models.Model):
    """A section of the knowledge base (staff-made, tens of rows)."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name", "id"]
        verbose_name_plural = "article categories"

    def __str__(self) -> str:
        return self.name


class Article(models.Model):
    """A knowledge-base article: Markdown rendered like ticket messages (no raw HTML).
    Customers only ever see published ones; a draft is staff's until they publish it."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    category = models.ForeignKey(ArticleCategory, on_delete=models.PROTECT, related_name="articles")
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    summary = models.CharField(max_length=300, blank=True, help_text="Shown in lists.")
    body = models.TextField(help_text="Markdown (no raw HTML, no images).")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    published_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "id"]
        indexes = [
            # A category's published articles by title (the client list).
            models.Index(
                fields=["category", "status", "title", "id"], name="support_article_cat_idx"
            ),
            # Staff's list, last edited first.
            models.Index(fields=["-updated_at", "-id"], name="support_article_updated_idx"),
            # The full-text index is added by migration 0003 on PostgreSQL only
            # (support.search.ARTICLE_VECTOR, an expression GIN index).
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="draft") | Q(published_at__isnull=False),
                name="support_article_published_has_date",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED


# --- announcements -----------------------------------------------------------------------


class Announcement(models.Model):
    """News for customers, shown from `publish_at` (a future date schedules it). With
    `email_customers`, it is emailed once when it is published, in batches: `emailed_up_to`
    is the last customer id a batch queued mail for, moved in the same transaction as the
    batch's outbox rows, so a retried batch never mails anyone twice. An essential notice
    (planned maintenance, a policy change) goes to every customer; any other only to those
    who did not unsubscribe from announcements."""

    title = models.CharField(max_length=200)
    body = models.TextField(help_text="Markdown (no raw HTML, no images).")
    publish_at = models.DateTimeField(
        default=timezone.now, help_text="Shown to customers from then (future: scheduled)."
    )
    is_draft = models.BooleanField(
        "draft", default=False, help_text="A draft is never shown nor emailed."
    )
    email_customers = models.BooleanField(
        default=False, help_text="Email it to customers when it is published (once)."
    )
    essential = models.BooleanField(
        default=False,
        help_text="A service notice every customer must get (sent even to those who "
        "unsubscribed from announcements).",
    )
    email_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    emailed_up_to = models.PositiveBigIntegerField(default=0, editable=False)
    emailed_count = models.PositiveIntegerField(default=0, editable=False)
    emailed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-publish_at", "-id"]
        indexes = [
            # The client list and the dashboard's latest (published up to now, newest first).
            models.Index(fields=["-publish_at", "-id"], name="support_announcement_pub_idx"),
            # The sweep's announcements due for email.
            models.Index(
                fields=["email_customers", "emailed_at", "publish_at"],
                name="support_announcement_mail_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_scheduled(self) -> bool:
        return self.publish_at > timezone.now()


class AnnouncementOptOut(models.Model):
    """A customer who unsubscribed from non-essential announcement emails."""

    customer = models.OneToOneField(
        "accounts.Customer", on_delete=models.CASCADE, related_name="announcement_opt_out"
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Opt-out of customer {self.customer_id}"
