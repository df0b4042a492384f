"""Plan changes, billing's part: the `ServiceChange` that joins a service's new plan to the
invoice paying for it, applied when that invoice is paid and expired when it is not paid in
time (the billing run). The service's own rules (which plans, the quote, the checks, applying
the plan on the panel) are provisioning's (provisioning/services/changes.py); the request
that invoices an upgrade or credits a downgrade is `plan_change_request` in ordering.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Customer, User
from billing.locks import service_change_lock, service_change_lock_first
from billing.models import ServiceChange
from catalogue.models import Product
from invoices.locks import invoice_lock
from invoices.models import Invoice
from invoices.services import invoice_cancel
from provisioning import services as provisioning
from provisioning.errors import ProvisioningError
from provisioning.locks import service_lock
from provisioning.models import Service


@dataclass(frozen=True)
class PlanChangeStarted:
    service: Service  # locked
    change: ServiceChange  # awaiting payment
    quote: provisioning.PlanChangeQuote


def plan_change_start(
    *,
    customer: Customer,
    service_id: int,
    to_product: Product,
    option_quantities: dict[int, int] | None = None,
    today: date | None = None,
) -> PlanChangeStarted:
    """Lock the service, check it may change now, quote again on the locked row and store
    the change awaiting payment. Run inside the caller's transaction (plan_change_request,
    which invoices an upgrade or credits a downgrade and applies it)."""
    service = provisioning.plan_change_service_lock(customer=customer, service_id=service_id)
    if ServiceChange.objects.filter(
        service=service, status=ServiceChange.Status.AWAITING_PAYMENT
    ).exists():
        raise ProvisioningError("A plan change of this service is waiting for payment already.")
    # The quote checks the server's room for the new plan under its lock (placement's).
    provisioning.plan_change_server_lock(service=service, to_product=to_product)
    quote = provisioning.plan_change_quote(
        service=service, to_product=to_product, option_quantities=option_quantities, today=today
    )
    change = ServiceChange.objects.create(
        service=service,
        from_product=service.product,
        to_product=to_product,
        currency=str(service.currency),
        new_recurring_amount=quote.new_recurring,
        option_quantities={str(option.pk): quantity for option, quantity in quote.options},
        prorated_difference=quote.difference,
        status=ServiceChange.Status.AWAITING_PAYMENT,
    )
    return PlanChangeStarted(service, change, quote)


def plan_change_apply(service: Service, change: ServiceChange, actor: User | None) -> None:
    """Mark the change applied and move the locked service to its plan and add-ons
    (provisioning's plan_change_apply, which changes the package on the panel)."""
    change.status, change.applied_at = ServiceChange.Status.APPLIED, timezone.now()
    change.save(update_fields=["status", "applied_at"])
    provisioning.plan_change_apply(
        service=service,
        to_product=change.to_product,
        new_recurring_amount=change.new_recurring_amount,
        option_quantities=change.option_quantities,
        difference=change.prorated_difference,
        actor=actor,
    )


def plan_changes_on_invoice_paid(invoice: Invoice) -> None:
    """An upgrade invoice was paid (inside the paying transaction): apply its change."""
    change = service_change_lock_first(
        invoice=invoice, status=ServiceChange.Status.AWAITING_PAYMENT
    )
    if change is None:
        return
    service = service_lock(change.service_id, related=("customer",))
    if service.status in (Service.Status.ACTIVE, Service.Status.SUSPENDED):
        provisioning.plan_change_room_alert(service=service, to_product=change.to_product)
        plan_change_apply(service, change, None)


@transaction.atomic
def plan_changes_expiring(*, today: date) -> list[int]:
    """Upgrades still awaiting payment whose invoice is past the days allowed to pay it."""
    cutoff = today - timedelta(days=settings.BILLING_UPGRADE_INVOICE_EXPIRY_DAYS)
    return list(
        ServiceChange.objects.filter(
            status=ServiceChange.Status.AWAITING_PAYMENT, invoice__due_date__lte=cutoff
        ).values_list("pk", flat=True)
    )


def plan_change_expire(*, change_id: int) -> bool:
    """Drop an upgrade whose invoice was not paid in time (the billing run). True if done."""
    peek = ServiceChange.objects.get(pk=change_id)  # its invoice never changes
    if peek.invoice_id is not None:
        invoice_lock(peek.invoice_id)  # the invoice before the plan change (the lock order)
    change = service_change_lock(change_id)
    if change.status != ServiceChange.Status.AWAITING_PAYMENT:
        return False
    if change.invoice_id is None:  # an upgrade awaits the payment of its invoice
        raise ValueError(f"Plan change {change.pk} awaits payment but has no invoice.")
    invoice = Invoice.objects.get(pk=change.invoice_id)
    if invoice.status != Invoice.Status.UNPAID:
        return False
    invoice_cancel(invoice_id=invoice.pk, reason="Upgrade not paid in time.")
    change.status = ServiceChange.Status.EXPIRED
    change.save(update_fields=["status"])
    return True
