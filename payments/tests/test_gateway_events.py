"""Each adapter's webhook payloads (stored under fixtures/<vendor>/) turned into the
portal's provider-neutral events: every event type an adapter handles, its variants that
have nothing to apply, and an unknown type."""

from __future__ import annotations

from decimal import Decimal

import pytest
from djmoney.money import Money

from payments.events import (
    NO_HANDLER,
    NO_INVOICE,
    CardSaved,
    Ignored,
    PaymentFailed,
    PaymentSucceeded,
    RefundReported,
    SubscriptionChanged,
    SubscriptionPaymentFailed,
)
from payments.gateways import paypal, registry, stripe
from payments.tests import vendor_payloads

STRIPE_PI = vendor_payloads.load("stripe", "payment_intent.succeeded")["data"]["object"]
STRIPE_CHARGE = vendor_payloads.load("stripe", "charge.refunded")["data"]["object"]
PAYPAL_CAPTURE = vendor_payloads.load("paypal", "PAYMENT.CAPTURE.COMPLETED")["resource"]
PAYPAL_SALE = vendor_payloads.load("paypal", "PAYMENT.SALE.COMPLETED")["resource"]


def _object(name: str) -> dict:
    return vendor_payloads.load("stripe", name)["data"]["object"]


EXPECTED = {
    ("stripe", "payment_intent.succeeded"): PaymentSucceeded(
        gateway="stripe",
        reference="pi_3QfixtureA",
        amount=Money(Decimal("49.99"), "EUR"),
        method="card",
        invoice_id=42,
        raw=STRIPE_PI,
    ),
    ("stripe", "payment_intent.succeeded.foreign"): Ignored(NO_INVOICE),
    ("stripe", "checkout.session.completed"): PaymentSucceeded(
        gateway="stripe",
        reference="pi_3QfixtureB",
        amount=Money(Decimal("25.00"), "USD"),
        method="card",
        invoice_id=43,
        raw=_object("checkout.session.completed"),
    ),
    ("stripe", "checkout.session.async_payment_succeeded"): PaymentSucceeded(
        gateway="stripe",
        reference="pi_3QfixtureC",
        amount=Money(Decimal("120.00"), "USD"),
        method="card",
        invoice_id=44,  # from client_reference_id: the metadata is empty
        raw=_object("checkout.session.async_payment_succeeded"),
    ),
    ("stripe", "checkout.session.completed.unpaid"): Ignored(
        "Checkout finished without payment yet (asynchronous method)."
    ),
    ("stripe", "payment_intent.payment_failed"): PaymentFailed(
        gateway="stripe",
        reference="pi_3QfixtureD",
        invoice_id=42,
        details={"code": "card_declined", "message": "Your card has insufficient funds."},
    ),
    ("stripe", "charge.refunded"): RefundReported(
        gateway="stripe",
        payment_reference="pi_3QfixtureA",
        refunded_total=Money(Decimal("15.00"), "EUR"),
        payment=PaymentSucceeded(
            gateway="stripe",
            reference="pi_3QfixtureA",
            amount=Money(Decimal("49.99"), "EUR"),
            method="card",
            invoice_id=42,
            raw=STRIPE_CHARGE,
        ),
    ),
    ("stripe", "setup_intent.succeeded"): CardSaved(
        gateway="stripe", customer_reference="cus_Rfixture", method_reference="pm_1Qfixture"
    ),
    ("stripe", "customer.created"): Ignored(NO_HANDLER),
    ("paypal", "PAYMENT.CAPTURE.COMPLETED"): PaymentSucceeded(
        gateway="paypal",
        reference="2GG279541U471931P",
        amount=Money(Decimal("49.99"), "EUR"),
        method="paypal",
        invoice_id=42,
        raw=PAYPAL_CAPTURE,
    ),
    ("paypal", "PAYMENT.CAPTURE.COMPLETED.pending"): Ignored("Capture is PENDING."),
    ("paypal", "PAYMENT.CAPTURE.COMPLETED.foreign"): Ignored(NO_INVOICE),
    ("paypal", "PAYMENT.CAPTURE.DENIED"): PaymentFailed(
        gateway="paypal", reference="7NW873794T343360M", invoice_id=42, details={"status": "DENIED"}
    ),
    ("paypal", "PAYMENT.CAPTURE.DECLINED"): PaymentFailed(
        gateway="paypal", reference="CAP-DENIED", invoice_id=42, details={"status": "DECLINED"}
    ),
    ("paypal", "PAYMENT.CAPTURE.REFUNDED"): RefundReported(
        gateway="paypal",
        payment_reference="2GG279541U471931P",
        refund_reference="1JU08902781691411",
        amount=Money(Decimal("10.00"), "EUR"),
    ),
    ("paypal", "BILLING.SUBSCRIPTION.ACTIVATED"): SubscriptionChanged(
        gateway="paypal", reference="I-SUB1", status=SubscriptionChanged.ACTIVE
    ),
    ("paypal", "BILLING.SUBSCRIPTION.CANCELLED"): SubscriptionChanged(
        gateway="paypal", reference="I-SUB1", status=SubscriptionChanged.ENDED
    ),
    ("paypal", "BILLING.SUBSCRIPTION.EXPIRED"): SubscriptionChanged(
        gateway="paypal", reference="I-SUB1", status=SubscriptionChanged.ENDED
    ),
    ("paypal", "BILLING.SUBSCRIPTION.PAYMENT.FAILED"): SubscriptionPaymentFailed(
        gateway="paypal", reference="I-SUB1"
    ),
    ("paypal", "PAYMENT.SALE.COMPLETED"): PaymentSucceeded(
        gateway="paypal",
        reference="44P499886K055384U",
        amount=Money(Decimal("12.50"), "USD"),
        method="paypal",
        subscription_reference="I-SUB1",
        raw=PAYPAL_SALE,
    ),
    ("paypal", "PAYMENT.SALE.COMPLETED.one_off"): Ignored("Not a completed subscription payment."),
    ("paypal", "CHECKOUT.ORDER.APPROVED"): Ignored(NO_HANDLER),
}


