"""The API's error handler (billing_portal/common/api_errors.py): a service's refusal keeps
its own 4xx, a refusal carrying no client status is a 400, and an outside system that failed
is a 503 whatever HTTP status it answered itself (its 0 or 500 is not ours to pass on)."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.test import APIClient
from rest_framework.views import APIView

from billing_portal.common.errors import DomainError, ExternalServiceError

ERRORS = {
    "panel-no-answer": ExternalServiceError("The panel did not answer.", status=0),
    "panel-500": ExternalServiceError("The panel failed.", status=500, retryable=True),
    "panel-404": ExternalServiceError("The panel has no such server.", status=404),
    "conflict": type("Busy", (DomainError,), {"status": 409, "code": "busy"})("Busy."),
    "odd-status": type("Odd", (DomainError,), {"status": 302, "code": "odd"})("Odd."),
    "plain": DomainError("Refused."),
}


class Raises(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    def get(self, request, name):
        raise ERRORS[name]


urlpatterns = [path("raise/<str:name>/", Raises.as_view())]


@override_settings(ROOT_URLCONF=__name__)
@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("panel-no-answer", 503),
        ("panel-500", 503),
        ("panel-404", 503),
        ("conflict", 409),
        ("odd-status", 400),
        ("plain", 400),
    ],
)
def test_each_error_answers_its_status_in_the_one_shape(name, status):
    # (a 5xx is reported as a request exception, which the test client would re-raise)
    response = APIClient(raise_request_exception=False).get(f"/raise/{name}/")
    assert response.status_code == status
    assert set(response.json()) == {"type", "code", "detail", "errors"}
    assert response.json()["detail"] == ERRORS[name].message
