"""Stripe event payloads built on the stored ones (fixtures/stripe/: event envelope,
PaymentIntent, Charge), and deliveries signed with stripe-python's own helper."""

from __future__ import annotations

import itertools
import json
import time

import stripe

from payments.tests import vendor_payloads

SECRET = "whsec_test_secret"
_ids = itertools.count(1)


def event(event_type: str, obj: dict, *, event_id: str | None = None) -> dict:
    return {
        "id": event_id or f"evt_{next(_ids):06d}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()),
        "livemode": False,
        "type": event_type,
        "data": {"object": obj},
    }


def payment_intent(invoice_id, *, amount: int, currency: str = "usd", pi: str = "pi_1") -> dict:
    """A succeeded PaymentIntent for our invoice (fixtures/stripe/payment_intent.succeeded)."""
    intent = _object("payment_intent.succeeded")
    intent.update(id=pi, amount=amount, amount_received=amount, currency=currency)
    intent["metadata"] = {"invoice_id": str(invoice_id)}
    return intent


def charge(invoice_id, *, amount: int, refunded: int, pi: str = "pi_1") -> dict:
    """The charge of that PaymentIntent with `refunded` of it refunded so far
    (fixtures/stripe/charge.refunded)."""
    charge = _object("charge.refunded")
    charge.update(
        id=f"ch_{pi}",
        amount=amount,
        amount_captured=amount,
        amount_refunded=refunded,
        refunded=refunded == amount,
        currency="usd",
        payment_intent=pi,
    )
    charge["metadata"] = {"invoice_id": str(invoice_id)}
    return charge


def checkout_session(
    invoice_id, *, amount: int, pi: str, session: str = "cs_1", paid: bool = True
) -> dict:
    """A finished Checkout Session naming our invoice by client_reference_id only
    (fixtures/stripe/checkout.session.completed, `.unpaid` when not paid yet)."""
    obj = _object("checkout.session.completed" + ("" if paid else ".unpaid"))
    obj.update(
        id=session,
        amount_total=amount,
        currency="usd",
        payment_intent=pi,
        client_reference_id=str(invoice_id),
        metadata={},
    )
    return obj


def _object(name: str) -> dict:
    return vendor_payloads.load("stripe", name)["data"]["object"]


def signed(payload: dict | str, *, secret: str = SECRET, timestamp: int | None = None):
    """(body, headers) as Stripe would deliver them."""
    body = payload if isinstance(payload, str) else json.dumps(payload)
    header = stripe.WebhookSignature.generate_signature_header(
        body, secret, timestamp=timestamp or int(time.time())
    )
    return body, {"HTTP_STRIPE_SIGNATURE": header}
