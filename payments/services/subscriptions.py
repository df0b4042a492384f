"""Provider subscriptions paying a service's renewal invoices automatically.

The plan is created from the service's renewal price (tax and recurring discount included,
exactly what each renewal invoice totals), once per price, and reused. The subscription
starts on the service's next due date, so the period already paid is not charged again.
Each subscription payment the provider reports pays the service's oldest unpaid renewal
invoice; the subscription is cancelled at the provider when the customer stops it or the
service is cancelled or terminated. Plans and subscriptions keep the name of the gateway
they were made with, and every later call about them goes to that gateway.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from djmoney.money import Money

from accounts.models import Customer
from billing_portal.common.money import money_to_minor_units
from catalogue.models import CYCLE_MONTHS, BillingCycle
from catalogue.selectors import client_group_discounts_for
from invoices.models import Invoice, InvoiceLine
from invoices.services import lines_price
from invoices.services.group_discounts import group_discount_apply
from invoices.services.renewals import renewal_lines
from payments.errors import PaymentsError
from payments.gateways import registry
from payments.gateways.base import GatewayError, Subscriptions
from payments.locks import gateway_subscription_lock
from payments.models import GatewayPlan, GatewaySubscription, Payment
from payments.services.payments import CHECKOUT_UNAVAILABLE, Settle, payment_record
from provisioning.models import Service

logger = logging.getLogger(__name__)
LIVE = (GatewaySubscription.Status.APPROVAL_PENDING, GatewaySubscription.Status.ACTIVE)


class SubscriptionPaymentUnmatched(Exception):
    """A subscription payment arrived with no unpaid renewal to pay: retried later (the
    renewal is usually issued days before the provider charges), then left to staff."""


NOT_AVAILABLE = "Automatic payments are not available."


def _subscriptions() -> Subscriptions:
    """The enabled gateway new subscriptions are made with."""
    gateway = registry.gateway_with(Subscriptions)
    if gateway is None:
        raise PaymentsError(NOT_AVAILABLE)
    return gateway


def _holding(name: str) -> Subscriptions:
    """The gateway a plan or subscription row was made with."""
    gateway = registry.gateway_named_with(name, Subscriptions)
    if gateway is None:
        raise PaymentsError(NOT_AVAILABLE)
    return gateway


def _names() -> list[str]:
    return registry.names_offering(Subscriptions)


def renewal_total(service: Service) -> Money:
    """What each renewal invoice of this service totals (usage overage aside), with the
    customer's client group discount as it is now (a later change of group is not pushed
    to the gateway's plan: the subscription keeps the amount it was made with)."""
    lines = [line for line in renewal_lines(service) if line.kind == InvoiceLine.Kind.SERVICE]
    lines = group_discount_apply(
        lines=lines,
        discounts=client_group_discounts_for(customer=service.customer),
        product_group_id=service.product.group_id,
        currency=str(service.currency),
        service_id=service.pk,
    )
    return lines_price(
        customer=service.customer, currency=service.currency, lines=lines
    ).totals.total


def _plan_for(gateway: Subscriptions, service: Service, amount: Money) -> GatewayPlan:
    plan = GatewayPlan.objects.filter(
        gateway=gateway.name,
        product=service.product,
        cycle=service.cycle,
        currency=service.currency,
        amount=amount,
    ).first()
    if plan is not None:
        return plan
    months = CYCLE_MONTHS[service.cycle]
    if months is None:  # subscription_begin refuses one-time services first
        raise PaymentsError("Automatic payments are for active services that renew.")
    product_reference, reference = gateway.plan_create(
        name=f"{service.product.name} ({BillingCycle(service.cycle).label})",
        months=months,
        amount_minor=money_to_minor_units(amount),
        currency=service.currency,
        idempotency_key=(
            f"plan-{service.product_id}-{service.cycle}-{money_to_minor_units(amount)}"
            f"-{service.currency}"
        ),
    )
    plan, _ = GatewayPlan.objects.get_or_create(
        gateway=gateway.name,
        product=service.product,
        cycle=service.cycle,
        currency=service.currency,
        amount=amount,
        defaults={"product_reference": product_reference, "reference": reference},
    )
    return plan


def subscription_begin(*, customer: Customer, service_id: int, base_url: str) -> str:
    """Send the customer to the provider to approve automatic payments for a service."""
    return subscription_begin_record(customer=customer, service_id=service_id, base_url=base_url)[1]


def subscription_begin_record(
    *, customer: Customer, service_id: int, base_url: str
) -> tuple[GatewaySubscription, str]:
    """Start automatic payments for a service; returns the subscription, waiting for the
    customer's approval, and the URL of the provider's approval page."""
    service = Service.objects.select_related("product", "customer__user", "recurring_coupon").get(
        customer=customer, pk=service_id
    )
    if (
        service.status != Service.Status.ACTIVE
        or service.cycle == BillingCycle.ONE_TIME
        or service.next_due_date is None
    ):
        raise PaymentsError("Automatic payments are for active services that renew.")
    try:
        gateway = _subscriptions()
        plan = _plan_for(gateway, service, renewal_total(service))
        with transaction.atomic():
            subscription = GatewaySubscription.objects.create(
                service=service, customer=customer, gateway=gateway.name, plan=plan
            )
    except IntegrityError as exc:
        raise PaymentsError("This service already pays its renewals automatically.") from exc
    except GatewayError as error:
        raise PaymentsError(CHECKOUT_UNAVAILABLE) from error
    base = base_url.rstrip("/")
    try:
        start = gateway.subscription_create(
            plan_reference=plan.reference,
            custom_id=f"service-{service.pk}",
            email=customer.user.email,
            start_time=f"{service.next_due_date.isoformat()}T00:00:00Z",
            return_url=f"{base}{reverse('payments:subscription_return')}",
            cancel_url=f"{base}{reverse('provisioning:service_list')}",
            idempotency_key=f"subscription-{subscription.pk}",
        )
    except GatewayError as error:
        GatewaySubscription.objects.filter(pk=subscription.pk).update(
            status=GatewaySubscription.Status.CANCELLED, cancelled_at=timezone.now()
        )
        raise PaymentsError(CHECKOUT_UNAVAILABLE) from error
    GatewaySubscription.objects.filter(pk=subscription.pk).update(reference=start.reference)
    subscription.reference = start.reference
    return subscription, start.redirect_url


