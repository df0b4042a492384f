"""The registry answers by capability, the adapters offer what they implement, and the
gateways' errors are the portal's ExternalServiceError with the right `retryable`."""

from __future__ import annotations

import pytest
import requests
import responses

from billing_portal.common.errors import ExternalServiceError, ExternalServiceUnavailable
from payments.gateways import registry
from payments.gateways.base import (
    CustomerAccounts,
    GatewayRejected,
    GatewayUnavailable,
    HostedCheckout,
    OffSessionCharge,
    OnSessionCharge,
    Reconciliation,
    Refunds,
    SavedCards,
    Subscriptions,
    WebhookEvents,
    offers,
)
from payments.gateways.paypal import PayPalGateway
from payments.gateways.stripe import StripeGateway

PAYPAL_API = "https://api-m.sandbox.paypal.com"
STRIPE_API = "https://api.stripe.com/v1"
EVERY = (
    CustomerAccounts,
    HostedCheckout,
    OffSessionCharge,
    OnSessionCharge,
    Reconciliation,
    Refunds,
    SavedCards,
    Subscriptions,
    WebhookEvents,
)


@pytest.fixture
def both(stripe_settings, paypal_settings):
    return paypal_settings


@pytest.fixture
def none(settings):
    settings.STRIPE_SECRET_KEY = settings.PAYPAL_CLIENT_ID = ""
    return settings


@pytest.mark.parametrize(
    ("adapter", "capabilities"),
    [
        (StripeGateway, set(EVERY) - {Subscriptions}),
        (PayPalGateway, {HostedCheckout, Reconciliation, Refunds, Subscriptions, WebhookEvents}),
    ],
)
def test_an_adapter_offers_what_it_implements(adapter, capabilities):
    assert {capability for capability in EVERY if offers(adapter, capability)} == capabilities


def test_the_registry_answers_by_capability(both):
    assert registry.gateway_with(SavedCards).name == "stripe"
    assert registry.gateway_with(Subscriptions).name == "paypal"
    assert [g.name for g in registry.gateways_for_checkout()] == ["stripe", "paypal"]
    assert [g.name for g in registry.gateways_with(Refunds)] == ["stripe", "paypal"]
    assert registry.gateway_named_with("paypal", SavedCards) is None
    assert registry.gateway_named_with("paypal", Refunds).name == "paypal"
    assert registry.checkout_gateways_enabled() == ["stripe", "paypal"]


def test_only_configured_gateways_are_enabled(none):
    assert registry.gateway_with(SavedCards) is None
    assert registry.gateways_for_checkout() == []
    assert registry.webhook_verifier("stripe") is None
    assert registry.webhook_verifier("paypal") is None
    # what could be enabled is known without settings (URLs, staff filters)
    assert registry.names_offering(OffSessionCharge) == ["stripe"]
    assert registry.names_offering(HostedCheckout) == ["stripe", "paypal"]
    assert registry.CHECKOUT_LABELS == {"stripe": "Card (Stripe)", "paypal": "PayPal"}
    assert "PAYMENT.CAPTURE.COMPLETED" in registry.handled_event_types()


def _paypal_call(rsps: responses.RequestsMock, *, status: int, body: dict | None = None):
    rsps.post(f"{PAYPAL_API}/v1/oauth2/token", json={"access_token": "t", "expires_in": 3600})
    rsps.post(f"{PAYPAL_API}/v2/payments/captures/CAP-1/refund", status=status, json=body or {})
    return registry.gateway("paypal").refund(
        payment_reference="CAP-1", amount_minor=1000, currency="EUR", idempotency_key="r-1"
    )


@pytest.mark.parametrize(
    ("status", "may_have_applied"),
    [(500, True), (503, True), (429, False)],
)
def test_a_paypal_outage_is_a_retryable_external_error(both, status, may_have_applied):
    with responses.RequestsMock() as rsps, pytest.raises(GatewayUnavailable) as caught:
        _paypal_call(rsps, status=status)
    error = caught.value
    assert isinstance(error, ExternalServiceUnavailable)
    assert (error.retryable, error.may_have_applied, error.status) == (
        True,
        may_have_applied,
        status,
    )


def test_a_paypal_refusal_is_a_permanent_external_error(both):
    refusal = {"name": "UNPROCESSABLE_ENTITY", "details": [{"issue": "CAPTURE_FULLY_REFUNDED"}]}
    with responses.RequestsMock() as rsps, pytest.raises(GatewayRejected) as caught:
        _paypal_call(rsps, status=422, body=refusal)
    error = caught.value
    assert isinstance(error, ExternalServiceError)
    assert (error.retryable, error.status) == (False, 422)
    assert "CAPTURE_FULLY_REFUNDED" in error.message


def test_paypal_unreachable_is_retryable(both):
    with responses.RequestsMock() as rsps:
        rsps.post(f"{PAYPAL_API}/v1/oauth2/token", json={"access_token": "t", "expires_in": 60})
        rsps.post(
            f"{PAYPAL_API}/v2/payments/captures/CAP-1/refund", body=requests.ReadTimeout("slow")
        )
        paypal = registry.gateway("paypal")
        with pytest.raises(GatewayUnavailable) as caught:
            paypal.refund(
                payment_reference="CAP-1", amount_minor=1000, currency="EUR", idempotency_key="r-1"
            )
    assert (caught.value.retryable, caught.value.may_have_applied) == (True, True)


@pytest.mark.parametrize(
    ("status", "error", "retryable"),
    [(500, GatewayUnavailable, True), (400, GatewayRejected, False)],
)
def test_stripe_errors_are_external_errors(stripe_settings, status, error, retryable):
    body = {"error": {"type": "api_error" if status >= 500 else "invalid_request_error"}}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.post(f"{STRIPE_API}/customers", status=status, json=body)
        with pytest.raises(error) as caught:
            registry.gateway("stripe").customer_create(
                portal_customer_id=1, email="a@example.com", name="A"
            )
    assert isinstance(caught.value, ExternalServiceError)
    assert (caught.value.retryable, caught.value.status) == (retryable, status)
