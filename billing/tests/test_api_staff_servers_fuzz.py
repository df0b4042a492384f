"""Schemathesis over the staff infrastructure operations (staff_server_*, staff_service_*)
with an Administrator's staff key: whatever the input, no 5xx and every answer as the
schema says (the project-wide fuzz, test_api_fuzz.py, sends a customer key, which these
operations refuse with 403 before reading anything). No request leaves the machine: every
panel call is refused by `responses`, so a check finds the panel offline and a panel read
answers 503 (which these operations document)."""

from __future__ import annotations

import pytest
import responses
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi import checks

from accounts import services as account_services
from accounts.tests.helpers import role_member
from billing.tests.test_api_fuzz import APP, SCHEMA, _connection_kept  # noqa: F401
from provisioning.models import Service
from provisioning.tests.factories import ServerFactory, service_on

pytestmark = pytest.mark.django_db

EXAMPLES = 30
STAFF_OPERATIONS = SCHEMA.include(operation_id_regex=r"^staff_(server|service)_")


@pytest.fixture
def staff_key(settings, _connection_kept):  # noqa: F811
    settings.API_THROTTLE_RATE = "100000/m"
    server = ServerFactory(
        module="nextpanel",
        base_url="http://np.fuzz.test:3000",
        credentials={"api_key": "npk_x", "api_secret": "nps_y"},
    )
    service_on(server, status=Service.Status.ACTIVE, external_id="88")
    service_on(ServerFactory(), status=Service.Status.PENDING)
    new = account_services.api_key_create(
        user=role_member("Administrator"), name="fuzz", scopes=["staff:read", "staff:services"]
    )
    with responses.RequestsMock(assert_all_requests_are_fired=False):
        yield f"Bearer {new.token}"


@STAFF_OPERATIONS.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_staff_infrastructure_api_never_fails_and_answers_as_documented(case, staff_key):
    response = case.call(app=APP, headers={"Authorization": staff_key})
    assert response.status_code < 500 or response.status_code == 503, case.as_curl_command()
    case.validate_response(
        response,
        checks=[
            not_a_server_error,
            checks.status_code_conformance,
            checks.content_type_conformance,
            checks.response_schema_conformance,
        ],
    )
