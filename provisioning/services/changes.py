"""Plan changes: the customer moves a service to another plan of the same kind (same product
group and panel module), or changes its add-ons (configurable options), on the same cycle.

The difference between the new and the old recurring amount is prorated to the end of the
paid period, in Decimal, by days: difference * days left / days in the period. An upgrade
issues an invoice for it and changes the package when that invoice is paid (unpaid upgrade
invoices expire, see the billing run); a downgrade credits the difference to account credit
and changes the package at once. The request that invoices or credits, and the `ServiceChange`
it records, are billing's (billing/services/ordering.py, billing/services/changes.py); the
rules of the service are here: which plans it may move to, the quote, the lock and checks
before a change, and applying the new plan to the service and its panel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from dateutil.relativedelta import relativedelta
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
from provisioning.audit import ProvisioningAudit
from provisioning.errors import NoServerCapacity, ProvisioningError
from provisioning.locks import server_lock, service_lock
from provisioning.models import ProvisioningOperation, Service, ServiceOption
from provisioning.selectors import (
    RESOURCE_NAMES,
    plan_change_extra_resources,
    plan_change_resources_short,
)
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
        plan_change_room_check(service=service, to_product=to_product)
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
    step = new_recurring - service.recurring_amount
    difference, days_left, days_in_period = service_prorate(
        service=service, amount=step, today=today
    )
    return PlanChangeQuote(
        to_product, new_recurring, difference, days_left, days_in_period, tuple(options)
    )


def service_prorate(*, service: Service, amount: Money, today: date) -> tuple[Money, int, int]:
    """`amount` (per period) for the rest of the service's paid period, in Decimal, by days:
    (amount * days left / days in the period, days left, days in the period). Plan changes
    prorate their difference with it, an immediate cancellation its unused time."""
    start, end = _period(service)
    days_in_period = (end - start).days
    days_left = min(max((end - today).days, 0), days_in_period)
    return money_quantize(amount * days_left / days_in_period), days_left, days_in_period


def plan_change_room_check(*, service: Service, to_product: Product) -> None:
    """Refuse (NoServerCapacity), before anything is invoiced, a plan whose memory, disk or
    CPU the service's server has no room for (`plan_change_resources_short`)."""
    short = plan_change_resources_short(service=service, to_product=to_product)
    if short:
        lacking = " or ".join(RESOURCE_NAMES[resource] for resource in short)
        raise NoServerCapacity(
            f"{to_product.name} needs more {lacking} than the server your service is on has "
            "free right now. Choose a smaller plan, or ask our support team to move the "
            "service to a server with room."
        )


def plan_change_room_alert(*, service: Service, to_product: Product) -> bool:
    """A paid upgrade is applied even when its server has lost the room for it since the
    request (an upgrade holds nothing until paid; the customer has paid): staff are told
    after commit, to move the service or add capacity. True if they were."""
    short = plan_change_resources_short(service=service, to_product=to_product)
    if not short:
        return False
    from provisioning.tasks import staff_alert_task  # tasks call services: not at import

    lacking = ", ".join(RESOURCE_NAMES[resource] for resource in short)
    subject = f"{service.server} is over capacity after a paid upgrade"
    message = (
        f"{service} moved to {to_product.name} after its upgrade was paid, but its server "
        f"{service.server} has no room left for it ({lacking}). Move the service or add "
        "capacity."
    )
    transaction.on_commit(lambda: staff_alert_task.delay(subject, message), robust=True)
    return True


def plan_change_server_lock(*, service: Service, to_product: Product) -> None:
    """Lock the service's server when the new plan takes more of it, as placement does
    (`server_place`): the quote that follows then checks its room in a new statement,
    which sees what a concurrent order took meanwhile. Call after the service's lock."""
    if service.server_id is not None and plan_change_extra_resources(
        service=service, to_product=to_product
    ):
        server_lock(service.server_id)


def plan_change_apply(
    *,
    service: Service,
    to_product: Product,
    new_recurring_amount: Money,
    option_quantities: Mapping[str, int],
    difference: Money,
    actor: User | None,
) -> None:
    """Move the locked service to the new plan and add-ons (option id as text -> quantity),
    and change its package on the panel. Billing marks its plan change applied."""
    from_product = service.product
    service.product, service.recurring_amount = to_product, new_recurring_amount
    service.save(update_fields=["product", "recurring_amount"])
    service.options.all().delete()  # the add-ons the service has from now on
    ServiceOption.objects.bulk_create(
        ServiceOption(service=service, option_id=int(option_id), quantity=quantity)
        for option_id, quantity in option_quantities.items()
    )
    names = dict(
        ConfigurableOption.objects.filter(pk__in=[int(k) for k in option_quantities]).values_list(
            "pk", "name"
        )
    )
    add_ons = {names[int(k)]: q for k, q in option_quantities.items()}
    audit_record(
        action=ProvisioningAudit.SERVICE_PLAN_CHANGED,
        actor=actor,
        customer=service.customer,
        target=service,
        details={"from": str(from_product), "to": str(to_product), "difference": str(difference)},
    )
    if service.external_id and service.server_id:
        operation_enqueue(
            service=service,
            kind=ProvisioningOperation.Kind.CHANGE_PACKAGE,
            payload={"settings": {**to_product.module_settings, "options": add_ons}},
        )


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


def plan_change_service_lock(*, customer: Customer, service_id: int) -> Service:
    """Lock the customer's service and check it may change plan now (billing then checks no
    other change of it waits for payment, and quotes again on the locked row)."""
    service = service_lock(service_id, related=("customer",))
    if service.customer_id != customer.pk:
        raise Service.DoesNotExist(f"Service {service_id} is not this customer's.")
    if service.status != Service.Status.ACTIVE:
        raise ProvisioningError("Only an active service can change plan.")
    return service
