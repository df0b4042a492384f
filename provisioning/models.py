"""Customer services (and, with the provisioning issue, panel servers and operations).

A `Service` is one thing a customer bought: a product on a billing cycle at a locked-in
recurring amount. It starts `pending` when ordered and follows the state machine below as
the billing run and payments move it; `next_due_date` is the first day not yet paid for.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from billing_portal.common.money import currency_field, money_field
from invoices.models import BillingCycle


class Service(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        TERMINATED = "terminated", "Terminated"
        CANCELLED = "cancelled", "Cancelled"

    customer = models.ForeignKey(
        "accounts.Customer", on_delete=models.PROTECT, related_name="services"
    )
    order = models.ForeignKey(
        "invoices.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="services"
    )
    product = models.ForeignKey(
        "invoices.Product", on_delete=models.PROTECT, related_name="services"
    )
    cycle = models.CharField(max_length=16, choices=BillingCycle.choices)
    currency = currency_field()
    recurring_amount = money_field(help_text="List price per cycle, options included.")
    recurring_coupon = models.ForeignKey(
        "invoices.Coupon",
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
    next_due_date = models.DateField(null=True, blank=True, db_index=True)
    suspension_hold_until = models.DateField(
        null=True, blank=True, help_text="Staff hold: not suspended for non-payment before this."
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
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(recurring_amount__gte=0), name="provisioning_service_amount_nonneg"
            ),
        ]

    def __str__(self) -> str:
        label = self.domain or self.hostname
        return f"{self.product} ({label})" if label else f"{self.product} #{self.pk}"


SERVICE_TRANSITIONS: dict[str, frozenset[str]] = {
    Service.Status.PENDING: frozenset({Service.Status.ACTIVE, Service.Status.CANCELLED}),
    Service.Status.ACTIVE: frozenset({Service.Status.SUSPENDED, Service.Status.TERMINATED}),
    Service.Status.SUSPENDED: frozenset({Service.Status.ACTIVE, Service.Status.TERMINATED}),
    Service.Status.TERMINATED: frozenset(),
    Service.Status.CANCELLED: frozenset(),
}


class ServiceOption(models.Model):
    """A configurable option chosen for a service, with its quantity."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="options")
    option = models.ForeignKey(
        "invoices.ConfigurableOption", on_delete=models.PROTECT, related_name="+"
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
