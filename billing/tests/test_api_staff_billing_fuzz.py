"""Schemathesis over the staff money operations (billing/api/staff_billing.py) with a staff
key of every staff scope held by a superuser, against a portal holding a customer with
credit, an unpaid and a paid invoice, a payment, a service, a failed operation and a token
grant: no answer is a 5xx, and every answer matches the schema. (billing/tests/
test_api_fuzz.py runs every operation with a customer key, which staff endpoints refuse.)"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi import checks

from accounts import services as account_services
from accounts.tests.factories import CustomerFactory, UserFactory
from billing.models import TokenPurchase
from billing.services import payment_record
from billing.tests.test_api_fuzz import APP, SCHEMA, _connection_kept  # noqa: F401 (a fixture)
from billing_portal.common.testing import usd
from credits.services import credit_entry_append
from provisioning.models import ProvisioningOperation
from provisioning.tests.factories import ServerFactory, service_on

pytestmark = pytest.mark.django_db

EXAMPLES = 15
STAFF = SCHEMA.include(path_regex="^/api/v1/staff/")


@pytest.fixture
def staff_key(settings, invoice_factory, _connection_kept):  # noqa: F811 (the fixture)
    settings.API_THROTTLE_RATE = "100000/m"
    customer = CustomerFactory()
    credit_entry_append(customer=customer, amount=usd("50"), kind="admin_add", idempotency_key="g")
    invoice_factory(customer, "20")
    paid = invoice_factory(customer, "30")
    payment_record(invoice_id=paid.pk, gateway="manual", reference="r-1", amount=paid.total)
    service = service_on(ServerFactory(), customer=customer, status="active")
    ProvisioningOperation.objects.create(
        service=service, kind="suspend", idempotency_key="op-1", status="failed"
    )
    TokenPurchase.objects.create(
        customer=customer,
        source="staff",
        status="failed",
        tokens=500,
        rate=100,
        currency="USD",
        amount=usd("0"),
        reason="Outage",
    )
    staff = UserFactory(is_staff=True, is_superuser=True)
    scopes = ["staff:read", "staff:billing", "staff:services"]
    new = account_services.api_key_create(user=staff, name="fuzz", scopes=scopes)
    return f"Bearer {new.token}"


@STAFF.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_staff_money_api_never_fails_and_answers_as_documented(case, staff_key):
    response = case.call(app=APP, headers={"Authorization": staff_key})
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
