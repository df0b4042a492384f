"""Gateways by name; a gateway is enabled by the presence of its settings."""

from __future__ import annotations

from django.conf import settings

from payments.gateways.base import WebhookVerifier
from payments.gateways.paypal import PayPalGateway, PayPalWebhookVerifier
from payments.gateways.stripe import StripeGateway, StripeWebhookVerifier

# Names and labels of the gateways a customer can pick on the pay page.
CHECKOUT_LABELS = {"stripe": "Card (Stripe)", "paypal": "PayPal"}


def webhook_verifier(name: str) -> WebhookVerifier | None:
    """The verifier for a provider's webhooks, or None when that provider is not set up."""
    if name == "stripe" and settings.STRIPE_SECRET_KEY and settings.STRIPE_WEBHOOK_SECRET:
        return StripeWebhookVerifier(secret=settings.STRIPE_WEBHOOK_SECRET)
    paypal = checkout_gateway("paypal") if name == "paypal" else None
    if paypal is not None and settings.PAYPAL_WEBHOOK_ID:
        return PayPalWebhookVerifier(gateway=paypal, webhook_id=settings.PAYPAL_WEBHOOK_ID)
    return None


def checkout_gateway(name: str) -> StripeGateway | PayPalGateway | None:
    """The hosted-checkout adapter for `name` when it is configured, else None."""
    if name == "stripe" and settings.STRIPE_SECRET_KEY:
        return StripeGateway(
            secret_key=settings.STRIPE_SECRET_KEY, api_version=settings.STRIPE_API_VERSION
        )
    if name == "paypal" and settings.PAYPAL_CLIENT_ID and settings.PAYPAL_CLIENT_SECRET:
        return PayPalGateway(
            client_id=settings.PAYPAL_CLIENT_ID,
            client_secret=settings.PAYPAL_CLIENT_SECRET,
            mode=settings.PAYPAL_MODE,
        )
    return None


def checkout_gateways_enabled() -> list[str]:
    return [name for name in CHECKOUT_LABELS if checkout_gateway(name) is not None]