@pytest.mark.parametrize(("vendor", "name"), sorted(EXPECTED))
def test_each_stored_payload_becomes_its_event(vendor, name):
    payload = vendor_payloads.load(vendor, name)
    kind = vendor_payloads.event_type(vendor, payload)
    assert registry.webhook_event(vendor, kind, payload) == EXPECTED[(vendor, name)]


@pytest.mark.parametrize("vendor", ["stripe", "paypal"])
def test_every_stored_payload_has_its_expected_event(vendor):
    assert set(vendor_payloads.names(vendor)) == {n for v, n in EXPECTED if v == vendor}


@pytest.mark.parametrize("adapter", [stripe.StripeGateway, paypal.PayPalGateway])
def test_every_handled_event_type_has_a_stored_payload(adapter):
    stored = {
        vendor_payloads.event_type(adapter.name, vendor_payloads.load(adapter.name, name))
        for name in vendor_payloads.names(adapter.name)
    }
    assert set(adapter.handled_event_types) <= stored


@pytest.mark.parametrize(("vendor", "name"), [("stripe", "customer.created"), ("paypal", "X")])
def test_an_unknown_event_type_is_ignored(vendor, name):
    payload = {"id": "evt_1", "type": name, "data": {"object": {}}, "resource": {}}
    assert registry.webhook_event(vendor, name, payload) == Ignored(NO_HANDLER)


def test_a_delivery_of_a_gateway_the_portal_no_longer_has_is_ignored():
    assert registry.webhook_event("gone", "payment.done", {}) == Ignored(NO_HANDLER)


def test_the_events_need_no_configured_gateway(settings):
    settings.STRIPE_SECRET_KEY = settings.PAYPAL_CLIENT_ID = ""
    payload = vendor_payloads.load("stripe", "payment_intent.succeeded")
    assert isinstance(
        registry.webhook_event("stripe", "payment_intent.succeeded", payload), PaymentSucceeded
    )
