"""The VirtFusion adapter's requests, checked against the documented shapes
(external-apis.md §2), and its error mapping."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests
from responses import matchers
from urllib3.exceptions import MaxRetryError, NewConnectionError

from provisioning.errors import PanelPermanentError, PanelRetryableError
from provisioning.panels.virtfusion import VirtFusionClient

BASE = "https://cp.example.test"
API = f"{BASE}/api/v1"
HEADERS = {
    "Authorization": "Bearer vf-token",
    "Accept": "application/json",
    "Content-Type": "application/json",
}


@pytest.fixture
def client() -> VirtFusionClient:
    return VirtFusionClient(base_url=BASE + "/", api_token="vf-token")


def refused() -> requests.ConnectionError:
    """What requests raises when nothing listens on the port."""
    reason = NewConnectionError(None, "Failed to establish a new connection: refused")
    return requests.ConnectionError(MaxRetryError(None, "/api/v1/x", reason=reason))


def test_find_or_create_user_by_ext_relation_id(client, mocked):
    mocked.get(
        f"{API}/users/42/byExtRelation",
        status=404,
        json={"msg": "user not found"},
        match=[matchers.header_matcher(HEADERS)],
    )
    body = {
        "name": "Ada",
        "email": "ada@example.com",
        "extRelationId": 42,
        "selfService": 1,
        "selfServiceHourlyCredit": True,
        "sendMail": False,
    }
    mocked.post(
        f"{API}/users",
        status=201,
        json={"data": {"id": 7, "extRelationId": 42, "email": "ada@example.com"}},
        match=[matchers.json_params_matcher(body), matchers.header_matcher(HEADERS)],
    )
    user = client.user_ensure(ext_relation_id=42, name="Ada", email="ada@example.com")
    assert (user.id, user.ext_relation_id) == (7, 42)


def test_an_existing_user_is_found_not_created(client, mocked):
    mocked.get(
        f"{API}/users/42/byExtRelation",
        json={"data": {"id": 7, "extRelationId": 42, "email": "a@b.c"}},
    )
    assert client.user_ensure(ext_relation_id=42, name="A", email="a@b.c").id == 7
    assert len(mocked.calls) == 1


@pytest.mark.parametrize(("tokens", "sent"), [(Decimal("2500.00"), 2500), (Decimal("12.5"), 12.5)])
def test_token_credit_add_sends_the_documented_body(client, mocked, tokens, sent):
    body = {"tokens": sent, "reference_1": 9, "reference_2": "portal-token-credit-9"}
    mocked.post(
        f"{API}/selfService/credit/byUserExtRelationId/42",
        status=201,
        json={"data": {"id": 77}},
        match=[matchers.json_params_matcher(body), matchers.header_matcher(HEADERS)],
    )
    credit_id = client.token_credit_add(
        ext_relation_id=42, tokens=tokens, reference_1=9, reference_2="portal-token-credit-9"
    )
    assert credit_id == 77


def test_token_credit_cancel_and_balance(client, mocked):
    mocked.delete(f"{API}/selfService/credit/77", status=204)
    client.token_credit_cancel(credit_id=77)
    mocked.get(
        f"{API}/selfService/hourlyStats/byUserExtRelationId/42",
        json={"data": {"credit": {"value": 1500}, "currency": {"code": "USD"}}},
    )
    assert client.token_balance(ext_relation_id=42) == Decimal("1500")
    mocked.get(f"{API}/selfService/hourlyStats/byUserExtRelationId/43", status=404, json={})
    assert client.token_balance(ext_relation_id=43) is None


@pytest.mark.parametrize(
    ("answer", "kind", "may_have_applied", "text"),
    [
        (
            {"status": 503, "body": "<html><h1>503 Service Unavailable</h1></html>"},
            PanelRetryableError,
            False,
            "503 Service Unavailable",
        ),
        (
            {"status": 429, "json": {"message": "Too Many Attempts."}},
            PanelRetryableError,
            False,
            "Too Many Attempts.",
        ),
        (
            {"status": 500, "json": {"message": "Server Error"}},
            PanelRetryableError,
            True,
            "Server Error",
        ),
        (
            {
                "status": 422,
                "json": {
                    "message": "The given data was invalid.",
                    "errors": {"tokens": ["The tokens field is required."]},
                },
            },
            PanelPermanentError,
            False,
            "The given data was invalid.",
        ),
        (
            {"status": 423, "json": {"msg": "server is locked"}},
            PanelRetryableError,
            False,
            "server is locked",
        ),
        (
            {"status": 401, "json": {"errors": ["Unauthenticated &amp; refused"]}},
            PanelPermanentError,
            False,
            "Unauthenticated &amp; refused",
        ),
        ({"body": refused()}, PanelRetryableError, False, "could not be reached"),
        ({"body": requests.ConnectTimeout()}, PanelRetryableError, False, "could not be reached"),
        ({"body": requests.ReadTimeout()}, PanelRetryableError, True, "did not answer in time"),
    ],
)
def test_errors_map_to_retryable_or_permanent(client, mocked, answer, kind, may_have_applied, text):
    mocked.post(f"{API}/selfService/credit/byUserExtRelationId/42", **answer)
    with pytest.raises(kind) as caught:
        client.token_credit_add(
            ext_relation_id=42, tokens=Decimal(1), reference_1=1, reference_2="r"
        )
    assert caught.value.may_have_applied is may_have_applied
    assert text in caught.value.message
    assert len(caught.value.message) < 400
