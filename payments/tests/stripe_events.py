"""Stripe event payloads shaped as documented (event envelope, PaymentIntent, Charge,
Checkout Session), and deliveries signed with stripe-python's own helper."""

from __future__ import annotations

import itertools
import json
import time

import stripe

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
    return {
        "id": pi,
        "object": "payment_intent",
        "amount": amount,
        "amount_received": amount,
        "currency": currency,
        "status": "succeeded",
        "metadata": {"invoice_id": str(invoice_id)},
    }


def charge(invoice_id, *, amount: int, refunded: int, pi: str = "pi_1") -> dict:
    return {
        "id": f"ch_{pi}",
        "object": "charge",
        "amount": amount,
        "amount_refunded": refunded,
        "refunded": refunded == amount,
        "currency": "usd",
        "payment_intent": pi,
        "metadata": {"invoice_id": str(invoice_id)},
    }


def signed(payload: dict | str, *, secret: str = SECRET, timestamp: int | None = None):
    """(body, headers) as Stripe would deliver them."""
    body = payload if isinstance(payload, str) else json.dumps(payload)
    header = stripe.WebhookSignature.generate_signature_header(
        body, secret, timestamp=timestamp or int(time.time())
    )
    return body, {"HTTP_STRIPE_SIGNATURE": header}
