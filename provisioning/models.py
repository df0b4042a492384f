"""Customer services, the panel servers they live on, and the operations that change them.

A `Service` is one thing a customer bought: a product on a billing cycle at a locked-in
recurring amount. It starts `pending` when ordered and follows the state machine below as
the billing run and payments move it; `next_due_date` is the first day not yet paid for.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from billing_portal.common.crypto import EncryptedJSONField
from billing_portal.common.models import Operation
from billing_portal.common.money import currency_field, money_field
from catalogue.models import BillingCycle


class ServerGroup(models.Model):
    """Servers a product may be placed on, and how to choose among them."""

    class Strategy(models.TextChoices):
        LEAST_UTILISED = "least_utilised", "Least utilised first"
        FILL_FIRST = "fill_first", "Fill one server before the next"

    name = models.CharField(max_length=100, unique=True)
    strategy = models.CharField(
        max_length=20, choices=Strategy.choices, default=Strategy.LEAST_UTILISED
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ProductPlacement(models.Model):
    """Where new services of a catalogue product are placed: provisioning's knowledge about a
    product, kept here so the catalogue below never points up at servers."""

    product = models.OneToOneField(
        "catalogue.Product", on_delete=models.CASCADE, related_name="placement"
    )
    server_group = models.ForeignKey(
        ServerGroup,
        on_delete=models.PROTECT,
        related_name="placements",
        help_text="Where new services of this product are placed (with a module).",
    )
    # What one service of the product takes of its server; placement counts them against
    # the server's capacity_* (empty: the product does not use that resource).
    memory_mb = models.PositiveIntegerField("memory (MB)", null=True, blank=True)
    disk_gb = models.PositiveIntegerField("disk (GB)", null=True, blank=True)
    cpu_cores = models.PositiveIntegerField("CPU (cores)", null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.product} on {self.server_group}"


class Server(models.Model):
    """One panel endpoint (a Pterodactyl panel, a DirectAdmin host, ...)."""

    group = models.ForeignKey(
        ServerGroup, null=True, blank=True, on_delete=models.PROTECT, related_name="servers"
    )
    module = models.CharField("panel module", max_length=50)
    name = models.CharField(max_length=100, unique=True)
    base_url = models.URLField(max_length=300)
    # e.g. {"api_key": ...}, {"username": ..., "password": ...}; encrypted at rest.
    credentials = EncryptedJSONField(default=dict, blank=True)
    options = models.JSONField(default=dict, blank=True, help_text="Non-secret panel settings.")
    capacity_accounts = models.PositiveIntegerField(default=100)
    capacity_memory_mb = models.PositiveIntegerField(null=True, blank=True)
    capacity_disk_gb = models.PositiveIntegerField(null=True, blank=True)
    # Empty capacities are not counted (the server does not limit that resource).
    capacity_cpu = models.PositiveIntegerField("capacity (CPU cores)", null=True, blank=True)
    current_accounts = models.PositiveIntegerField(default=0)
    location = models.CharField(max_length=100, blank=True)
    tags = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField("active", default=True)
    is_online = models.BooleanField("online", default=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_check_error = models.TextField(blank=True)
    capacity_alerted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["group", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(current_accounts__lte=models.F("capacity_accounts")),
                name="provisioning_server_within_capacity",
                # What staff read (admin form and API) when they lower the capacity too far.
                violation_error_message=(
                    "The account capacity cannot be lower than the accounts already on the server."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def utilisation(self) -> float:
        """Share of account capacity in use, 0..1 (display only)."""
        return self.current_accounts / self.capacity_accounts if self.capacity_accounts else 1.0


class Service(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROVISIONING = "provisioning", "Being set up"
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        TERMINATED = "terminated", "Terminated"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Set-up failed"

    customer = models.ForeignKey(
        "accounts.Customer", on_delete=models.PROTECT, related_name="services"
    )
    order = models.ForeignKey(
        "catalogue.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="services"
    )
    product = models.ForeignKey(
        "catalogue.Product", on_delete=models.PROTECT, related_name="services"
    )
    cycle = models.CharField(max_length=16, choices=BillingCycle.choices)
    currency = currency_field()
    recurring_amount = money_field(help_text="List price per cycle, options included.")
    recurring_coupon = models.ForeignKey(
        "catalogue.Coupon",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="A recurring coupon applied to every renewal.",
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    domain = models.CharField(max_length=253, blank=True)
    hostname = models.CharField(max_length=253, blank=True)
    server = models.ForeignKey(
        Server, null=True, blank=True, on_delete=models.PROTECT, related_name="services"
    )
    external_id = models.CharField(max_length=100, blank=True, help_text="The panel's id.")
    username = models.CharField(max_length=100, blank=True)
    panel_url = models.URLField(max_length=300, blank=True)
    # Shown to the customer (e.g. the first password, a support key); encrypted at rest.
    secrets = EncryptedJSONField(default=dict, blank=True)
    provision_details = models.JSONField(default=dict, blank=True)
    next_due_date = models.DateField(null=True, blank=True, db_index=True)
    suspension_hold_until = models.DateField(
        null=True, blank=True, help_text="Staff hold: not suspended for non-payment before this."
    )
    ends_on = models.DateField(
        null=True,
        blank=True,
        help_text="Cancelled at the end of its period: not renewed, terminated on this day.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    activated_at = models.DateTimeField(null=True, blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    terminated_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_due_date"], name="prov_service_due_idx"),
            models.Index(fields=["-created_at", "-id"], name="prov_service_created_idx"),
            # The customer's services, newest first (oldest first: scanned backwards).
            models.Index(fields=["customer", "-created_at", "-id"], name="prov_service_cust_idx"),
        ]
        # Staff actions that call the panel; each needs its own permission.
        permissions = [
            ("provision_service", "Can set up services on a panel and place them on servers"),
            ("suspend_service", "Can suspend and unsuspend services"),
            ("terminate_service", "Can terminate services"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(recurring_amount__gte=0), name="provisioning_service_amount_nonneg"
            ),
        ]

    def __str__(self) -> str:
        label = self.domain or self.hostname
        return f"{self.product} ({label})" if label else f"{self.product} #{self.pk}"

    @property
    def reference(self) -> str:
        """Our stable reference on the panel (external_id, name): the adoption key."""
        return f"svc-{self.pk}"


_S = Service.Status
SERVICE_TRANSITIONS: dict[str, frozenset[str]] = {
    # PENDING -> ACTIVE directly only for products without a panel module.
    _S.PENDING: frozenset({_S.PROVISIONING, _S.ACTIVE, _S.CANCELLED}),
    _S.PROVISIONING: frozenset({_S.ACTIVE, _S.FAILED}),
    _S.FAILED: frozenset({_S.PROVISIONING, _S.ACTIVE, _S.CANCELLED}),
    _S.ACTIVE: frozenset({_S.SUSPENDED, _S.TERMINATED}),
    _S.SUSPENDED: frozenset({_S.ACTIVE, _S.TERMINATED}),
    _S.TERMINATED: frozenset(),
    _S.CANCELLED: frozenset(),
}
LIVE_STATUSES = (_S.PENDING, _S.PROVISIONING, _S.ACTIVE, _S.SUSPENDED, _S.FAILED)


class ServiceOption(models.Model):
    """A configurable option chosen for a service, with its quantity."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="options")
    option = models.ForeignKey(
        "catalogue.ConfigurableOption", on_delete=models.PROTECT, related_name="+"
    )
    quantity = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["service", "option"], name="provisioning_serviceoption_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.option} x {self.quantity}"


