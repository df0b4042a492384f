"""The pages customers come back to from Stripe and PayPal read a provider reference from the
query string; a missing, empty or malformed one is not found (404), asks no provider and
changes nothing. Each of these answered 500 before."""

from __future__ import annotations

import pytest
from django.urls import reverse

from catalogue.tests.factories import ProductPriceFactory
from payments.models import GatewayPlan, GatewaySubscription, PaymentAttempt
from provisioning.models import Service

pytestmark = pytest.mark.django_db

RETURN_PAGES = [
    ("payments:stripe_return", "session_id"),
    ("payments:paypal_return", "token"),
    ("payments:stripe_intent_return", "payment_intent"),
    ("payments:card_return", "session_id"),
    ("payments:subscription_return", "subscription_id"),
]
BAD_REFERENCES = ["", " ", "\x00", "cs_test\x00", "r" * 10_000, "cs\u202etest", "cs\ntest"]


@pytest.fixture
def failed_attempts(customer, stripe_settings, paypal_settings, invoice_factory):
    """Checkouts, card set-ups and a PayPal subscription that failed before the provider gave
    them a reference (the provider was down): their reference is empty."""
    invoice = invoice_factory(customer, "30.00", description="x")
    for gateway in ("stripe", "stripe", "paypal", "paypal"):
        for kind in (PaymentAttempt.Kind.CHECKOUT, PaymentAttempt.Kind.CARD_SETUP):
            PaymentAttempt.objects.create(
                invoice=invoice,
                customer=customer,
                gateway=gateway,
                kind=kind,
                reference="",
                status=PaymentAttempt.Status.FAILED,
                currency="USD",
                amount=invoice.amount_due,
            )
    price = ProductPriceFactory()
    service = Service.objects.create(
        customer=customer,
        product=price.product,
        cycle="monthly",
        currency="USD",
        recurring_amount=price.price,
    )
    plan = GatewayPlan.objects.create(
        gateway="paypal",
        product=price.product,
        cycle="monthly",
        currency="USD",
        amount=price.price,
        product_reference="PROD-1",
        reference="P-1",
    )
    GatewaySubscription.objects.create(
        service=service, customer=customer, gateway="paypal", plan=plan, reference=""
    )
    return invoice


@pytest.mark.parametrize(("url_name", "parameter"), RETURN_PAGES)
@pytest.mark.parametrize("reference", BAD_REFERENCES)
def test_a_bad_reference_is_not_found_and_asks_no_provider(
    client, customer, failed_attempts, mocked, url_name, parameter, reference
):
    def state() -> list:
        return [
            *PaymentAttempt.objects.values_list("pk", "status"),
            *GatewaySubscription.objects.values_list("pk", "status"),
        ]

    before = state()
    client.force_login(customer.user)
    response = client.get(reverse(url_name), {parameter: reference})
    assert response.status_code == 404
    assert len(mocked.calls) == 0
    assert state() == before


@pytest.mark.parametrize(("url_name", "parameter"), RETURN_PAGES)
def test_no_reference_at_all_is_not_found(client, customer, failed_attempts, url_name, parameter):
    client.force_login(customer.user)
    assert client.get(reverse(url_name)).status_code == 404


def test_the_services_match_nothing_by_an_empty_reference(customer, failed_attempts, mocked):
    from django.core.exceptions import ObjectDoesNotExist

    from billing import services as billing
    from payments import services

    calls = [
        lambda: billing.checkout_complete(customer=customer, gateway_name="stripe", reference=""),
        lambda: billing.checkout_complete(customer=customer, gateway_name="paypal", reference=""),
        lambda: services.card_setup_complete(customer=customer, reference=""),
        lambda: billing.saved_card_pay_complete(customer=customer, reference=""),
        lambda: services.subscription_confirm(customer=customer, reference=""),
    ]
    for call in calls:
        with pytest.raises(ObjectDoesNotExist):
            call()
    assert len(mocked.calls) == 0
