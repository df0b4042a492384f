"""Gateways by name; a gateway is enabled by the presence of its settings."""

from __future__ import annotations

from django.conf import settings

from payments.gateways.base import WebhookVerifier
from payments.gateways.stripe import StripeWebhookVerifier


def webhook_verifier(name: str) -> WebhookVerifier | None:
    """The verifier for a provider's webhooks, or None when that provider is not set up."""
    if name == "stripe" and settings.STRIPE_SECRET_KEY and settings.STRIPE_WEBHOOK_SECRET:
        return StripeWebhookVerifier(secret=settings.STRIPE_WEBHOOK_SECRET)
    return None
