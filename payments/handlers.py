"""What each provider event does, dispatched through a plain dict.

Handlers receive the stored event payload and call payment services with the provider's
own ids as references, so replays, reorders and races end in the same state:
- a payment is recorded once per provider reference;
- refunds apply the difference between the provider's cumulative refunded amount and ours,
  so an older refund event arriving late changes nothing;
- a refund that arrives before the success event records the payment first (the charge
  carries the same invoice metadata as its PaymentIntent).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from billing_portal.common.audit import audit_record
from billing_portal.common.money import money_from_minor_units
from invoices.models import Invoice
from payments import services
from payments.audit import PaymentAudit
from payments.models import Payment


class EventIgnored(Exception):
    """The event is genuine but there is nothing to apply (e.g. it names no invoice of ours)."""


def _invoice_id(obj: dict[str, Any]) -> int:
    metadata = obj.get("metadata") or {}
    raw = metadata.get("invoice_id") or obj.get("client_reference_id")
    try:
        invoice_id = int(raw)
    except (TypeError, ValueError) as exc:
        raise EventIgnored("The event names no invoice of this portal.") from exc
    if not Invoice.objects.filter(pk=invoice_id).exists():
        raise EventIgnored(f"Invoice {invoice_id} does not exist.")
    return invoice_id


def _stripe_record(obj: dict[str, Any], *, reference: str, minor_amount: int) -> Payment:
    return services.payment_record(
        invoice_id=_invoice_id(obj),
        gateway="stripe",
        reference=reference,
        amount=money_from_minor_units(minor_amount, obj["currency"].upper()),
        method=Payment.Method.CARD,
        raw=obj,
    )


def stripe_payment_intent_succeeded(event: dict[str, Any]) -> None:
    intent = event["data"]["object"]
    amount = intent.get("amount_received") or intent["amount"]
    _stripe_record(intent, reference=intent["id"], minor_amount=amount)


def stripe_checkout_session_completed(event: dict[str, Any]) -> None:
    session = event["data"]["object"]
    if session.get("payment_status") != "paid":
        raise EventIgnored("Checkout finished without payment yet (asynchronous method).")
    _stripe_record(
        session, reference=session["payment_intent"], minor_amount=session["amount_total"]
    )


def stripe_payment_intent_failed(event: dict[str, Any]) -> None:
    intent = event["data"]["object"]
    invoice = Invoice.objects.select_related("customer").get(pk=_invoice_id(intent))
    error = intent.get("last_payment_error") or {}
    audit_record(
        action=PaymentAudit.PAYMENT_DENIED,
        customer=invoice.customer,
        target=invoice,
        details={
            "gateway": "stripe",
            "reference": intent["id"],
            "code": error.get("code", ""),
            "message": error.get("message", ""),
        },
    )


def stripe_charge_refunded(event: dict[str, Any]) -> None:
    charge = event["data"]["object"]
    payment = _stripe_record(
        charge, reference=charge["payment_intent"], minor_amount=charge["amount"]
    )
    services.payment_refund_sync(
        payment_id=payment.pk,
        refunded_total=money_from_minor_units(
            charge["amount_refunded"], charge["currency"].upper()
        ),
        reason="Refunded at Stripe",
        via="stripe",
    )


def stripe_setup_intent_succeeded(event: dict[str, Any]) -> None:
    """A card saved at Stripe: keep it (the return page usually did already). The card's
    display details are fetched from Stripe: the event carries only its id."""
    from payments.gateways.registry import checkout_gateway
    from payments.models import GatewayCustomer

    intent = event["data"]["object"]
    link = GatewayCustomer.objects.filter(
        gateway="stripe", reference=intent.get("customer")
    ).first()
    gateway = checkout_gateway("stripe")
    if link is None or gateway is None or not intent.get("payment_method"):
        raise EventIgnored("The card belongs to no customer of this portal.")
    card = gateway.payment_method(reference=intent["payment_method"])
    services.card_store(customer=link.customer, card=card)


# --- PayPal -------------------------------------------------------------------------------


def _paypal_amount(resource: dict[str, Any]):
    from billing_portal.common.money import currency_exponent
    from payments.gateways.paypal import minor_units

    amount = resource["amount"]
    currency = amount["currency_code"]
    return money_from_minor_units(
        minor_units(amount["value"], currency_exponent(currency)), currency
    )


def _paypal_invoice_id(resource: dict[str, Any]) -> int:
    from payments.gateways.paypal import invoice_from_custom_id

    return _invoice_id(
        {"metadata": {"invoice_id": invoice_from_custom_id(resource.get("custom_id"))}}
    )


def paypal_capture_completed(event: dict[str, Any]) -> None:
    capture = event["resource"]
    if capture.get("status") != "COMPLETED":
        raise EventIgnored(f"Capture is {capture.get('status')}.")
    services.payment_record(
        invoice_id=_paypal_invoice_id(capture),
        gateway="paypal",
        reference=capture["id"],
        amount=_paypal_amount(capture),
        method=Payment.Method.PAYPAL,
        raw=capture,
    )


def paypal_capture_denied(event: dict[str, Any]) -> None:
    capture = event["resource"]
    invoice = Invoice.objects.select_related("customer").get(pk=_paypal_invoice_id(capture))
    audit_record(
        action=PaymentAudit.PAYMENT_DENIED,
        customer=invoice.customer,
        target=invoice,
        details={
            "gateway": "paypal",
            "reference": capture.get("id", ""),
            "status": capture.get("status", ""),
        },
    )


def _capture_id_of(refund: dict[str, Any]) -> str:
    for link in refund.get("links", []):
        if link.get("rel") == "up" and "/captures/" in link.get("href", ""):
            return link["href"].rstrip("/").rsplit("/", 1)[1]
    return ""


def paypal_capture_refunded(event: dict[str, Any]) -> None:
    refund = event["resource"]
    payment = Payment.objects.filter(gateway="paypal", reference=_capture_id_of(refund)).first()
    if payment is None:
        raise EventIgnored("The refund is for a capture this portal has not recorded.")
    services.payment_refund_book_once(
        payment_id=payment.pk,
        reference=refund["id"],
        amount=_paypal_amount(refund),
        reason="Refunded at PayPal",
        via="paypal",
    )


def paypal_subscription_activated(event: dict[str, Any]) -> None:
    services.subscription_mark_active(reference=event["resource"]["id"])


def paypal_subscription_ended(event: dict[str, Any]) -> None:
    services.subscription_mark_cancelled(reference=event["resource"]["id"])


def paypal_subscription_payment_failed(event: dict[str, Any]) -> None:
    from payments.models import GatewaySubscription

    subscription = (
        GatewaySubscription.objects.filter(gateway="paypal", reference=event["resource"]["id"])
        .select_related("customer")
        .first()
    )
    if subscription is None:
        raise EventIgnored("The subscription is not one of this portal's.")
    audit_record(
        action=PaymentAudit.PAYMENT_DENIED,
        customer=subscription.customer,
        target=subscription,
        details={"gateway": "paypal", "subscription": subscription.reference},
    )


def paypal_sale_completed(event: dict[str, Any]) -> None:
    sale = event["resource"]
    if sale.get("state") != "completed" or not sale.get("billing_agreement_id"):
        raise EventIgnored("Not a completed subscription payment.")
    from billing_portal.common.money import currency_exponent
    from payments.gateways.paypal import minor_units

    currency = sale["amount"]["currency"]
    amount = money_from_minor_units(
        minor_units(sale["amount"]["total"], currency_exponent(currency)), currency
    )
    services.subscription_payment_record(
        subscription_reference=sale["billing_agreement_id"],
        sale_id=sale["id"],
        amount=amount,
        raw=sale,
    )


HANDLERS: dict[tuple[str, str], Callable[[dict[str, Any]], None]] = {
    ("stripe", "payment_intent.succeeded"): stripe_payment_intent_succeeded,
    ("stripe", "checkout.session.completed"): stripe_checkout_session_completed,
    ("stripe", "checkout.session.async_payment_succeeded"): stripe_checkout_session_completed,
    ("stripe", "payment_intent.payment_failed"): stripe_payment_intent_failed,
    ("stripe", "charge.refunded"): stripe_charge_refunded,
    ("stripe", "setup_intent.succeeded"): stripe_setup_intent_succeeded,
    ("paypal", "PAYMENT.CAPTURE.COMPLETED"): paypal_capture_completed,
    ("paypal", "PAYMENT.CAPTURE.DENIED"): paypal_capture_denied,
    ("paypal", "PAYMENT.CAPTURE.DECLINED"): paypal_capture_denied,
    ("paypal", "PAYMENT.CAPTURE.REFUNDED"): paypal_capture_refunded,
    ("paypal", "BILLING.SUBSCRIPTION.ACTIVATED"): paypal_subscription_activated,
    ("paypal", "BILLING.SUBSCRIPTION.CANCELLED"): paypal_subscription_ended,
    ("paypal", "BILLING.SUBSCRIPTION.EXPIRED"): paypal_subscription_ended,
    ("paypal", "BILLING.SUBSCRIPTION.PAYMENT.FAILED"): paypal_subscription_payment_failed,
    ("paypal", "PAYMENT.SALE.COMPLETED"): paypal_sale_completed,
}
