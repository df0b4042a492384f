"""The staff infrastructure API (billing/api/staff_servers.py): servers (CRUD with
write-only credentials, status, a health check) and services (list, detail, set up,
suspend, unsuspend, terminate, statistics), each behind a staff scope and the permission the
admin asks for the same thing. The panel is a NextPanel-style one, mocked at the edge with
the requests documented in external-apis.md §7."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from responses import matchers

from accounts import services as account_services
from accounts.tests.factories import CustomerFactory
from accounts.tests.helpers import role_member, staff_user
from billing_portal.common.models import AuditEvent
from provisioning.models import ProvisioningOperation, Server, Service
from provisioning.tests import vendor_payloads
from provisioning.tests.factories import ServerFactory, ServerGroupFactory, panel_product

pytestmark = pytest.mark.django_db

ERROR_KEYS = {"type", "code", "detail", "errors"}
NP = "http://np.example.test:3000"
NP_SECRETS = {"api_key": "npk_abc", "api_secret": "nps_def"}
NP_HEADERS = {"X-API-Key": "npk_abc", "X-API-Secret": "nps_def", "Content-Type": "application/json"}
STAFF_SCOPES = ("staff:read", "staff:services")
BASE = "/api/v1/staff"


def staff_api(user, *scopes: str) -> Client:
    scopes = scopes or STAFF_SCOPES
    new = account_services.api_key_create(user=user, name="Ops", scopes=list(scopes))
    return Client(HTTP_AUTHORIZATION=f"Bearer {new.token}")


def post(client: Client, url: str, data: dict[str, Any] | None = None, key: str = "") -> Any:
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(url, json.dumps(data or {}), content_type="application/json", **headers)


def patch(client: Client, url: str, data: dict[str, Any]) -> Any:
    return client.patch(url, json.dumps(data), content_type="application/json")


def server_body(**fields: Any) -> dict[str, Any]:
    return {
        "module": "nextpanel",
        "name": "np-1",
        "base_url": NP,
        "capacity_accounts": 50,
        "location": "Amsterdam",
        "credentials": NP_SECRETS,
        **fields,
    }


def pending_on(server: Server) -> Service:
    product = panel_product(server, package_id=3)
    return Service.objects.create(
        customer=CustomerFactory(),
        product=product,
        cycle="monthly",
        currency="USD",
        recurring_amount=10,
        server=server,
        domain="shop.example.test",
    )


def changes():
    """The audit events of servers and services (not of the keys the tests make)."""
    return AuditEvent.objects.exclude(action__startswith="api_key.").order_by("pk")


@pytest.fixture
def admin_api() -> Client:
    return staff_api(role_member("Administrator"))


# --- acceptance 1 -------------------------------------------------------------------------


def test_a_staff_key_runs_a_nextpanel_account_from_server_to_deletion(
    mocked, django_capture_on_commit_callbacks
):
    client = staff_api(role_member("Administrator"))
    headers = [matchers.header_matcher(NP_HEADERS)]

    # Add a NextPanel-style server: its credentials are never answered.
    group = ServerGroupFactory()
    created = post(client, f"{BASE}/servers/", server_body(group=group.pk), key="add-np-1")
    assert created.status_code == 201, created.json()
    server_data = created.json()
    assert "credentials" not in server_data
    assert "npk_abc" not in created.content.decode()
    assert "nps_def" not in created.content.decode()
    assert server_data["credential_keys"] == ["api_key", "api_secret"]
    server = Server.objects.get(pk=server_data["id"])
    assert server.credentials == NP_SECRETS

    # Check it now, then its status.
    mocked.get(f"{NP}/api/health", json={"status": "ok"}, match=headers)
    checked = post(client, f"{BASE}/servers/{server.pk}/check/")
    assert checked.json()["is_online"] is True
    status = client.get(f"{BASE}/servers/status/").json()
    assert [row for row in status if row["server_id"] == server.pk] == [
        {
            "server_id": server.pk,
            "name": "np-1",
            "module": "nextpanel",
            "url": NP,
            "is_active": True,
            "is_online": True,
            "current_accounts": 0,
            "capacity": 50,
            "available_slots": 50,
            "utilisation": 0.0,
            "last_checked_at": checked.json()["last_checked_at"],
            "last_check_error": "",
        }
    ]

    # Provision an account on it.
    service = pending_on(server)
    mocked.post(
        f"{NP}/api/v1/billing/accounts",
        status=201,
        json={"id": 88, "username": f"np{service.pk}"},
        match=[
            *headers,
            matchers.json_params_matcher(
                {
                    "username": f"np{service.pk}",
                    "email": service.customer.user.email,
                    "package_id": 3,
                    "is_admin": False,
                    "billing_id": service.reference,
                },
                strict_match=False,
            ),
        ],
    )
    with django_capture_on_commit_callbacks(execute=True):
        provisioned = post(
            client, f"{BASE}/services/{service.pk}/provision/", {"reason": "Trial"}, key="p-1"
        )
    assert provisioned.status_code == 200, provisioned.json()
    assert provisioned.json()["status"] == "provisioning"  # until the panel confirms
    service.refresh_from_db()
    assert (service.status, service.external_id) == ("active", "88")

    # Suspend it with a reason: the panel gets the reason.
    mocked.post(
        f"{NP}/api/v1/billing/accounts/88/suspend",
        json={},
        match=[*headers, matchers.json_params_matcher({"reason": "Abuse report #12"})],
    )
    with django_capture_on_commit_callbacks(execute=True):
        suspended = post(
            client, f"{BASE}/services/{service.pk}/suspend/", {"reason": "Abuse report #12"}
        )
    assert suspended.json()["status"] == "suspended"

    # Its statistics, live from the panel.
    mocked.get(
        f"{NP}/api/v1/billing/accounts/88/stats",
        json=vendor_payloads.load("nextpanel", "account_stats"),
        match=headers,
    )
    stats = client.get(f"{BASE}/services/{service.pk}/stats/").json()
    assert stats["module"] == "nextpanel"
    assert (stats["stats"]["domains"], stats["stats"]["email_accounts"]) == (2, 5)
    assert stats["stats"]["storage_mb"] == 700

    # Delete it (terminate): the panel account goes.
    mocked.delete(f"{NP}/api/v1/billing/accounts/88", json={}, match=headers)
    with django_capture_on_commit_callbacks(execute=True):
        deleted = post(client, f"{BASE}/services/{service.pk}/terminate/", {"reason": "Closed"})
    assert deleted.json()["status"] == "terminated"
    kinds = ProvisioningOperation.objects.filter(service=service).order_by("pk")
    assert [(op.kind, op.status) for op in kinds] == [
        ("create", "succeeded"),
        ("suspend", "succeeded"),
        ("terminate", "succeeded"),
    ]
    assert [(e.action, e.details.get("reason")) for e in changes().filter(actor__isnull=False)] == [
        ("server.created", None),
        ("service.provisioned", "Trial"),
        ("service.suspended", "Abuse report #12"),
        ("service.terminated", "Closed"),
    ]


# --- who may ------------------------------------------------------------------------------


def _every_endpoint(server: Server, service: Service) -> list[tuple[str, str, dict]]:
    s, v = f"{BASE}/servers/{server.pk}/", f"{BASE}/services/{service.pk}/"
    return [
        ("get", f"{BASE}/servers/", {}),
        ("post", f"{BASE}/servers/", server_body()),
        ("get", f"{BASE}/servers/status/", {}),
        ("get", s, {}),
        ("patch", s, {"location": "Paris"}),
        ("delete", s, {}),
        ("post", f"{s}check/", {}),
        ("get", f"{BASE}/services/", {}),
        ("get", v, {}),
        ("post", f"{v}provision/", {"reason": "Trial"}),
        ("post", f"{v}suspend/", {"reason": "x"}),
        ("post", f"{v}unsuspend/", {}),
        ("post", f"{v}terminate/", {"reason": "x"}),
        ("get", f"{v}stats/", {}),
    ]


def _send(client: Client, method: str, url: str, data: dict) -> Any:
    if method == "get":
        return client.get(url)
    if method == "delete":
        return client.delete(url)
    return getattr(client, method)(
        url, json.dumps(data), content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1"
    )


def test_a_customer_key_is_refused_on_every_endpoint(customer):
    servers = Server.objects.count()
    server = ServerFactory()
    service = pending_on(server)
    everything = ["read", "services", "billing", "dns"]
    new = account_services.api_key_create(user=customer.user, name="c", scopes=everything)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {new.token}")
    for method, url, data in _every_endpoint(server, service):
        response = _send(client, method, url, data)
        assert response.status_code == 403, (method, url, response.status_code)
        assert set(response.json()) == ERROR_KEYS
    assert Server.objects.count() == servers + 1
    assert Service.objects.get().status == "pending"


def test_staff_without_the_role_permission_are_refused_on_every_endpoint():
    servers = Server.objects.count()
    server = ServerFactory()
    service = pending_on(server)
    client = staff_api(staff_user())  # staff, both scopes, no permission
    for method, url, data in _every_endpoint(server, service):
        response = _send(client, method, url, data)
        assert response.status_code == 403, (method, url, response.status_code)
        assert "staff role" in response.json()["detail"]
    assert Server.objects.count() == servers + 1


def test_roles_decide_support_suspends_but_neither_terminates_nor_adds_servers(
    django_capture_on_commit_callbacks,
):
    server = ServerFactory()
    service = pending_on(server)
    Service.objects.filter(pk=service.pk).update(status="active")
    support = staff_api(role_member("Support"))
    assert post(support, f"{BASE}/servers/", server_body(), key="a").status_code == 403
    assert support.get(f"{BASE}/servers/").status_code == 403
    assert support.get(f"{BASE}/services/").json()["count"] == 1
    url = f"{BASE}/services/{service.pk}/"
    assert post(support, f"{url}terminate/", {"reason": "x"}).status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        assert post(support, f"{url}suspend/", {"reason": "Late"}).json()["status"] == "suspended"
        assert post(support, f"{url}unsuspend/").json()["status"] == "active"
    technical = staff_api(role_member("Technical"))
    assert technical.get(f"{BASE}/servers/").json()["count"] == Server.objects.count()
    assert post(technical, f"{url}suspend/", {"reason": "x"}).status_code == 403


def test_reads_need_staff_read_and_writes_staff_services():
    server = ServerFactory()
    admin = role_member("Administrator")
    reader = staff_api(admin, "staff:read")
    assert reader.get(f"{BASE}/servers/{server.pk}/").status_code == 200
    assert patch(reader, f"{BASE}/servers/{server.pk}/", {"location": "X"}).status_code == 403
    writer = staff_api(admin, "staff:services")
    assert writer.get(f"{BASE}/servers/{server.pk}/").status_code == 403
    assert patch(writer, f"{BASE}/servers/{server.pk}/", {"location": "X"}).status_code == 200


# --- servers ------------------------------------------------------------------------------


def test_credentials_are_written_never_answered(admin_api):
    server = ServerFactory(credentials={"api_key": "ptla_secret_value"})
    answers = [
        admin_api.get(f"{BASE}/servers/"),
        admin_api.get(f"{BASE}/servers/{server.pk}/"),
        admin_api.get(f"{BASE}/servers/status/"),
        patch(admin_api, f"{BASE}/servers/{server.pk}/", {"credentials": {"api_key": "new_v"}}),
        post(admin_api, f"{BASE}/servers/", server_body(name="np-2"), key="c-2"),
    ]
    for answer in answers:
        assert answer.status_code in (200, 201)
        text = answer.content.decode()
        assert "ptla_secret_value" not in text
        assert "new_v" not in text
        assert "nps_def" not in text
        assert '"credentials"' not in text
    server.refresh_from_db()
    assert server.credentials == {"api_key": "new_v"}


def test_a_change_without_credentials_keeps_them_and_is_audited(admin_api):
    server = ServerFactory(credentials={"api_key": "keep"})
    changed = patch(admin_api, f"{BASE}/servers/{server.pk}/", {"capacity_accounts": 20})
    assert changed.json()["capacity_accounts"] == 20
    server.refresh_from_db()
    assert (server.capacity_accounts, server.credentials) == (20, {"api_key": "keep"})
    event = AuditEvent.objects.get(action="server.changed")
    assert event.details == {"changed": ["capacity_accounts"]}
    assert "keep" not in json.dumps(event.details)


def test_servers_list_filters(admin_api):
    group = ServerGroupFactory()
    ServerFactory(name="a", group=group, module="sandbox", is_online=False)
    ServerFactory(name="b", group=group, module="nextpanel", credentials=NP_SECRETS)

    def names(query: str) -> list[str]:
        rows = admin_api.get(f"{BASE}/servers/?group={group.pk}&{query}").json()["results"]
        return [row["name"] for row in rows]

    assert names("") == ["a", "b"]
    assert names("module=nextpanel") == ["b"]
    assert names("is_online=false") == ["a"]
    assert admin_api.get(f"{BASE}/servers/?group=1.5").status_code == 400


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"module": "nope"}, "module"),
        ({"base_url": "not a url"}, "base_url"),
        ({"credentials": {}}, "credentials"),
        ({"credentials": {"api_key": ["x"]}}, "credentials"),
        ({"credentials": None}, "credentials"),
        ({"name": ""}, "name"),
        ({"capacity_accounts": -1}, "capacity_accounts"),
        ({"capacity_accounts": "many"}, "capacity_accounts"),
        ({"group": 999999}, "group"),
        ({"options": {"a": "\u0000"}}, "options"),
        ({"tags": "x"}, "tags"),
    ],
)
def test_bad_server_input_is_400_with_the_error_shape_and_no_change(admin_api, fields, field):
    servers = Server.objects.count()
    response = post(admin_api, f"{BASE}/servers/", server_body(**fields), key=f"bad-{field}")
    assert response.status_code == 400
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert body["type"] == "validation_error"
    assert field in {name.split(".")[0] for name in body["errors"]}, body
    assert Server.objects.count() == servers
    assert not changes().exists()


def test_the_admin_forms_rules_apply_to_a_change(admin_api):
    ServerFactory(name="taken")
    server = ServerFactory(current_accounts=5)
    url = f"{BASE}/servers/{server.pk}/"
    taken = patch(admin_api, url, {"name": "taken"})
    assert taken.status_code == 400
    assert "name" in taken.json()["errors"]
    below = patch(admin_api, url, {"capacity_accounts": 2})  # 5 accounts are on it
    assert below.status_code == 400
    assert "cannot be lower than the accounts already on" in below.json()["detail"]
    server.refresh_from_db()
    assert (server.capacity_accounts, server.name) == (10, server.name)
    assert not changes().exists()


def test_a_server_holding_services_is_not_deleted(admin_api):
    server = ServerFactory()
    pending_on(server)
    refused = admin_api.delete(f"{BASE}/servers/{server.pk}/")
    assert refused.status_code == 409
    assert refused.json()["code"] == "server_in_use"
    empty = ServerFactory()
    assert admin_api.delete(f"{BASE}/servers/{empty.pk}/").status_code == 204
    assert Server.objects.filter(pk=server.pk).exists()
    assert not Server.objects.filter(pk=empty.pk).exists()
    assert AuditEvent.objects.get(action="server.deleted").details["name"] == empty.name


def test_creating_a_server_replays_for_the_same_key(admin_api):
    first = post(admin_api, f"{BASE}/servers/", server_body(), key="same")
    again = post(admin_api, f"{BASE}/servers/", server_body(), key="same")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert again.content == first.content
    assert Server.objects.filter(name="np-1").count() == 1
    assert post(admin_api, f"{BASE}/servers/", server_body()).status_code == 400  # no key


def test_a_failed_check_records_the_server_offline(admin_api, mocked):
    server = ServerFactory(module="nextpanel", base_url=NP, credentials=NP_SECRETS)
    mocked.get(f"{NP}/api/health", status=401, json={"detail": "Invalid API key"})
    checked = post(admin_api, f"{BASE}/servers/{server.pk}/check/").json()
    assert checked["is_online"] is False
    assert checked["last_check_error"]


# --- services -----------------------------------------------------------------------------


def test_services_list_and_detail_show_every_customers_without_secrets(admin_api):
    server = ServerFactory()
    first, second = pending_on(server), pending_on(server)
    Service.objects.filter(pk=first.pk).update(secrets={"password": "s3cret"}, status="active")
    listing = admin_api.get(f"{BASE}/services/").json()
    assert [row["id"] for row in listing["results"]] == [second.pk, first.pk]
    only = admin_api.get(f"{BASE}/services/?status=active&customer={first.customer_id}").json()
    assert [row["id"] for row in only["results"]] == [first.pk]
    detail = admin_api.get(f"{BASE}/services/{first.pk}/")
    assert detail.json()["customer_email"] == first.customer.user.email
    assert detail.json()["server_name"] == server.name
    assert "s3cret" not in detail.content.decode()


def test_unknown_ids_are_404(admin_api):
    # Every endpoint of one object, with ids no row has (the lists have no id).
    missing = [
        (method, url, data)
        for method, url, data in _every_endpoint(Server(pk=99999999), Service(pk=99999999))
        if "99999999" in url
    ]
    assert len(missing) == 10
    for method, url, data in missing:
        response = _send(admin_api, method, url, data)
        assert response.status_code == 404, (method, url, response.status_code)
        assert set(response.json()) == ERROR_KEYS
    big = admin_api.get(f"{BASE}/services/99999999999999999999/")
    assert big.status_code == 404
    assert not changes().exists()


def test_refused_changes_are_400_and_change_nothing(admin_api):
    service = pending_on(ServerFactory())
    url = f"{BASE}/services/{service.pk}/"
    no_reason = post(admin_api, f"{url}suspend/", {})
    assert no_reason.status_code == 400
    assert "reason" in no_reason.json()["errors"]
    pending = post(admin_api, f"{url}suspend/", {"reason": "x"})  # a pending one cannot be
    assert pending.status_code == 400
    assert pending.json()["code"] == "invalid_service_transition"
    no_key = post(admin_api, f"{url}provision/", {"reason": "Trial"})
    assert no_key.status_code == 400
    assert "Idempotency-Key" in no_key.json()["errors"]
    blank = post(admin_api, f"{url}provision/", {"reason": " "}, key="b")
    assert blank.status_code == 400
    service.refresh_from_db()
    assert service.status == "pending"
    assert not ProvisioningOperation.objects.exists()
    assert not changes().exists()


def test_stats_of_a_service_not_on_its_panel_is_a_clear_400(admin_api):
    service = pending_on(ServerFactory())
    response = admin_api.get(f"{BASE}/services/{service.pk}/stats/")
    assert response.status_code == 400
    assert response.json()["code"] == "not_on_panel"


def test_stats_while_the_panel_is_down_is_503(admin_api, mocked):
    server = ServerFactory(module="nextpanel", base_url=NP, credentials=NP_SECRETS)
    service = pending_on(server)
    Service.objects.filter(pk=service.pk).update(status="active", external_id="88")
    mocked.get(f"{NP}/api/v1/billing/accounts/88/stats", status=502)
    admin_api.raise_request_exception = False  # a 5xx is reported, as it should be
    response = admin_api.get(f"{BASE}/services/{service.pk}/stats/")
    assert response.status_code == 503
    assert set(response.json()) == ERROR_KEYS


def test_provisioning_replays_for_the_same_key(admin_api, django_capture_on_commit_callbacks):
    service = pending_on(ServerFactory())  # the sandbox panel
    url = f"{BASE}/services/{service.pk}/provision/"
    with django_capture_on_commit_callbacks(execute=True):
        first = post(admin_api, url, {"reason": "Trial"}, key="once")
    again = post(admin_api, url, {"reason": "Trial"}, key="once")
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert ProvisioningOperation.objects.filter(service=service, kind="create").count() == 1
    other = post(admin_api, url, {"reason": "Other"}, key="once")
    assert other.status_code == 422
