"""Paying flows that record a payment: each binds payments' flow to the reaction to payment,
`invoice_settled`, which payments (a lower layer) cannot import. The transaction,
idempotency and lock order of each flow are payments' own (see payments.services.payments):
the settlement runs inside the recording transaction, with the invoice locked, right where
the payment completes the invoice.

Gateway events: `gateway_event_handle` records the payments and refunds the gateways
report (the webhook task runs it through `webhook_event_process`) and hands every other
event to payments.handlers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from djmoney.money import Money

from accounts.models import Customer, User
from billing.services.refunds import (
    payment_refund_book_once,
    payment_refund_sync,
    purchase_refunded,
)
from billing.services.settlement import invoice_settled
from billing_portal.common.request import RequestMeta
from invoices.models import Invoice
from payments import handlers
from payments import services as payments
from payments.events import GatewayEvent, PaymentSucceeded, RefundReported
from payments.gateways import registry
from payments.handlers import EventIgnored
from payments.models import Payment, PaymentAttempt, WebhookEvent


def payment_record(
    *,
    invoice_id: int,
    gateway: str,
    reference: str,
    amount: Money,
    fee: Money | None = None,
    method: str = Payment.Method.OTHER,
    received_at: datetime | None = None,
    raw: dict[str, Any] | None = None,
    actor: User | None = None,
    meta: RequestMeta | None = None,
) -> Payment:
    """Record a payment once per (gateway, reference) and apply it; the payment that
    completes the invoice settles it. Staff-recorded payments (admin) come here too."""
    return payments.payment_record(
        invoice_id=invoice_id,
        gateway=gateway,
        reference=reference,
        amount=amount,
        fee=fee,
        method=method,
        received_at=received_at,
        raw=raw,
        actor=actor,
        meta=meta,
        settle=invoice_settled,
    )


def checkout_complete(
    *, customer: Customer, gateway_name: str, reference: str, meta: RequestMeta | None = None
) -> PaymentAttempt:
    """The customer is back from a hosted checkout: record the payment if it is paid."""
    return payments.checkout_complete(
        customer=customer,
        gateway_name=gateway_name,
        reference=reference,
        meta=meta,
        settle=invoice_settled,
    )


def saved_card_pay(*, invoice: Invoice, method_id: int, base_url: str) -> str | None:
    """Charge a saved card now (customer present); see payments.saved_card_pay."""
    return payments.saved_card_pay(
        invoice=invoice, method_id=method_id, base_url=base_url, settle=invoice_settled
    )


def saved_card_pay_complete(*, customer: Customer, reference: str) -> PaymentAttempt:
    """The customer is back from the bank's 3-D Secure page: record the charge if paid."""
    return payments.saved_card_pay_complete(
        customer=customer, reference=reference, settle=invoice_settled
    )


def invoice_charge_off_session(*, invoice_id: int) -> str:
    """Charge one renewal to the customer's default card, at most once."""
    return payments.invoice_charge_off_session(invoice_id=invoice_id, settle=invoice_settled)


def renewals_charge_off_session(*, today: date) -> dict[str, int]:
    """Charge the renewals due today to saved default cards."""
    return payments.renewals_charge_off_session(today=today, settle=invoice_settled)


def subscription_payment_record(
    *,
    gateway: str,
    subscription_reference: str,
    sale_id: str,
    amount: Money,
    method: str,
    raw: dict[str, Any],
) -> Payment:
    """A subscription charge pays the service's oldest unpaid renewal."""
    return payments.subscription_payment_record(
        gateway=gateway,
        subscription_reference=subscription_reference,
        sale_id=sale_id,
        amount=amount,
        method=method,
        raw=raw,
        settle=invoice_settled,
    )


def payments_reconcile(*, now: datetime | None = None) -> dict[str, int]:
    """Record the payments the gateways have and the portal missed."""
    return payments.payments_reconcile(now=now, settle=invoice_settled, take_back=purchase_refunded)


# --- Gateway events -----------------------------------------------------------------------


def webhook_event_process(*, webhook_event_id: int) -> WebhookEvent | None:
    """Run a stored webhook delivery's event once (payments.webhook_event_process)."""
    return payments.webhook_event_process(
        webhook_event_id=webhook_event_id, handle=gateway_event_handle
    )


def _record(event: PaymentSucceeded) -> Payment:
    return payment_record(
        invoice_id=handlers.event_invoice_id(event.invoice_id),
        gateway=event.gateway,
        reference=event.reference,
        amount=event.amount,
        method=event.method,
        raw=event.raw,
    )


def payment_succeeded(event: PaymentSucceeded) -> None:
    """An invoice payment, or a subscription charge paying the service's oldest unpaid
    renewal (none yet: SubscriptionPaymentUnmatched, retried as a failure)."""
    if event.subscription_reference:
        subscription_payment_record(
            gateway=event.gateway,
            subscription_reference=event.subscription_reference,
            sale_id=event.reference,
            amount=event.amount,
            method=event.method,
            raw=event.raw,
        )
    else:
        _record(event)


def refund_reported(event: RefundReported) -> None:
    """A refund, as the payment's cumulative refunded amount (the difference is booked) or
    on its own (booked once per refund reference); a refund that arrives before the
    success event records the payment first, when the report describes it."""
    payment = (
        _record(event.payment)
        if event.payment is not None
        else Payment.objects.filter(
            gateway=event.gateway, reference=event.payment_reference
        ).first()
    )
    if payment is None:
        raise EventIgnored("The refund is for a payment this portal has not recorded.")
    reason = f"Refunded at {registry.display_name(event.gateway)}"
    if event.refunded_total is not None:
        payment_refund_sync(
            payment_id=payment.pk,
            refunded_total=event.refunded_total,
            reason=reason,
            via=event.gateway,
        )
    elif event.amount is not None:
        payment_refund_book_once(
            payment_id=payment.pk,
            reference=event.refund_reference,
            amount=event.amount,
            reason=reason,
            via=event.gateway,
        )
    else:
        raise EventIgnored("The refund report carries no amount.")


HANDLERS: dict[type, Callable[[Any], None]] = {
    PaymentSucceeded: payment_succeeded,
    RefundReported: refund_reported,
}


def gateway_event_handle(event: GatewayEvent) -> None:
    """Apply one reported event: those that record a payment here, the others in
    payments.handlers; EventIgnored when there is nothing to apply."""
    handler = HANDLERS.get(type(event))
    if handler is None:
        handlers.event_handle(event)
    else:
        handler(event)
