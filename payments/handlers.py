"""What each reported event that pays nothing does, dispatched by the event's class through
a plain dict. The events that record a payment (a payment succeeded, a refund reported,
which may record the payment it refunds first) make invoices paid, so billing handles them
(billing.services.payments.gateway_event_handle) and hands the others to `event_handle`.

The gateway adapters turn their providers' payloads into the events of payments.events;
these handlers and billing's act on those events only, with the provider's own ids as references, so
replays, reorders and races end in the same state:
- a payment is recorded once per provider reference;
- a refund reported as the payment's cumulative refunded amount applies the difference to
  ours, so an older report arriving late changes nothing; one reported on its own is booked
  once per refund reference;
- a refund that arrives before the success event records the payment first, when the
  report describes it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from billing_portal.common.audit import audit_record
from invoices.models import Invoice
from payments import services
from payments.audit import PaymentAudit
from payments.events import (
    NO_INVOICE,
    CardSaved,
    GatewayEvent,
    Ignored,
    PaymentFailed,
    SubscriptionChanged,
    SubscriptionPaymentFailed,
)
from payments.gateways import registry
from payments.gateways.base import SavedCards
from payments.models import GatewayCustomer, GatewaySubscription


class EventIgnored(Exception):
    """The event is genuine but there is nothing to apply (e.g. it names no invoice of ours)."""


def event_invoice_id(invoice_id: int | None) -> int:
    """The id of the invoice of ours an event names, or EventIgnored."""
    if invoice_id is None:
        raise EventIgnored(NO_INVOICE)
    if not Invoice.objects.filter(pk=invoice_id).exists():
        raise EventIgnored(f"Invoice {invoice_id} does not exist.")
    return invoice_id


def payment_failed(event: PaymentFailed) -> None:
    invoice = Invoice.objects.select_related("customer").get(pk=event_invoice_id(event.invoice_id))
    audit_record(
        action=PaymentAudit.PAYMENT_DENIED,
        customer=invoice.customer,
        target=invoice,
        details={"gateway": event.gateway, "reference": event.reference, **event.details},
    )


def subscription_changed(event: SubscriptionChanged) -> None:
    if event.status == SubscriptionChanged.ACTIVE:
        services.subscription_mark_active(gateway=event.gateway, reference=event.reference)
    else:
        services.subscription_mark_cancelled(gateway=event.gateway, reference=event.reference)


def subscription_payment_failed(event: SubscriptionPaymentFailed) -> None:
    subscription = (
        GatewaySubscription.objects.filter(gateway=event.gateway, reference=event.reference)
        .select_related("customer")
        .first()
    )
    if subscription is None:
        raise EventIgnored("The subscription is not one of this portal's.")
    audit_record(
        action=PaymentAudit.PAYMENT_DENIED,
        customer=subscription.customer,
        target=subscription,
        details={"gateway": event.gateway, "subscription": subscription.reference},
    )


def card_saved(event: CardSaved) -> None:
    """A card saved at the provider: keep it (the return page usually did already). Its
    display details are fetched from the provider: the event carries only its id."""
    link = (
        GatewayCustomer.objects.filter(
            gateway=event.gateway, reference=event.customer_reference
        ).first()
        if event.customer_reference
        else None
    )
    gateway = registry.gateway_named_with(event.gateway, SavedCards)
    if link is None or gateway is None or not event.method_reference:
        raise EventIgnored("The card belongs to no customer of this portal.")
    card = gateway.payment_method(reference=event.method_reference)
    services.card_store(customer=link.customer, gateway=event.gateway, card=card)


HANDLERS: dict[type, Callable[[Any], None]] = {
    PaymentFailed: payment_failed,
    SubscriptionChanged: subscription_changed,
    SubscriptionPaymentFailed: subscription_payment_failed,
    CardSaved: card_saved,
}


def event_handle(event: GatewayEvent) -> None:
    """Apply one reported event; EventIgnored when there is nothing to apply."""
    if isinstance(event, Ignored):
        raise EventIgnored(event.reason)
    HANDLERS[type(event)](event)
