"""Fixtures shared by the payments tests."""

from __future__ import annotations

import pytest
import responses

from payments.tests import stripe_events as se


@pytest.fixture
def stripe_settings(settings):
    """Stripe configured with test keys (its webhook secret signs the test deliveries)."""
    settings.STRIPE_SECRET_KEY = "sk_test_dummy"
    settings.STRIPE_WEBHOOK_SECRET = se.SECRET
    return settings


@pytest.fixture
def mocked():
    """Provider HTTP APIs mocked with `responses`; unused registrations are fine."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps
