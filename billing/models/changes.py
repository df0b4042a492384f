"""Plan changes: a service moved to another plan, joined to the invoice that pays for it
(billing/services/changes.py and plan_change_request in billing/services/ordering.py)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from billing_portal.common.money import currency_field, money_field


class ServiceChange(models.Model):
    """A plan change the customer asked for. An upgrade waits for its prorated invoice; a
    downgrade is applied at once and its prorated difference credited."""

    class Status(models.TextChoices):
        AWAITING_PAYMENT = "awaiting_payment", "Awaiting payment"
        APPLIED = "applied", "Applied"
        EXPIRED = "expired", "Expired"

    service = models.ForeignKey(
        "provisioning.Service", on_delete=models.PROTECT, related_name="changes"
    )
    from_product = models.ForeignKey(
        "catalogue.Product", on_delete=models.PROTECT, related_name="+"
    )
    to_product = models.ForeignKey("catalogue.Product", on_delete=models.PROTECT, related_name="+")
    currency = currency_field()
    new_recurring_amount = money_field()
    # option id (as text) -> quantity the service has after the change
    option_quantities = models.JSONField(default=dict, blank=True)
    prorated_difference = money_field(help_text="Positive: to pay; negative: credited.")
    invoice = models.OneToOneField(
        "invoices.Invoice",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="service_change",
    )
    status = models.CharField(max_length=20, choices=Status.choices)
    created_at = models.DateTimeField(default=timezone.now)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["service"],
                condition=Q(status="awaiting_payment"),
                name="billing_servicechange_one_open_per_service",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service}: {self.from_product} → {self.to_product}"
