"""Gateways by name and by capability; a gateway is enabled by the presence of its settings.

The rest of the portal asks here for what it needs done ("the enabled gateway that saves
cards": `gateway_with(SavedCards)`, "the gateways a customer can pay with":
`gateways_for_checkout()`) or for the adapter a row names (`gateway(payment.gateway)`), and
never names a provider itself. The adapters' classes answer what could be enabled (URLs,
admin filters) without any settings; their instances, built from settings on each call,
answer what is enabled now.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

from django.conf import settings

from payments.events import NO_HANDLER, GatewayEvent, Ignored
from payments.gateways.base import HostedCheckout, WebhookVerifier, offers
from payments.gateways.paypal import PayPalGateway, PayPalWebhookVerifier
from payments.gateways.stripe import StripeGateway, StripeWebhookVerifier

Capability = TypeVar("Capability")

# Every adapter the portal has, in the order the pay page offers them.
ADAPTERS: tuple[type[StripeGateway] | type[PayPalGateway], ...] = (StripeGateway, PayPalGateway)
_BY_NAME = {adapter.name: adapter for adapter in ADAPTERS}


def adapter_class(name: str) -> type[StripeGateway] | type[PayPalGateway]:
    """The adapter class registered as `name` (KeyError for a name the portal lacks)."""
    return _BY_NAME[name]


def adapter_offering(name: str, capability: type[Capability]) -> type[Capability]:
    """The adapter class `name`, which must offer `capability` (for its class attributes:
    the query parameters its return pages read)."""
    adapter = adapter_class(name)
    if not offers(adapter, capability):
        raise LookupError(f"{name} does not offer {capability.__name__}.")
    return cast(type[Capability], adapter)


def names() -> list[str]:
    return [adapter.name for adapter in ADAPTERS]


def names_offering(capability: type) -> list[str]:
    """Names of the adapters that implement `capability`, configured or not."""
    return [adapter.name for adapter in ADAPTERS if offers(adapter, capability)]


def display_name(name: str) -> str:
    """How sentences call the provider ("Refunded at …"); the name itself for one the
    portal no longer has."""
    adapter = _BY_NAME.get(name)
    return adapter.display_name if adapter is not None else name


def gateway(name: str) -> StripeGateway | PayPalGateway | None:
    """The adapter for `name` when it is configured, else None."""
    if name == StripeGateway.name and settings.STRIPE_SECRET_KEY:
        return StripeGateway(
            secret_key=settings.STRIPE_SECRET_KEY, api_version=settings.STRIPE_API_VERSION
        )
    if name == PayPalGateway.name and settings.PAYPAL_CLIENT_ID and settings.PAYPAL_CLIENT_SECRET:
        return PayPalGateway(
            client_id=settings.PAYPAL_CLIENT_ID,
            client_secret=settings.PAYPAL_CLIENT_SECRET,
            mode=settings.PAYPAL_MODE,
        )
    return None


def gateways_with(capability: type[Capability]) -> list[Capability]:
    """The enabled gateways that offer `capability`, in ADAPTERS order."""
    enabled = (gateway(adapter.name) for adapter in ADAPTERS if offers(adapter, capability))
    return [cast(Capability, found) for found in enabled if found is not None]


def gateway_with(capability: type[Capability]) -> Capability | None:
    """The first enabled gateway that offers `capability`, or None."""
    found = gateways_with(capability)
    return found[0] if found else None


def gateway_named_with(name: str, capability: type[Capability]) -> Capability | None:
    """The gateway a row or URL names, if it is enabled and offers `capability`."""
    found = gateway(name)
    return cast(Capability, found) if found is not None and offers(found, capability) else None


def checkout_gateway(name: str) -> HostedCheckout | None:
    """The hosted-checkout adapter for `name` when it is configured, else None."""
    return gateway_named_with(name, HostedCheckout)


def gateways_for_checkout() -> list[HostedCheckout]:
    return gateways_with(HostedCheckout)


def checkout_gateways_enabled() -> list[str]:
    return [found.name for found in gateways_for_checkout()]


# Names and labels of the gateways a customer can pick on the pay page.
CHECKOUT_LABELS = {
    adapter.name: adapter.label for adapter in ADAPTERS if offers(adapter, HostedCheckout)
}


# The headers of each provider's deliveries worth keeping on the stored event: its
# signature, or its delivery id.
KEPT_PROVIDER_HEADERS = ("Stripe-Signature", "Paypal-Transmission-Id")


def webhook_verifier(name: str) -> WebhookVerifier | None:
    """The verifier for a provider's webhooks, or None when that provider is not set up."""
    if name == StripeGateway.name and settings.STRIPE_SECRET_KEY and settings.STRIPE_WEBHOOK_SECRET:
        return StripeWebhookVerifier(secret=settings.STRIPE_WEBHOOK_SECRET)
    paypal = gateway(name) if name == PayPalGateway.name else None
    if isinstance(paypal, PayPalGateway) and settings.PAYPAL_WEBHOOK_ID:
        return PayPalWebhookVerifier(gateway=paypal, webhook_id=settings.PAYPAL_WEBHOOK_ID)
    return None


def webhook_event(name: str, event_type: str, payload: dict[str, Any]) -> GatewayEvent:
    """What a stored delivery of provider `name` reports, in the portal's terms. Needs no
    settings: a delivery stored while the provider was configured still runs."""
    adapter = _BY_NAME.get(name)
    if adapter is None:
        return Ignored(NO_HANDLER)
    return adapter.webhook_event(event_type, payload)


def handled_event_types() -> list[str]:
    """Every event type some adapter acts on (the staff filter of webhook events)."""
    return sorted({kind for adapter in ADAPTERS for kind in adapter.handled_event_types})
