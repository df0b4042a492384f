"""Game server, hosting and support self-service through the client area (Django test client;
operations run on commit as the worker would): every action on the sandbox and on the real
adapters (responses, strict), the pages' live reads and their notice when the panel is down,
bad input refused with a message and no call, and customer isolation for every new action."""

from __future__ import annotations

import base64
import itertools
import uuid
from typing import Any

import pytest
from django.urls import reverse
from responses import matchers

from accounts.tests.factories import CustomerFactory
from billing_portal.common.models import AuditEvent
from provisioning.models import ProvisioningOperation, Service
from provisioning.services.actions import live_reads_forget
from provisioning.tests.factories import ServerFactory, panel_product, service_on
from provisioning.tests.test_panels_self_service import (
    APP_KEY,
    CLIENT_KEY,
    DA,
    DOMAINS,
    PANEL,
    SUPPORT,
    _server,
)

pytestmark = pytest.mark.django_db
Op = ProvisioningOperation
KEYS = (f"{n:032x}" for n in itertools.count(1))


def _fresh(service: Service) -> Service:
    """Forget reads cached for this pk by an earlier run (the test database may reuse ids;
    the cache is shared and never flushed by tests)."""
    live_reads_forget(service.pk)
    return service


def _sandbox_service(stands_in_for: str, **fields: Any) -> Service:
    server = ServerFactory(module="sandbox")
    settings = {"stands_in_for": stands_in_for, "plan": "priority"}
    values: dict[str, Any] = {
        "product": panel_product(server, **settings),
        "status": Service.Status.ACTIVE,
        # unique per run: the sandbox keeps its demo state in the (shared) cache
        "external_id": f"sandbox-{uuid.uuid4().hex[:12]}",
        **fields,
    }
    return _fresh(service_on(server, **values))


def _page(client, service: Service, query: str = "") -> str:
    client.force_login(service.customer.user)
    url = reverse("provisioning:service_detail", args=[service.pk])
    response = client.get(url + query)
    assert response.status_code == 200
    return response.content.decode()


def _act(client, service: Service, action: str, capture, **data: str):
    client.force_login(service.customer.user)
    url = reverse("provisioning:service_action", args=[service.pk, action])
    with capture(execute=True):
        return client.post(url, {"click_key": next(KEYS), **data})


def _last_action(service: Service) -> Op:
    return Op.objects.filter(service=service, kind=Op.Kind.ACTION).latest("pk")


# --- game server --------------------------------------------------------------------------


def test_sandbox_game_server_shows_usage_and_power_runs_without_a_reload(
    client, django_capture_on_commit_callbacks
):
    service = _sandbox_service("pterodactyl", panel_url="http://127.0.0.1:8000/panel")
    page = _page(client, service)
    assert 'data-testid="game-state">Running<' in page
    assert "1536 MB of 4096 MB" in page
    assert "37.5 % of 200 %" in page
    for name in ("start", "restart", "stop", "kill"):
        assert f'data-testid="action-{name}"' in page
    assert 'data-testid="game-panel-link"' in page

    response = _act(client, service, "stop", django_capture_on_commit_callbacks)
    operation = _last_action(service)
    assert response.url.endswith(f"?op={operation.pk}#action-status")
    assert operation.status == Op.Status.SUCCEEDED
    page = _page(client, service, f"?op={operation.pk}")
    assert "The server is stopping." in page
    assert 'data-testid="game-state">Offline<' in page  # the cached read was dropped

    refused = _act(client, service, "kill", django_capture_on_commit_callbacks, confirm="kill")
    assert refused.status_code == 302
    assert Op.objects.filter(service=service).count() == 1
    _act(client, service, "kill", django_capture_on_commit_callbacks, confirm="KILL")
    assert _last_action(service).status == Op.Status.SUCCEEDED


