"""The Pterodactyl adapter against the documented application API (external-apis.md §1), and
provisioning through it: panel down then up, and a create whose answer is lost."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from django.utils import timezone
from responses import matchers

from provisioning import services
from provisioning.errors import PanelPermanentError, PanelRetryableError
from provisioning.models import ProvisioningOperation, Service
from provisioning.panels.base import AccountSpec, ServerCredentials
from provisioning.panels.pterodactyl import PterodactylPanel
from provisioning.tests import vendor_payloads
from provisioning.tests.factories import ServerFactory, panel_product

pytestmark = pytest.mark.django_db

PANEL = "https://panel.example.test"
API = f"{PANEL}/api/application"
KEY = "ptla_" + "a" * 43
HEADERS = {
    "Authorization": f"Bearer {KEY}",
    "Accept": "application/json",
    "Content-Type": "application/json",
}
SETTINGS = {
    "nest": 1,
    "egg": 5,
    "location": 2,
    "memory": 4096,
    "disk": 10240,
    "cpu": 200,
    "databases": 1,
    "backups": 2,
}
NOT_FOUND = vendor_payloads.load("pterodactyl", "not_found")
EGG = vendor_payloads.load("pterodactyl", "egg")


def _server(pk=31, reference="svc-1") -> dict:
    server = vendor_payloads.load("pterodactyl", "server")
    server["attributes"].update(id=pk, external_id=reference)
    return server


def _user(pk=9) -> dict:
    user = vendor_payloads.load("pterodactyl", "user")
    user["attributes"]["id"] = pk
    return user


def _spec(reference="svc-1", service_id=1) -> AccountSpec:
    return AccountSpec(
        reference=reference,
        service_id=service_id,
        customer_id=4,
        email="ada@example.com",
        name="Ada Lovelace",
        settings=SETTINGS,
        hostname="mc.example.net",
    )


@pytest.fixture
def panel() -> PterodactylPanel:
    return PterodactylPanel(ServerCredentials(base_url=PANEL + "/", secrets={"api_key": KEY}))


def _mock_create_path(mocked, *, reference="svc-1", created=True) -> None:
    mocked.get(f"{API}/servers/external/{reference}", status=404, json=NOT_FOUND)
    mocked.get(f"{API}/users/external/cust-4", status=404, json=NOT_FOUND)
    mocked.get(
        f"{API}/users",
        json={"object": "list", "data": []},
        match=[matchers.query_param_matcher({"filter[email]": "ada@example.com"})],
    )
    mocked.post(f"{API}/users", status=201, json=_user())
    mocked.get(
        f"{API}/nests/1/eggs/5",
        json=EGG,
        match=[matchers.query_param_matcher({"include": "variables"})],
    )


def test_create_sends_the_documented_requests(panel, mocked):
    _mock_create_path(mocked)
    body = {
        "name": "mc.example.net",
        "user": 9,
        "egg": 5,
        "docker_image": "ghcr.io/pterodactyl/yolks:java_17",
        "startup": "java -Xms128M -jar {{SERVER_JARFILE}}",
        "environment": {"SERVER_JARFILE": "server.jar", "VERSION": "latest"},
        "limits": {"memory": 4096, "swap": 0, "disk": 10240, "io": 500, "cpu": 200},
        "feature_limits": {"databases": 1, "backups": 2, "allocations": 0},
        "deploy": {"locations": [2], "dedicated_ip": False, "port_range": []},
        "external_id": "svc-1",
        "start_on_completion": True,
    }
    mocked.post(
        f"{API}/servers",
        status=201,
        json=_server(),
        match=[matchers.json_params_matcher(body), matchers.header_matcher(HEADERS)],
    )
    result = panel.create(_spec())
    assert (result.external_id, result.username) == ("31", "c4")
    assert result.panel_url == f"{PANEL}/server/a1b2c3d4"
    assert result.secrets["password"]
    user_call = next(
        c for c in mocked.calls if c.request.method == "POST" and "users" in c.request.url
    )
    sent = json.loads(user_call.request.body)
    fields = ("email", "username", "first_name", "last_name", "external_id")
    assert {k: sent[k] for k in fields} == {
        "email": "ada@example.com",
        "username": "c4",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "external_id": "cust-4",
    }


def test_create_adopts_a_server_carrying_our_reference(panel, mocked):
    mocked.get(f"{API}/servers/external/svc-1", json=_server())
    mocked.get(f"{API}/users/external/cust-4", json=_user())
    result = panel.create(_spec())
    assert result.external_id == "31"
    assert not [c for c in mocked.calls if c.request.method == "POST"]


def test_suspend_unsuspend_terminate_and_package_change(panel, mocked):
    mocked.post(f"{API}/servers/31/suspend", status=204, match=[matchers.header_matcher(HEADERS)])
    mocked.post(f"{API}/servers/31/unsuspend", status=204)
    mocked.delete(f"{API}/servers/31", status=204)
    mocked.delete(f"{API}/servers/32", status=404, json=NOT_FOUND)  # already gone: fine
    mocked.get(f"{API}/servers/31", json=_server())
    build = {
        "allocation": 77,
        "limits": {"memory": 8192, "swap": 0, "disk": 10240, "io": 500, "cpu": 200},
        "feature_limits": {"databases": 1, "backups": 2, "allocations": 0},
    }
    mocked.patch(
        f"{API}/servers/31/build", json=_server(), match=[matchers.json_params_matcher(build)]
    )
    panel.suspend("31", reason="overdue")
    panel.unsuspend("31")
    panel.terminate("31")
    panel.terminate("32")
    panel.change_package("31", settings={**SETTINGS, "memory": 8192})


def test_a_new_egg_also_updates_the_startup(panel, mocked):
    mocked.get(f"{API}/servers/31", json=_server())
    mocked.patch(f"{API}/servers/31/build", json=_server())
    mocked.get(f"{API}/nests/1/eggs/6", json={**EGG, "attributes": {**EGG["attributes"], "id": 6}})
    startup = {
        "startup": "java -Xms128M -jar {{SERVER_JARFILE}}",
        "environment": {"SERVER_JARFILE": "server.jar", "VERSION": "latest"},
        "egg": 6,
        "image": "ghcr.io/pterodactyl/yolks:java_17",
        "skip_scripts": False,
    }
    mocked.patch(
        f"{API}/servers/31/startup", json=_server(), match=[matchers.json_params_matcher(startup)]
    )
    panel.change_package("31", settings={**SETTINGS, "egg": 6})
    assert mocked.calls[-1].request.url == f"{API}/servers/31/startup"


def test_lookups_for_product_setup(panel, mocked):
    nest = {"object": "nest", "attributes": {"id": 1, "name": "Minecraft"}}
    listing = {"object": "list", "data": [nest], "meta": {"pagination": {"total": 1}}}
    mocked.get(f"{API}/nests", json=listing)
    assert panel.nests() == [{"id": 1, "name": "Minecraft"}]


@pytest.mark.parametrize(
    ("answer", "kind", "text"),
    [
        (
            {
                "status": 422,
                "json": {
                    "errors": [
                        {
                            "code": "ValidationException",
                            "status": "422",
                            "detail": "The name field is required.",
                            "meta": {"source_field": "name"},
                        }
                    ]
                },
            },
            PanelPermanentError,
            "The name field is required.",
        ),
        (
            {
                "status": 400,
                "json": {
                    "errors": [
                        {
                            "code": "NoViableNodeException",
                            "status": "400",
                            "detail": "No nodes satisfying the requirements specified were found.",
                        }
                    ]
                },
            },
            PanelPermanentError,
            "No nodes satisfying",
        ),
        (
            {
                "status": 504,
                "json": {
                    "errors": [
                        {
                            "code": "DaemonConnectionException",
                            "status": "504",
                            "detail": "Could not establish a connection to the machine.",
                        }
                    ]
                },
            },
            PanelRetryableError,
            "Could not establish a connection",
        ),
        (
            {
                "status": 429,
                "json": {
                    "errors": [
                        {
                            "code": "TooManyRequestsHttpException",
                            "status": "429",
                            "detail": "Too Many Attempts.",
                        }
                    ]
                },
            },
            PanelRetryableError,
            "Too Many",
        ),
        (
            {
                "status": 403,
                "json": {
                    "errors": [
                        {
                            "code": "AccessDeniedHttpException",
                            "status": "403",
                            "detail": "This action is unauthorized.",
                        }
                    ]
                },
            },
            PanelPermanentError,
            "unauthorized",
        ),
    ],
)
def test_error_envelopes_map_to_clear_errors(panel, mocked, answer, kind, text):
    mocked.post(f"{API}/servers/31/suspend", **answer)
    with pytest.raises(kind, match=text):
        panel.suspend("31", reason="x")


# --- through the operations ---------------------------------------------------------------


def _provisioning_service(customer) -> Service:
    server = ServerFactory(module="pterodactyl", base_url=PANEL, credentials={"api_key": KEY})
    product = panel_product(server, **SETTINGS)
    return Service.objects.create(
        customer=customer,
        product=product,
        cycle="monthly",
        currency="USD",
        recurring_amount=Decimal("10"),
        server=server,
        status="provisioning",
    )


def _run_until_done(operation, *, start) -> ProvisioningOperation:
    now = start
    for _ in range(30):
        operation = services.operation_run(operation_id=operation.pk, now=now)
        if operation.status != "pending":
            return operation
        now = operation.next_attempt_at + timedelta(seconds=1)
    return operation


def test_panel_down_then_up_ends_active_with_one_server(customer, mocked):
    service = _provisioning_service(customer)
    reference = service.reference
    customer_user = {**_user()["attributes"], "external_id": f"cust-{customer.pk}"}
    mocked.get(f"{API}/servers/external/{reference}", status=503, body="<h1>503</h1>")
    mocked.get(f"{API}/servers/external/{reference}", body=requests.ConnectTimeout())
    mocked.get(f"{API}/servers/external/{reference}", body=requests.ReadTimeout())
    mocked.get(f"{API}/servers/external/{reference}", status=404, json=NOT_FOUND)
    mocked.get(
        f"{API}/users/external/cust-{customer.pk}",
        json={"object": "user", "attributes": customer_user},
    )
    mocked.get(f"{API}/nests/1/eggs/5", json=EGG)
    mocked.post(f"{API}/servers", status=201, json=_server(reference=reference))
    operation = ProvisioningOperation.objects.create(
        service=service, kind="create", idempotency_key="k", next_attempt_at=timezone.now()
    )
    operation = _run_until_done(operation, start=timezone.now())
    service.refresh_from_db()
    assert (operation.status, operation.attempts) == ("succeeded", 4)
    assert (service.status, service.external_id) == ("active", "31")
    assert sum(1 for c in mocked.calls if c.request.method == "POST") == 1


def test_a_lost_create_answer_is_adopted_not_duplicated_fifty_times(customer, mocked):
    for round_ in range(50):
        service = _provisioning_service(customer)
        reference, url = service.reference, f"{API}/servers/external/{service.reference}"
        mocked.get(url, status=404, json=NOT_FOUND)  # before the first create
        mocked.get(url, json=_server(pk=1000 + round_, reference=reference))  # after it
        mocked.upsert("GET", f"{API}/users/external/cust-{customer.pk}", json=_user())
        mocked.upsert("GET", f"{API}/nests/1/eggs/5", json=EGG)
        # the panel creates the server, then the answer never arrives
        mocked.upsert("POST", f"{API}/servers", body=requests.ReadTimeout("read timed out"))
        operation = ProvisioningOperation.objects.create(
            service=service,
            kind="create",
            idempotency_key=f"r{round_}",
            next_attempt_at=timezone.now(),
        )
        operation = _run_until_done(operation, start=timezone.now())
        service.refresh_from_db()
        assert operation.status == "succeeded"
        assert service.external_id == str(1000 + round_)
    creates = [
        c for c in mocked.calls if c.request.method == "POST" and c.request.url.endswith("/servers")
    ]
    assert len(creates) == 50  # one create per service; the retry adopted it
