"""Schemathesis over the API's own OpenAPI schema: every operation, with valid and invalid
input generated from the schema, sent with a customer key that has every customer scope to
a portal holding that customer's invoice, service and credit. No answer may be a 5xx, and
every answer must match the schema (status code, content type, body)."""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi import checks

from accounts import services as account_services
from accounts.tests.factories import CustomerFactory
from billing_portal.common.testing import usd
from credits.services import credit_entry_append
from provisioning.tests.factories import ServerFactory, service_on

pytestmark = pytest.mark.django_db

# The examples per operation: enough to find the obvious, bounded for CI.
EXAMPLES = 40
SCHEMA = schemathesis.openapi.from_dict(
    json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(public=True)))
)
APP = get_wsgi_application()


@pytest.fixture
def _connection_kept():
    """Calling the WSGI application sends request_started/finished, on which Django closes
    the database connection, and with it the test's transaction: Django's test client
    disconnects that handler around its requests, and so does this."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _no_gateway(settings):
    """No payment provider is configured, whatever the environment says: the operations
    that would call one answer 400 ("not available") and no request leaves the machine."""
    settings.STRIPE_SECRET_KEY = ""
    settings.PAYPAL_CLIENT_ID = ""
    settings.PAYPAL_CLIENT_SECRET = ""


@pytest.fixture
def customer_key(settings, invoice_factory, _connection_kept):
    settings.API_THROTTLE_RATE = "100000/m"  # the fuzzer sends far more than a client may
    customer = CustomerFactory()
    credit_entry_append(customer=customer, amount=usd("50"), kind="admin_add", idempotency_key="g")
    invoice_factory(customer, "20")
    service_on(ServerFactory(), customer=customer, status="active")
    scopes = ["read", "services", "billing", "dns"]
    new = account_services.api_key_create(user=customer.user, name="fuzz", scopes=scopes)
    return f"Bearer {new.token}"


@SCHEMA.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_never_fails_and_answers_as_documented(case, customer_key):
    response = case.call(app=APP, headers={"Authorization": customer_key})
    assert response.status_code < 500, case.as_curl_command()
    case.validate_response(
        response,
        checks=[
            not_a_server_error,
            checks.status_code_conformance,
            checks.content_type_conformance,
            checks.response_schema_conformance,
        ],
    )
