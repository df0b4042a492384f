"""Stripe adapter: webhook signature verification (more capabilities follow)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping

import stripe

from payments.gateways.base import VerifiedEvent, WebhookInvalid

TOLERANCE_SECONDS = 300


def _signed_at(header: str) -> int | None:
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            return int(value)
    return None


class StripeWebhookVerifier:
    """Stripe's scheme (HMAC-SHA256 of "{t}.{raw body}" with the endpoint secret), checked by
    stripe-python; on top, timestamps in the future are refused as well as stale ones, which
    stripe-python alone does not do."""

    name = "stripe"

    def __init__(
        self,
        *,
        secret: str,
        tolerance: int = TOLERANCE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.secret = secret
        self.tolerance = tolerance
        self.clock = clock

    def verify(self, *, body: bytes, headers: Mapping[str, str]) -> VerifiedEvent:
        header = headers.get("Stripe-Signature", "")
        if not header:
            raise WebhookInvalid("Missing Stripe-Signature header.")
        signed_at = _signed_at(header)
        if signed_at is None:
            raise WebhookInvalid("Stripe-Signature has no timestamp.")
        if abs(self.clock() - signed_at) > self.tolerance:
            raise WebhookInvalid("Stripe-Signature timestamp is outside the allowed window.")
        # Only the signature is checked by stripe-python: its construct_event also builds an
        # Event object and crashes on a signed body that is JSON but not an object, so the
        # body is parsed and checked here instead.
        try:
            stripe.WebhookSignature.verify_header(
                body.decode("utf-8", errors="replace"), header, self.secret, self.tolerance
            )
        except stripe.SignatureVerificationError as exc:
            raise WebhookInvalid("Stripe signature does not match.") from exc
        return _event_from(body)


def _event_from(body: bytes) -> VerifiedEvent:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookInvalid("Body is not valid JSON.") from exc
    if not (
        isinstance(payload, dict)
        and isinstance(payload.get("id"), str)
        and isinstance(payload.get("type"), str)
        and isinstance(payload.get("data"), dict)
        and isinstance(payload["data"].get("object"), dict)
    ):
        raise WebhookInvalid("Body is not a Stripe event.")
    return VerifiedEvent(payload["id"], payload["type"], payload)
