"""The kernel's own tables: the transactional outbox (see billing_portal/common/outbox.py),
the portal's backups of itself (billing_portal/common/backups.py), the audit log
(billing_portal/common/audit.py); and the abstract `Operation` every outbound operation model
inherits (billing_portal/common/operations.py)."""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone

from billing_portal.common.audit_registry import audit_actions


class OutboxMessage(models.Model):
    """A task to publish, written in the transaction of the change that needs it, so it
    exists exactly when that change committed. `sent_at` is set once the broker took it;
    `consumed_at` by a task that must not repeat its effect (email), under the row lock.

    `headers` travel as message headers with `outbox_id` (a request id, for one)."""

    task_name = models.CharField(max_length=200)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    queue = models.CharField(max_length=100, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    dedupe_key = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    available_at = models.DateTimeField(default=timezone.now)  # not before (a countdown)
    sent_at = models.DateTimeField(null=True, blank=True)
    consumed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)  # publishing attempts
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["dedupe_key"],
                condition=~models.Q(dedupe_key=""),
                name="common_outboxmessage_dedupe_key_unique",
            ),
            models.CheckConstraint(
                condition=~models.Q(task_name=""), name="common_outboxmessage_task_name_set"
            ),
        ]
        indexes = [
            # The relay's scan: unsent rows, oldest first.
            models.Index(
                fields=["id"],
                condition=models.Q(sent_at__isnull=True),
                name="common_outbox_unsent_idx",
            ),
        ]
        permissions = [("relay_outboxmessage", "Can publish outbox messages now")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.task_name}"


class PortalBackup(models.Model):
    """One run of `manage.py backup` (or its daily task): the file written, or why none was.
    Written when the run ends, so a backup never contains its own record. Also carries the
    permission to see the system status page and /metrics."""

    class Status(models.TextChoices):
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    status = models.CharField(max_length=10, choices=Status.choices)
    file_name = models.CharField(max_length=255, blank=True)
    size_bytes = models.PositiveBigIntegerField(default=0)
    database_vendor = models.CharField(max_length=20)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        permissions = [("monitor_system", "Can see the system status page and /metrics")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["succeeded", "failed"]),
                name="common_portalbackup_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(finished_at__gte=F("started_at")),
                name="common_portalbackup_finished_after_start",
            ),
            models.CheckConstraint(
                condition=Q(status="failed") | ~Q(file_name=""),
                name="common_portalbackup_success_has_file",
            ),
        ]

    def __str__(self) -> str:
        return f"Backup of {self.started_at:%Y-%m-%d %H:%M} ({self.get_status_display()})"


class AuditEvent(models.Model):
    """An append-only record of everything that moves money, changes a service or touches an
    account. `action` is one of the actions the apps declare in their `audit.py` (see
    billing_portal/common/audit_registry.py): the column has no choices, so a new action
    needs no migration; `audit_record` refuses an undeclared one."""

    created_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Frozen so the trail still says who acted after the user row changes or goes.
    actor_label = models.CharField(max_length=254, blank=True)
    # A lazy reference: the kernel never imports accounts.
    customer = models.ForeignKey(
        "accounts.Customer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_events",
    )
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    details = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The customer's activity and the staff list, newest first (and date ranges).
            models.Index(
                fields=["customer", "-created_at", "-id"], name="common_audit_customer_idx"
            ),
            models.Index(fields=["-created_at", "-id"], name="common_audit_created_idx"),
            models.Index(fields=["object_type", "object_id"], name="common_audit_object_idx"),
        ]
        constraints = [
            # The shape only: which actions exist is the apps' declaration, checked at start-up.
            models.CheckConstraint(
                condition=Q(action__contains=".") & Q(action=Lower("action")),
                name="common_auditevent_action_format",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} at {self.created_at:%Y-%m-%d %H:%M:%S} UTC"

    def get_action_display(self) -> str:
        """The declared label (what a `choices` field would show), or the stored value of an
        action no app declares any more."""
        return audit_actions.label(self.action)


class OperationStatus(models.TextChoices):
    """The states every outbound operation passes through (see common/operations.py).
    A concrete model may name them differently or add its own (cancelled, uncertain)."""

    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class Operation(models.Model):
    """One call to a system outside the portal, recorded before it is made and run by the
    kernel's runner (`billing_portal.common.operations`): claimed under its row lock,
    retried with backoff, failed with a staff alert, swept when lost or interrupted.

    Concrete models add their target and payload, and may redefine `status` (their own
    choices) or `idempotency_key` (their own length or default)."""

    status = models.CharField(
        max_length=10, choices=OperationStatus.choices, default=OperationStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    idempotency_key = models.CharField(max_length=300, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


# Outbound webhooks' tables live in a module of their own (billing_portal/common/webhooks.py
# documents them); importing them here makes them this app's models.
# Staff's wording of emails (billing_portal/common/email_overrides.py).
from billing_portal.common.email_models import EmailTemplateOverride  # noqa: E402
from billing_portal.common.webhook_models import (  # noqa: E402
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

__all__ = [
    "AuditEvent",
    "EmailTemplateOverride",
    "Operation",
    "OperationStatus",
    "OutboxMessage",
    "PortalBackup",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