@pytest.mark.parametrize(
    ("signal", "data", "state"),
    [
        ("stop", {}, "Offline"),
        ("start", {}, "Running"),
        ("restart", {}, "Running"),
        ("kill", {"confirm": "KILL"}, "Offline"),
    ],
)
def test_each_power_signal_on_the_sandbox(
    client, django_capture_on_commit_callbacks, signal, data, state
):
    service = _sandbox_service("pterodactyl")
    if signal == "start":
        _act(client, service, "stop", django_capture_on_commit_callbacks)
    _act(client, service, signal, django_capture_on_commit_callbacks, **data)
    assert _last_action(service).payload == {"action": signal, "params": {}}
    assert _last_action(service).status == Op.Status.SUCCEEDED
    assert f'data-testid="game-state">{state}<' in _page(client, service)


def _game_server(client_key: str = CLIENT_KEY, **fields: Any) -> Service:
    secrets = {"api_key": APP_KEY, **({"client_api_key": client_key} if client_key else {})}
    server = ServerFactory(module="pterodactyl", base_url=PANEL, credentials=secrets)
    return _fresh(
        service_on(
            server,
            status=Service.Status.ACTIVE,
            external_id="31",
            panel_url=f"{PANEL}/server/a1b2c3d4",
            **fields,
        )
    )


def test_pterodactyl_power_through_the_client_area(
    client, mocked, django_capture_on_commit_callbacks
):
    service = _game_server()
    mocked.get(f"{PANEL}/api/application/servers/31", json=_server())
    mocked.post(
        f"{PANEL}/api/client/servers/a1b2c3d4/power",
        status=204,
        match=[matchers.json_params_matcher({"signal": "restart"})],
    )
    _act(client, service, "restart", django_capture_on_commit_callbacks)
    operation = _last_action(service)
    assert operation.status == Op.Status.SUCCEEDED
    events = AuditEvent.objects.filter(object_id=str(service.pk)).values_list("action", flat=True)
    assert set(events) >= {"service.action_requested", "service.action_succeeded"}


def test_without_a_client_key_the_page_explains_and_power_is_refused_without_a_call(
    client, mocked, django_capture_on_commit_callbacks
):
    service = _game_server(client_key="")
    mocked.get(f"{PANEL}/api/application/servers/31", json=_server())
    page = _page(client, service)
    assert 'data-testid="game-power-notice"' in page
    assert "Power controls are not set up" in page
    assert 'data-testid="action-start"' not in page
    response = _act(client, service, "start", django_capture_on_commit_callbacks)
    assert response.status_code == 302
    assert not Op.objects.filter(service=service).exists()  # and `mocked` saw no power call
    follow = client.get(response.url).content.decode()
    assert "Power controls are not available" in follow


def test_a_game_panel_that_is_down_leaves_the_page_with_a_notice(client, mocked):
    service = _game_server()
    mocked.get(f"{PANEL}/api/application/servers/31", status=503, body="<h1>Maintenance</h1>")
    page = _page(client, service)
    assert 'data-testid="game-notice"' in page
    assert "not answering" in page


# --- web hosting --------------------------------------------------------------------------


def test_sandbox_directadmin_statistics_domains_and_a_new_database_shown_once(
    client, django_capture_on_commit_callbacks
):
    service = _sandbox_service("directadmin")
    page = _page(client, service)
    assert 'data-testid="hosting-stats"' in page
    assert "812 MB of 10240 MB" in page
    assert "SSL certificates" in page
    assert 'data-testid="hosting-domains"' in page
    assert ".sandbox.test" in page

    _act(client, service, "create_database", django_capture_on_commit_callbacks, name="shop")
    operation = _last_action(service)
    assert operation.status == Op.Status.SUCCEEDED
    assert operation.payload["params"] == {"name": "shop", "user": "shop"}  # no password
    password = operation.secret_result["password"]
    assert password not in str(operation.response_summary)
    page = _page(client, service, f"?op={operation.pk}")
    assert password in page
    assert "_shop" in page
    assert password not in _page(client, service, f"?op={operation.pk}")  # once
    assert "1 of 10" in _page(client, service)  # the statistics were read again


