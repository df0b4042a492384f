"""With the cache's Redis unreachable the portal keeps serving: nothing it caches is needed
to answer (a VPS token balance is read again, a PayPal token fetched again, a capacity
alert throttled less), so reads miss and writes are dropped, each after at most a second."""

from __future__ import annotations

import time

import pytest
import responses
from django.core.cache import cache
from django.test import override_settings
from django.urls import reverse

from billing_portal.common.testing import free_port
from payments.gateways.registry import checkout_gateway

# The cache as settings.py configures it for Redis (CACHE_URL or REDIS_URL set).
pytestmark = [pytest.mark.django_db, pytest.mark.redis]

VF = "https://cp.example.test/api/v1"
PAYPAL = "https://api-m.sandbox.paypal.com"


@pytest.fixture
def cache_down(settings):
    """The configured cache, pointed at a loopback port nobody listens on."""
    unreachable = f"redis://127.0.0.1:{free_port()}/0"
    caches = {"default": {**settings.CACHES["default"], "LOCATION": unreachable}}
    with override_settings(CACHES=caches):
        cache.close()
        yield
    cache.close()


def test_the_billing_page_reads_the_token_balance_again(client, customer, settings, cache_down):
    settings.VIRTFUSION_URL, settings.VIRTFUSION_API_TOKEN = "https://cp.example.test", "vf"
    client.force_login(customer.user)
    with responses.RequestsMock() as rsps:
        balance = rsps.get(
            f"{VF}/selfService/hourlyStats/byUserExtRelationId/{customer.pk}",
            json={"data": {"credit": {"value": 1500}}},
        )
        for _ in range(2):
            started = time.monotonic()
            response = client.get(reverse("credits:overview"))
            assert response.status_code == 200
            assert time.monotonic() - started < 10  # each cache call gives up within a second
        assert balance.call_count == 2  # nothing was cached: VirtFusion was asked each time
    assert "1500" in response.content.decode()


def test_a_paypal_checkout_fetches_its_token_again(
    client, customer, settings, cache_down, invoice_factory
):
    settings.PAYPAL_CLIENT_ID, settings.PAYPAL_CLIENT_SECRET = "client-id", "client-secret"
    settings.PAYPAL_MODE = "sandbox"
    invoice = invoice_factory(customer, "10", "EUR", description="Hosting")
    approve = "https://www.sandbox.paypal.com/checkoutnow?token=ORDER-1"
    with responses.RequestsMock() as rsps:
        rsps.post(f"{PAYPAL}/v1/oauth2/token", json={"access_token": "A21", "expires_in": 32400})
        rsps.post(
            f"{PAYPAL}/v2/checkout/orders",
            status=201,
            json={
                "id": "ORDER-1",
                "status": "PAYER_ACTION_REQUIRED",
                "links": [{"href": approve, "rel": "payer-action", "method": "GET"}],
            },
        )
        client.force_login(customer.user)
        response = client.post(reverse("payments:checkout_begin", args=[invoice.pk, "paypal"]))
    assert response.status_code == 302
    assert response.url == approve
    assert checkout_gateway("paypal") is not None