class ProvisioningOperation(Operation):
    """One panel call, recorded before it is made. The operation kernel runs it (locked,
    retried with backoff, swept when lost) and applies its result to the service."""

    class Kind(models.TextChoices):
        CREATE = "create", "Create"
        SUSPEND = "suspend", "Suspend"
        UNSUSPEND = "unsuspend", "Unsuspend"
        TERMINATE = "terminate", "Terminate"
        CHANGE_PACKAGE = "change_package", "Change package"
        # A customer's self-service action (payload: {"action": ..., "params": {...}}), see
        # provisioning.services.actions.
        ACTION = "action", "Customer action"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        # A call not safe to send again (a reinstall, a rollback) whose answer was lost:
        # it may have been applied, so staff check the panel before anything is resent.
        UNCERTAIN = "uncertain", "Needs checking"

    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="operations")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    idempotency_key = models.CharField(max_length=200, unique=True)
    status = models.CharField(  # the kernel's states, and `cancelled` (resolved by staff)
        max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    payload = models.JSONField(default=dict, blank=True, help_text="e.g. a suspension reason.")
    request_summary = models.JSONField(default=dict, blank=True)
    response_summary = models.JSONField(default=dict, blank=True)
    resolution = models.TextField(blank=True)
    # What an action returned that the customer sees once (a new root password), encrypted
    # and emptied when shown.
    secret_result = EncryptedJSONField(default=dict, blank=True)
    # Who asked for a customer action (None for the portal's own calls).
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="prov_operation_due_idx"),
            # A service's recent actions, newest first (its page and the rate limit).
            models.Index(fields=["service", "-created_at"], name="prov_operation_service_idx"),
            models.Index(fields=["-created_at", "-id"], name="prov_operation_created_idx"),
            # The daily prune's selection (provisioning.services.operation_logs_prune): ended
            # operations whose summaries are still there, by age. The emptied rows stay
            # forever, and without it each run walked every one of them.
            models.Index(
                fields=["updated_at"],
                condition=Q(status__in=["succeeded", "cancelled"])
                & ~Q(request_summary={}, response_summary={}),
                name="prov_operation_unpruned_idx",
            ),
        ]
        permissions = [
            ("retry_operation", "Can retry failed panel operations"),
            ("resolve_operation", "Can mark panel operations resolved"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.service} ({self.get_status_display()})"


class SitePlan(models.Model):
    """Resources and quotas of a managed WordPress plan (sent to the site backend by name;
    shown to customers); staff edit them in the admin."""

    name = models.SlugField(max_length=50, unique=True)
    memory_gb = models.PositiveIntegerField()
    disk_gb = models.PositiveIntegerField()
    backups = models.PositiveIntegerField()
    domains = models.PositiveIntegerField()

    class Meta:
        ordering = ["memory_gb", "name"]

    def __str__(self) -> str:
        return (
            f"{self.name}: {self.memory_gb} GB RAM, {self.disk_gb} GB disk, "
            f"{self.backups} backups, {self.domains} domains"
        )


class CancellationRequest(models.Model):
    """A customer's (or staff's, on their behalf) request to cancel a running service: at
    the end of its paid period (the service's `ends_on`, withdrawable until then) or at
    once. The database keeps one open request per service; every change of a request is
    made with its service's row locked (provisioning/services/cancellation.py)."""

    class Kind(models.TextChoices):
        END_OF_PERIOD = "end_of_period", "At the end of the paid period"
        IMMEDIATE = "immediate", "Immediately"

    class Reason(models.TextChoices):
        NOT_NEEDED = "not_needed", "I no longer need it"
        TOO_EXPENSIVE = "too_expensive", "Too expensive"
        SWITCHING = "switching", "Moving to another provider"
        TECHNICAL = "technical", "Technical problems"
        MISSING_FEATURES = "missing_features", "Missing features"
        SUPPORT = "support", "Not happy with support"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        WITHDRAWN = "withdrawn", "Withdrawn"
        COMPLETED = "completed", "Completed"

    service = models.ForeignKey(
        Service, on_delete=models.PROTECT, related_name="cancellation_requests"
    )
    customer = models.ForeignKey(
        "accounts.Customer", on_delete=models.PROTECT, related_name="cancellation_requests"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    reason_text = models.TextField("in their words", blank=True, max_length=2000)
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.REQUESTED, db_index=True
    )
    requested_at = models.DateTimeField(default=timezone.now)
    effective_on = models.DateField(help_text="The day the service ends (or ended).")
    completed_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    actor = models.ForeignKey(
        "accounts.User",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who asked: the customer, or staff on their behalf.",
    )
    currency = currency_field()
    refund = money_field(
        null=True, blank=True, help_text="Unused time credited to the account (immediate only)."
    )

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [
            models.Index(fields=["-requested_at", "-id"], name="prov_cancel_requested_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["service"],
                condition=Q(status="requested"),
                name="provisioning_cancellationrequest_one_open",
            ),
            models.CheckConstraint(
                condition=Q(refund__isnull=True) | Q(refund__gt=0),
                name="provisioning_cancellationrequest_refund_positive",
            ),
        ]
        permissions = [
            ("cancel_service", "Can cancel services on behalf of customers"),
            ("see_cancellation_report", "Can view the cancellation report"),
        ]

    def __str__(self) -> str:
        return f"Cancellation of {self.service} ({self.get_status_display()})"


class ProductBackupPolicy(models.Model):
    """Automatic backups included in a catalogue product (provisioning's part of a product,
    as its placement is): how often, whether a customer may turn them off, and how many
    automatic backups a service keeps (see provisioning.services.backups.backup_quota)."""

    class Interval(models.TextChoices):
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"

    product = models.OneToOneField(
        "catalogue.Product", on_delete=models.CASCADE, related_name="backup_policy"
    )
    interval = models.CharField(max_length=10, choices=Interval.choices, default=Interval.DAILY)
    customer_may_disable = models.BooleanField(
        "customers may turn them off", default=True, help_text="Otherwise they always run."
    )
    keep = models.PositiveIntegerField(
        "automatic backups kept",
        null=True,
        blank=True,
        help_text="The oldest beyond this are deleted (a site plan's backups still cap all of "
        "a service's backups; fewer here leaves room for manual ones). Empty: the plan's.",
    )

    class Meta:
        verbose_name = "automatic backup policy"
        verbose_name_plural = "automatic backup policies"

    def __str__(self) -> str:
        return f"{self.get_interval_display()} backups of {self.product}"


class ServiceBackupSetting(models.Model):
    """A customer's choice for one service: automatic backups off (no row: on)."""

    service = models.OneToOneField(Service, on_delete=models.CASCADE, related_name="backup_setting")
    enabled = models.BooleanField(default=True)
    changed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.service}: automatic backups {'on' if self.enabled else 'off'}"