def test_sandbox_nextpanel_statistics_and_one_click_login(client):
    service = _sandbox_service("nextpanel")
    page = _page(client, service)
    assert 'data-testid="hosting-stats"' in page
    assert 'data-testid="hosting-domains"' not in page
    response = client.post(reverse("provisioning:service_login", args=[service.pk]))
    assert response.url == reverse("provisioning:sandbox_panel", args=[service.pk])


def _da_service(version: str = "") -> Service:
    server = ServerFactory(
        module="directadmin",
        base_url=DA,
        credentials={"username": "reseller", "password": "login-key-1"},
        options={"DIRECTADMIN_API_VERSION": version} if version else {},
    )
    return _fresh(
        service_on(
            server,
            status=Service.Status.ACTIVE,
            external_id="u0000012",
            username="u0000012",
            domain="ada.example.com",
        )
    )


def _da_reads(mocked, databases: int = 1) -> None:
    text = {"Content-Type": "text/plain"}
    usage = f"bandwidth=2345&quota=812&vdomains=2&nemails=3&mysql={databases}"
    mocked.get(f"{DA}/CMD_API_SHOW_USER_USAGE", body=usage, headers=text)
    limits = "bandwidth=unlimited&quota=10240&vdomains=5&nemails=50&mysql=10"
    mocked.get(f"{DA}/CMD_API_SHOW_USER_CONFIG", body=limits, headers=text)
    mocked.get(f"{DA}/CMD_API_SHOW_USER_DOMAINS", body=DOMAINS, headers=text)


def test_directadmin_legacy_database_through_the_client_area(
    client, mocked, django_capture_on_commit_callbacks
):
    service = _da_service()
    _da_reads(mocked)
    as_user = "Basic " + base64.b64encode(b"reseller|u0000012:login-key-1").decode()
    mocked.post(
        f"{DA}/CMD_API_DATABASES",
        body="error=0&text=Database Created",
        headers={"Content-Type": "text/plain"},
        match=[matchers.header_matcher({"Authorization": as_user})],
    )
    page = _page(client, service)
    assert "ada.example.com" in page
    assert "shop.ada.example.com" in page
    _act(
        client,
        service,
        "create_database",
        django_capture_on_commit_callbacks,
        name="Shop",
        user="shopper",
    )
    operation = _last_action(service)
    assert operation.status == Op.Status.SUCCEEDED
    body = mocked.calls[-1].request.body
    assert "name=shop" in body
    assert "user=shopper" in body
    assert f"passwd={operation.secret_result['password']}" in body
    assert operation.response_summary["result"] == {
        "database": "u0000012_shop",
        "user": "u0000012_shopper",
    }


def test_directadmin_v2_database_through_the_client_area(
    client, mocked, django_capture_on_commit_callbacks
):
    service = _da_service("v2")
    mocked.get(
        f"{DA}/api/users/u0000012/usage",
        json={"mySqlDatabases": {"usage": 1, "limit": 10}, "domains": {"usage": 2, "limit": 5}},
    )
    mocked.get(
        f"{DA}/CMD_API_SHOW_USER_DOMAINS", body=DOMAINS, headers={"Content-Type": "text/plain"}
    )
    mocked.post(
        f"{DA}/api/db-manage/create-db-with-user",
        json={"database": "u0000012_blog", "dbuser": "u0000012_blog", "password": "x"},
    )
    _act(client, service, "create_database", django_capture_on_commit_callbacks, name="blog")
    operation = _last_action(service)
    assert operation.status == Op.Status.SUCCEEDED
    assert operation.response_summary["result"]["database"] == "u0000012_blog"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "my-db"}, "lowercase letters or digits"),
        ({"name": ""}, "lowercase letters or digits"),
        ({"name": "a" * 17}, "lowercase letters or digits"),
        ({"name": "ok", "user": "bad user"}, "lowercase letters or digits"),
    ],
)
def test_bad_database_names_are_refused_with_a_message_and_no_call(
    client, mocked, django_capture_on_commit_callbacks, data, message
):
    service = _da_service()
    response = _act(client, service, "create_database", django_capture_on_commit_callbacks, **data)
    assert message in client.get(response.url).content.decode()
    assert not Op.objects.filter(service=service).exists()


