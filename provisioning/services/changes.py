"""Plan changes: the customer moves a service to another plan of the same kind (same product
group and panel module), or changes its add-ons (configurable options), on the same cycle.

The difference between the new and the old recurring amount is prorated to the end of the
paid period, in Decimal, by days: difference * days left / days in the period. An upgrade
issues an invoice for it and changes the package when that invoice is paid (unpaid upgrade
invoices expire, see the billing run); a downgrade credits the difference to account credit
and changes the package at once. The request that invoices or credits is billing's
(billing.services.ordering.plan_change_request); the rules are here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from djmoney.money import Money

from accounts.models import Customer, User
from billing_portal.common.audit import audit_record
from billing_portal.common.money import money_quantize
from catalogue.errors import CatalogueError
from catalogue.models import CYCLE_MONTHS, ConfigurableOption, Product
from catalogue.selectors import product_alternatives, recurring_price
from invoices.models import Invoice
from provisioning.audit import ProvisioningAudit
from provisioning.errors import ProvisioningError
from provisioning.locks import service_change_lock, service_change_lock_first, service_lock
from provisioning.models import ProvisioningOperation, Service, ServiceChange, ServiceOption
from provisioning.services.operations import operation_enqueue
from provisioning.services.packages import service_package_check


@dataclass(frozen=True)
class PlanChangeQuote:
    to_product: Product
    new_recurring: Money
    difference: Money  # positive: to pay now; negative: credited
    days_left: int
    days_in_period: int
    options: tuple[tuple[ConfigurableOption, int], ...] = ()

    @property
    def is_upgrade(self) -> bool:
        return self.difference.amount > 0


def service_option_quantities(service: Service) -> dict[int, int]:
    return dict(service.options.values_list("option_id", "quantity"))


def plan_change_targets(*, service: Service) -> QuerySet[Product]:
    """Plans this service can move to: same group and module, sold on its cycle (its own
    plan excluded; its add-ons change through `plan_change_quote` with the same product)."""
    return product_alternatives(
        product=service.product, cycle=service.cycle, currency=str(service.currency)
    )


def _period(service: Service) -> tuple[date, date]:
    months = CYCLE_MONTHS[service.cycle]
    if months is None or service.next_due_date is None:
        raise ProvisioningError("One-time services have no plan to change.")
    end = service.next_due_date
    return end - relativedelta(months=months), end


def plan_change_quote(
    *,
    service: Service,
    to_product: Product,
    option_quantities: dict[int, int] | None = None,
    today: date | None = None,
) -> PlanChangeQuote:
    """The new recurring amount (plan and add-ons, priced as an order would be) and the
    difference prorated to the end of the period. Add-on quantities default to the
    service's own on its plan, and to each option's minimum on another plan."""
    today = today or timezone.localdate()
    same_plan = to_product.pk == service.product_id
    if not same_plan and not plan_change_targets(service=service).filter(pk=to_product.pk):
        raise ProvisioningError(f"{service} cannot move to {to_product}.")
    if not same_plan:
        service_package_check(service=service, to_product=to_product)
    if option_quantities is None:
        option_quantities = service_option_quantities(service) if same_plan else {}
    try:
        new_recurring, options = recurring_price(
            product=to_product,
            cycle=service.cycle,
            currency=str(service.currency),
            option_quantities=option_quantities,
        )
    except CatalogueError as error:
        raise ProvisioningError(error.message) from error
    if same_plan and {o.pk: q for o, q in options} == service_option_quantities(service):
        raise ProvisioningError("Nothing would change.")
    start, end = _period(service)
    days_in_period = (end - start).days
    days_left = min(max((end - today).days, 0), days_in_period)
    step = new_recurring - service.recurring_amount
    difference = money_quantize(step * days_left / days_in_period)
    return PlanChangeQuote(
        to_product, new_recurring, difference, days_left, days_in_period, tuple(options)
    )


def plan_change_apply(service: Service, change: ServiceChange, actor: User | None) -> None:
    """Move the locked service to the change's plan and add-ons, and change its package on
    the panel."""
    change.status, change.applied_at = ServiceChange.Status.APPLIED, timezone.now()
    change.save(update_fields=["status", "applied_at"])
    service.product, service.recurring_amount = change.to_product, change.new_recurring_amount
    service.save(update_fields=["product", "recurring_amount"])
    service.options.all().delete()  # the add-ons the service has from now on
    ServiceOption.objects.bulk_create(
        ServiceOption(service=service, option_id=int(option_id), quantity=quantity)
        for option_id, quantity in change.option_quantities.items()
    )
    names = dict(
        ConfigurableOption.objects.filter(
            pk__in=[int(k) for k in change.option_quantities]
        ).values_list("pk", "name")
    )
    add_ons = {names[int(k)]: q for k, q in change.option_quantities.items()}
    audit_record(
        action=ProvisioningAudit.SERVICE_PLAN_CHANGED,
        actor=actor,
        customer=service.customer,
        target=service,
        details={
            "from": str(change.from_product),
            "to": str(change.to_product),
            "difference": str(change.prorated_difference),
        },
    )
    if service.external_id and service.server_id:
        operation_enqueue(
            service=service,
            kind=ProvisioningOperation.Kind.CHANGE_PACKAGE,
            payload={"settings": {**change.to_product.module_settings, "options": add_ons}},
        )


@dataclass(frozen=True)
class PlanChangeStarted:
    service: Service  # locked
    change: ServiceChange  # awaiting payment
    quote: PlanChangeQuote


def plan_change_peek(
    *,
    customer: Customer,
    service_id: int,
    to_product_id: int,
    option_quantities: dict[int, int] | None = None,
    today: date | None = None,
) -> PlanChangeQuote:
    """The quote on unlocked rows: tells the caller whether the change will write account
    credit (a downgrade), so it can lock the credit account before the service."""
    service = Service.objects.select_related("product").get(pk=service_id, customer=customer)
    to_product = Product.objects.get(pk=to_product_id)
    return plan_change_quote(
        service=service, to_product=to_product, option_quantities=option_quantities, today=today
    )


def plan_change_start(
    *,
    customer: Customer,
    service_id: int,
    to_product: Product,
    option_quantities: dict[int, int] | None = None,
    today: date | None = None,
) -> PlanChangeStarted:
    """Lock the service, check it may change now, quote again on the locked row and store
    the change awaiting payment. Run inside the caller's transaction (billing's
    plan_change_request, which invoices an upgrade or credits a downgrade and applies it)."""
    service = service_lock(service_id, related=("customer",))
    if service.customer_id != customer.pk:
        raise Service.DoesNotExist(f"Service {service_id} is not this customer's.")
    if service.status != Service.Status.ACTIVE:
        raise ProvisioningError("Only an active service can change plan.")
    if service.changes.filter(status=ServiceChange.Status.AWAITING_PAYMENT).exists():
        raise ProvisioningError("A plan change of this service is waiting for payment already.")
    quote = plan_change_quote(
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


def plan_changes_on_invoice_paid(invoice: Invoice) -> None:
    """An upgrade invoice was paid (inside the paying transaction): apply its change."""
    change = service_change_lock_first(
        invoice=invoice, status=ServiceChange.Status.AWAITING_PAYMENT
    )
    if change is None:
        return
    service = service_lock(change.service_id, related=("customer",))
    if service.status in (Service.Status.ACTIVE, Service.Status.SUSPENDED):
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
    from invoices.locks import invoice_lock
    from invoices.services import invoice_cancel

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