def automatic_backup_key() -> str:
    """The idempotency key of a row written by hand (staff, tests); the due run writes
    `auto_backup:<service>:<slot>` (see provisioning.services.backups)."""
    return f"auto_backup:{uuid.uuid4().hex}"


class AutomaticBackup(Operation):
    """One scheduled backup of a service, an outbound operation the kernel runs (claimed,
    retried with backoff, swept when lost or interrupted, failed with a staff alert): one
    row per service and slot (the day, or the week's Monday), so a duplicate task or a
    second beat never makes a second backup. The panel's backup id tells the portal which
    of the service's backups are automatic: only these are ever rotated away."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Made"
        FAILED = "failed", "Failed"
        ROTATED = "rotated", "Deleted by rotation"

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="auto_backups")
    slot = models.DateField(help_text="The day (weekly: the Monday) this backup is for.")
    name = models.CharField(max_length=100)
    backup_id = models.CharField("panel's backup id", max_length=100, blank=True)
    status = models.CharField(  # the kernel's states, and `rotated` (deleted to make room)
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    idempotency_key = models.CharField(max_length=100, unique=True, default=automatic_backup_key)
    rotated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]  # the staff list, on its index
        constraints = [
            models.UniqueConstraint(
                fields=["service", "slot"], name="provisioning_automaticbackup_one_per_slot"
            ),
        ]
        indexes = [
            # The sweep's pick of lost and interrupted ones.
            models.Index(fields=["status", "next_attempt_at"], name="prov_autobackup_due_idx"),
            models.Index(fields=["-created_at", "-id"], name="prov_autobackup_created_idx"),
        ]
        permissions = [("retry_automatic_backup", "Can retry failed automatic backups")]

    def __str__(self) -> str:
        return f"{self.name} of {self.service} ({self.get_status_display()})"