def test_a_full_database_quota_is_refused_before_any_create(
    client, mocked, django_capture_on_commit_callbacks
):
    service = _da_service()
    _da_reads(mocked, databases=10)
    response = _act(
        client, service, "create_database", django_capture_on_commit_callbacks, name="more"
    )
    assert "10 databases are all in use" in client.get(response.url).content.decode()
    assert not Op.objects.filter(service=service).exists()  # no CMD_API_DATABASES either


def test_a_hosting_panel_that_is_down_leaves_the_page_with_a_notice(client, mocked):
    service = _da_service()
    mocked.get(f"{DA}/CMD_API_SHOW_USER_USAGE", status=502, body="Bad gateway")
    mocked.get(f"{DA}/CMD_API_SHOW_USER_DOMAINS", status=502, body="Bad gateway")
    page = _page(client, service)
    assert 'data-testid="hosting-notice"' in page
    assert "not answering" in page


# --- support subscription -----------------------------------------------------------------


def test_sandbox_support_key_copy_button_and_regeneration(
    client, django_capture_on_commit_callbacks
):
    service = _sandbox_service("support", secrets={"support_key": "SK-OLD"})
    page = _page(client, service)
    assert 'data-testid="support-key">SK-OLD<' in page
    assert 'data-copy-target="support-key"' in page
    assert "js/copy_text.js" in page
    assert 'data-testid="support-tier">Priority<' in page
    assert service.customer.user.email in page

    _act(
        client, service, "regenerate_key", django_capture_on_commit_callbacks, confirm="REGENERATE"
    )
    operation = _last_action(service)
    service.refresh_from_db()
    new_key = service.secrets["support_key"]
    assert operation.status == Op.Status.SUCCEEDED
    assert new_key.startswith("SK-")
    assert new_key != "SK-OLD"
    assert operation.secret_result == {"New support key": new_key}
    page = _page(client, service, f"?op={operation.pk}")
    assert f'data-testid="support-key">{new_key}<' in page
    assert AuditEvent.objects.filter(
        action="service.secret_changed", object_id=str(service.pk)
    ).exists()


def test_support_regeneration_against_the_backend(
    client, mocked, django_capture_on_commit_callbacks
):
    server = ServerFactory(module="support", base_url=SUPPORT, credentials={"token": "tok-1"})
    service = _fresh(
        service_on(
            server,
            status=Service.Status.ACTIVE,
            external_id="svc-5",
            secrets={"support_key": "SK-OLD"},
        )
    )
    mocked.get(
        f"{SUPPORT}/support/svc-5",
        json={"status": "active", "tier": "business", "email": "help@ada.example"},
    )
    mocked.post(
        f"{SUPPORT}/support/regenerate",
        json={"support_key": "SK-NEW"},
        match=[matchers.json_params_matcher({"service_id": "svc-5"})],
    )
    page = _page(client, service)
    assert 'data-testid="support-tier">Business<' in page
    assert "help@ada.example" in page
    missing = _act(client, service, "regenerate_key", django_capture_on_commit_callbacks)
    assert "Type REGENERATE to confirm" in client.get(missing.url).content.decode()
    _act(
        client, service, "regenerate_key", django_capture_on_commit_callbacks, confirm="REGENERATE"
    )
    service.refresh_from_db()
    assert service.secrets == {"support_key": "SK-NEW"}