def subscription_mark_active(*, gateway: str, reference: str) -> GatewaySubscription | None:
    """The provider says the customer approved: idempotent, from the return page or the
    webhook."""
    with transaction.atomic():
        subscription = gateway_subscription_lock(gateway=gateway, reference=reference)
        if (
            subscription is None
            or subscription.status != GatewaySubscription.Status.APPROVAL_PENDING
        ):
            return subscription
        subscription.status = GatewaySubscription.Status.ACTIVE
        subscription.activated_at = timezone.now()
        subscription.save(update_fields=["status", "activated_at"])
    return subscription


def subscription_confirm(*, customer: Customer, reference: str) -> GatewaySubscription:
    """The customer is back from the provider: ask it whether the subscription is on."""
    # Subscriptions the provider never answered have no reference: an empty one matches
    # nothing.
    subscription = GatewaySubscription.objects.exclude(reference="").get(
        customer=customer, gateway__in=_names(), reference=reference
    )
    gateway = _holding(subscription.gateway)
    try:
        active = gateway.subscription_is_active(reference=reference)
    except GatewayError as error:
        raise PaymentsError(CHECKOUT_UNAVAILABLE) from error
    if active:
        return subscription_mark_active(gateway=gateway.name, reference=reference) or subscription
    return subscription


def subscription_mark_cancelled(*, gateway: str, reference: str) -> None:
    GatewaySubscription.objects.filter(
        gateway=gateway, reference=reference, status__in=LIVE
    ).update(status=GatewaySubscription.Status.CANCELLED, cancelled_at=timezone.now())


def subscription_cancel(*, subscription: GatewaySubscription, reason: str) -> None:
    """Stop automatic payments at the provider, then here."""
    if subscription.status not in LIVE:
        return
    if subscription.reference:
        _holding(subscription.gateway).subscription_cancel(
            reference=subscription.reference, reason=reason
        )
    subscription_mark_cancelled(gateway=subscription.gateway, reference=subscription.reference)
    if not subscription.reference:
        GatewaySubscription.objects.filter(pk=subscription.pk).update(
            status=GatewaySubscription.Status.CANCELLED, cancelled_at=timezone.now()
        )


def subscription_cancel_by_customer(
    *, customer: Customer, subscription_id: int
) -> GatewaySubscription:
    subscription = GatewaySubscription.objects.get(customer=customer, pk=subscription_id)
    try:
        subscription_cancel(subscription=subscription, reason="Cancelled by the customer")
    except GatewayError as error:
        raise PaymentsError(
            "Automatic payments could not be stopped right now; try again."
        ) from error
    return subscription


def subscriptions_cancel_for_service(service_id: int) -> None:
    """service_ended handler: a cancelled or terminated service must not be charged again."""
    for subscription in GatewaySubscription.objects.filter(service_id=service_id, status__in=LIVE):
        try:
            subscription_cancel(subscription=subscription, reason="Service ended")
        except GatewayError:
            # Left live here so staff see it; the provider's own "cancelled" event also
            # closes it.
            logger.exception("could not cancel %s at its provider", subscription)


def subscription_payment_record(
    *,
    gateway: str,
    subscription_reference: str,
    sale_id: str,
    amount: Money,
    method: str,
    raw: dict[str, Any],
    settle: Settle,
) -> Payment:
    """A subscription charge (`sale_id`, the provider's id of it) pays the service's oldest
    unpaid renewal invoice."""
    subscription = GatewaySubscription.objects.filter(
        gateway=gateway, reference=subscription_reference
    ).first()
    if subscription is None:
        raise SubscriptionPaymentUnmatched(f"No subscription {subscription_reference} here.")
    existing = Payment.objects.filter(gateway=gateway, reference=sale_id).first()
    if existing is not None:
        return existing
    invoice = (
        Invoice.objects.filter(
            status=Invoice.Status.UNPAID,
            lines__service_id=subscription.service_id,
            lines__kind=InvoiceLine.Kind.SERVICE,
        )
        .order_by("due_date", "pk")
        .first()
    )
    if invoice is None:
        raise SubscriptionPaymentUnmatched(
            f"{registry.display_name(gateway)} charged {amount} for service "
            f"#{subscription.service_id}, which has no unpaid renewal."
        )
    return payment_record(
        invoice_id=invoice.pk,
        gateway=gateway,
        reference=sale_id,
        amount=amount,
        method=method,
        raw=raw,
        settle=settle,
    )