def test_a_support_backend_refusal_is_shown_cleaned_and_keeps_the_key(
    client, mocked, django_capture_on_commit_callbacks
):
    server = ServerFactory(module="support", base_url=SUPPORT, credentials={"token": "tok-1"})
    service = _fresh(
        service_on(
            server,
            status=Service.Status.ACTIVE,
            external_id="svc-6",
            secrets={"support_key": "SK-1"},
        )
    )
    mocked.post(
        f"{SUPPORT}/support/regenerate", status=422, json={"detail": "Subscription is locked"}
    )
    _act(
        client, service, "regenerate_key", django_capture_on_commit_callbacks, confirm="REGENERATE"
    )
    operation = _last_action(service)
    assert operation.status == Op.Status.FAILED
    mocked.get(f"{SUPPORT}/support/svc-6", json={"status": "locked"})
    page = _page(client, service, f"?op={operation.pk}")
    assert 'data-testid="action-error">Subscription is locked<' in page
    service.refresh_from_db()
    assert service.secrets == {"support_key": "SK-1"}


# --- isolation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "name", "data"),
    [
        (lambda: _game_server(), "start", {}),
        (lambda: _game_server(), "kill", {"confirm": "KILL"}),
        (lambda: _da_service(), "create_database", {"name": "shop"}),
        (
            lambda: service_on(
                ServerFactory(module="support", base_url=SUPPORT, credentials={"token": "t"}),
                status=Service.Status.ACTIVE,
                external_id="svc-7",
            ),
            "regenerate_key",
            {"confirm": "REGENERATE"},
        ),
    ],
)
def test_another_customer_gets_404_and_no_call(client, mocked, make, name, data):
    service = make()
    intruder = CustomerFactory()
    client.force_login(intruder.user)
    url = reverse("provisioning:service_action", args=[service.pk, name])
    response = client.post(url, {"click_key": next(KEYS), **data})
    assert response.status_code == 404
    assert not Op.objects.filter(service=service).exists()  # `mocked` saw no request either


# --- acceptance 1: the demo customer orders each kind on the sandbox and uses its controls --


@pytest.mark.parametrize(
    ("slug", "fields", "action", "data", "section"),
    [
        ("minecraft-4gb", {"hostname": "mc.demo.test"}, "restart", {}, "game-server"),
        (
            "hosting-directadmin",
            {"domain": "da.demo.test"},
            "create_database",
            {"name": "shop"},
            "hosting-domains",
        ),
        ("hosting-nextpanel", {"domain": "np.demo.test"}, "", {}, "hosting-stats"),
        (
            "support-priority",
            {},
            "regenerate_key",
            {"confirm": "REGENERATE"},
            "support-subscription",
        ),
    ],
)
def test_the_demo_customer_orders_and_uses_each_kind(
    client, django_capture_on_commit_callbacks, slug, fields, action, data, section
):
    import io

    from django.core.management import call_command

    from accounts.models import Customer
    from catalogue.models import Product
    from invoices.models import Invoice

    call_command("seed_demo", stdout=io.StringIO())
    customer = Customer.objects.get(user__email="demo@example.com")
    client.force_login(customer.user)
    form = {"cycle": "monthly", "place": "1", **fields}
    for option in Product.objects.get(slug=slug).options.all():
        form[f"option_{option.pk}"] = "0"
    response = client.post(f"/order/{slug}/", form)
    assert response.status_code == 302, response.content.decode()[-2000:]
    invoice = Invoice.objects.filter(customer=customer).latest("pk")
    nonce = client.get(response.url).context["pay_nonce"]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("credits:pay_invoice", args=[invoice.pk]), {"nonce": nonce})
    service = _fresh(Service.objects.get(customer=customer, product__slug=slug))
    assert service.status == Service.Status.ACTIVE
    page = _page(client, service)
    assert f'data-testid="{section}"' in page
    if action:
        _act(client, service, action, django_capture_on_commit_callbacks, **data)
        assert _last_action(service).status == Op.Status.SUCCEEDED
