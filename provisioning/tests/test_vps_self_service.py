"""VPS self-service through the client area (provisioning.services.actions_virtfusion,
billing.views.self_service): every control on the sandbox standing in for VirtFusion, then
against VirtFusion's API (mocked with `responses` at the documented paths): refusals before
any call, the retry rule per action, customer isolation and a panel that is down."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from itertools import count
from typing import Any

import pytest
import requests
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse
from responses import matchers

from accounts.models import Customer
from accounts.tests.factories import CustomerFactory
from accounts.tests.helpers import assert_customer_isolation
from invoices.models import Invoice
from provisioning.models import ProvisioningOperation, Service
from provisioning.tests.factories import ServerFactory, panel_product

pytestmark = pytest.mark.django_db
Op = ProvisioningOperation
_KEYS = count(1)
VF = "https://vf.example.test"
API = f"{VF}/api/v1"
HEADERS = {
    "Authorization": "Bearer vf-token",
    "Accept": "application/json",
    "Content-Type": "application/json",
}


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _key() -> str:
    return f"{next(_KEYS):032x}"


def _service(module: str, customer=None, **server: Any) -> Service:
    server_row = ServerFactory(module=module, **server)
    settings = {"stands_in_for": "virtfusion"} if module == "sandbox" else {"package_id": 1}
    return Service.objects.create(
        customer=customer or CustomerFactory(),
        product=panel_product(server_row, **settings),
        cycle="monthly",
        currency="USD",
        recurring_amount=Decimal("10"),
        server=server_row,
        status=Service.Status.ACTIVE,
        external_id="sandbox-svc-vps" if module == "sandbox" else "6",
    )


@pytest.fixture
def sandbox_vps() -> Service:
    return _service("sandbox")


@pytest.fixture
def vf_vps() -> Service:
    return _service("virtfusion", base_url=VF, credentials={"api_token": "vf-token"})


def _post(client, service: Service, action: str, capture, **data: str):
    url = reverse("provisioning:service_action", args=[service.pk, action])
    with capture(execute=True):
        return client.post(url, {"click_key": _key(), **data})


def _run(client, service: Service, action: str, capture, **data: str) -> tuple[Op, str]:
    """POST the action without JavaScript, then open the page it redirects to."""
    client.force_login(service.customer.user)
    response = _post(client, service, action, capture, **data)
    assert response.status_code == 302, response.content
    operation = Op.objects.filter(service=service, kind=Op.Kind.ACTION).latest("pk")
    return operation, client.get(response.url).content.decode()


def _page(client, service: Service) -> str:
    client.force_login(service.customer.user)
    response = client.get(reverse("provisioning:service_detail", args=[service.pk]))
    assert response.status_code == 200
    return response.content.decode()


# --- the sandbox (make run's demo) ---------------------------------------------------------


def test_the_sandbox_vps_page_shows_every_control(client, sandbox_vps):
    page = _page(client, sandbox_vps)
    for testid in (
        "action-boot",
        "action-shutdown",
        "action-restart",
        "action-poweroff",
        "action-reinstall",
        "confirm-reinstall",
        "action-console",
        "vps-panel-console",
        "action-iso_mount",
        "action-password_reset",
        "vps-usage",
        "vps-traffic",
    ):
        assert f'data-testid="{testid}"' in page, testid
    assert "Debian 12" in page
    assert "SystemRescue 11" in page
    assert 'data-testid="vps-state">Running' in page
    assert reverse("provisioning:service_change", args=[sandbox_vps.pk]) in page
    assert "of 1000 GB this period" in page


@pytest.mark.parametrize(
    ("action", "data", "shown"),
    [
        ("boot", {}, "The server is booting."),
        ("restart", {}, "The server is restarting."),
        ("poweroff", {}, "The server was powered off."),
        ("console", {}, "Console access is open"),
        ("iso_mount", {"iso_id": "201"}, "The ISO image is mounted"),
        ("password_reset", {}, "The root password was reset."),
        (
            "reinstall",
            {"os_template_id": "102", "confirm": "REINSTALL"},
            "The reinstall has started",
        ),
    ],
)
def test_each_action_runs_on_the_sandbox(
    client, sandbox_vps, django_capture_on_commit_callbacks, action, data, shown
):
    operation, page = _run(client, sandbox_vps, action, django_capture_on_commit_callbacks, **data)
    operation.refresh_from_db()
    assert operation.status == Op.Status.SUCCEEDED, operation.last_error
    assert 'data-status="succeeded"' in page
    assert shown in page


def test_a_shut_down_shows_on_the_page_and_the_new_password_is_shown_once(
    client, sandbox_vps, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    _run(client, sandbox_vps, "shutdown", capture)
    assert 'data-testid="vps-state">Stopped' in _page(client, sandbox_vps)

    operation, page = _run(client, sandbox_vps, "password_reset", capture)
    password = re.search(r'data-testid="action-secret">.*?<code>([^<]+)</code>', page, re.S)
    assert password is not None
    operation.refresh_from_db()
    assert operation.secret_result == {}  # taken as it was shown
    assert password.group(1) not in str(operation.response_summary)
    again = client.get(
        f"{reverse('provisioning:service_detail', args=[sandbox_vps.pk])}?op={operation.pk}"
    )
    assert password.group(1) not in again.content.decode()


def test_mount_then_unmount_an_iso_on_the_sandbox(
    client, sandbox_vps, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    _run(client, sandbox_vps, "iso_mount", capture, iso_id="202")
    page = _page(client, sandbox_vps)
    assert 'data-testid="vps-iso-mounted">Mounted: <strong>Debian 12 netinst' in page
    operation, _ = _run(client, sandbox_vps, "iso_unmount", capture)
    operation.refresh_from_db()
    assert operation.status == Op.Status.SUCCEEDED
    assert 'data-testid="vps-iso-mounted"' not in _page(client, sandbox_vps)


@pytest.mark.parametrize(
    ("action", "data", "message"),
    [
        ("reinstall", {"os_template_id": "999", "confirm": "REINSTALL"}, "is not offered"),
        ("reinstall", {"os_template_id": "abc", "confirm": "REINSTALL"}, "Choose operating"),
        ("reinstall", {"os_template_id": "101", "confirm": "reinstall"}, "Type REINSTALL"),
        ("iso_mount", {"iso_id": "7"}, "This ISO image is not offered"),
        ("iso_mount", {}, "Choose ISO image"),
        ("iso_unmount", {}, "No ISO image is mounted"),
        ("resize", {}, "no such action"),
    ],
)
def test_bad_input_gives_a_message_and_records_nothing(
    client, sandbox_vps, django_capture_on_commit_callbacks, action, data, message
):
    client.force_login(sandbox_vps.customer.user)
    response = _post(client, sandbox_vps, action, django_capture_on_commit_callbacks, **data)
    assert response.status_code == 302
    assert message in client.get(response.url).content.decode()
    assert not Op.objects.filter(kind=Op.Kind.ACTION).exists()


def test_another_customers_vps_is_not_found_and_nothing_runs(
    client, sandbox_vps, django_capture_on_commit_callbacks
):
    owner = sandbox_vps.customer
    operation, _ = _run(client, sandbox_vps, "boot", django_capture_on_commit_callbacks)
    intruder = CustomerFactory()
    assert_customer_isolation(
        client,
        urls=[
            reverse("provisioning:service_detail", args=[sandbox_vps.pk]),
            reverse("provisioning:service_operation", args=[sandbox_vps.pk, operation.pk]),
        ],
        owner=owner,
        intruder=intruder,
    )
    client.force_login(intruder.user)
    for action in ("boot", "shutdown", "restart", "poweroff", "console", "password_reset"):
        url = reverse("provisioning:service_action", args=[sandbox_vps.pk, action])
        assert client.post(url, {"click_key": _key()}).status_code == 404
    for action, data in (
        ("reinstall", {"os_template_id": "101", "confirm": "REINSTALL"}),
        ("iso_mount", {"iso_id": "201"}),
        ("iso_unmount", {}),
    ):
        url = reverse("provisioning:service_action", args=[sandbox_vps.pk, action])
        assert client.post(url, {"click_key": _key(), **data}).status_code == 404
    assert Op.objects.filter(kind=Op.Kind.ACTION).count() == 1


def test_a_suspended_vps_shows_no_controls_and_refuses_actions(
    client, sandbox_vps, django_capture_on_commit_callbacks
):
    Service.objects.filter(pk=sandbox_vps.pk).update(status=Service.Status.SUSPENDED)
    page = _page(client, sandbox_vps)
    assert 'data-testid="vps-controls"' not in page
    response = _post(client, sandbox_vps, "boot", django_capture_on_commit_callbacks)
    assert "suspended" in client.get(response.url).content.decode()
    assert not Op.objects.filter(kind=Op.Kind.ACTION).exists()


# --- against VirtFusion's API ---------------------------------------------------------------

SERVER = {
    "data": {
        "id": 6,
        "name": "svc-1",
        "state": "complete",
        "settings": {"resources": {"memory": 2048, "storage": 40, "traffic": 500, "cpuCores": 2}},
        "media": {"isoMounted": False},
        "remoteState": {
            "state": "running",
            "cpu": 12.5,
            "memory": {"available": 2097152, "unused": 1048576},
            "agent": {"fsinfo": [{"used-bytes": 5 * 1024**3, "total-bytes": 40 * 1024**3}]},
        },
    }
}
TEMPLATES = {
    "data": [
        {"id": 1, "name": "Debian", "templates": [{"id": 31, "name": "Debian", "version": "12"}]}
    ]
}
ISOS = {"current_page": 1, "data": [{"id": 4, "name": "SystemRescue", "enabled": True}]}
TRAFFIC = {
    "data": {
        "monthly": [
            {
                "start": "2026-12-01",
                "end": "2026-12-31",
                "rx": 3 * 1024**3,
                "tx": 1024**3,
                "total": 4 * 1024**3,
                "limit": 500,
            }
        ]
    }
}


def _page_reads(mocked) -> None:
    mocked.get(
        f"{API}/servers/6",
        json=SERVER,
        match=[matchers.query_param_matcher({"remoteState": "true"})],
    )
    mocked.get(f"{API}/servers/6/traffic", json=TRAFFIC)
    mocked.get(f"{API}/servers/6/templates", json=TEMPLATES)
    mocked.get(
        f"{API}/media/iso", json=ISOS, match=[matchers.query_param_matcher({"results": "200"})]
    )


def test_the_virtfusion_page_reads_state_usage_traffic_and_the_lists(client, vf_vps, mocked):
    _page_reads(mocked)
    page = _page(client, vf_vps)
    assert 'data-testid="vps-state">Running' in page
    assert "12.5% of 2 cores" in page
    assert "1024 MB of 2048 MB" in page
    assert "5.0 GB of 40 GB" in page
    assert "4.0 GB of 500 GB this period" in page
    assert '<option value="31">Debian 12</option>' in page
    assert '<option value="4">SystemRescue</option>' in page


def test_a_virtfusion_that_is_down_still_renders_the_page_with_notices(client, vf_vps, mocked):
    mocked.get(f"{API}/servers/6", body=requests.ConnectionError("refused"))
    mocked.get(f"{API}/servers/6/traffic", status=503, body="<html>Bad gateway</html>")
    mocked.get(f"{API}/servers/6/templates", status=503)
    mocked.get(f"{API}/media/iso", status=500, json={"msg": "boom"})
    page = _page(client, vf_vps)
    assert 'data-testid="vps-notice"' in page
    assert "not answering right now" in page
    assert 'data-testid="vps-templates-notice"' in page
    assert 'data-testid="action-reinstall"' not in page  # nothing to choose from


@pytest.mark.parametrize("action", ["boot", "shutdown", "restart", "poweroff"])
def test_power_actions_call_virtfusion(
    client, vf_vps, mocked, django_capture_on_commit_callbacks, action
):
    mocked.post(
        f"{API}/servers/6/power/{action}",
        json={"data": {"queueId": 88}},
        match=[matchers.header_matcher(HEADERS)],
    )
    operation, _ = _run_htmx(client, vf_vps, action, django_capture_on_commit_callbacks)
    assert operation.status == Op.Status.SUCCEEDED


def _run_htmx(client, service, action, capture, **data) -> tuple[Op, None]:
    """Run the action with htmx (the status box, no page reads)."""
    client.force_login(service.customer.user)
    url = reverse("provisioning:service_action", args=[service.pk, action])
    with capture(execute=True):
        response = client.post(url, {"click_key": _key(), **data}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    operation = Op.objects.filter(service=service, kind=Op.Kind.ACTION).latest("pk")
    operation.refresh_from_db()
    return operation, None


def test_reinstall_checks_the_template_then_builds_and_is_never_resent(
    client, vf_vps, mocked, django_capture_on_commit_callbacks
):
    mocked.get(f"{API}/servers/6/templates", json=TEMPLATES)
    mocked.post(
        f"{API}/servers/6/build",
        json=SERVER,
        match=[matchers.json_params_matcher({"operatingSystemId": 31, "email": True})],
    )
    operation, _ = _run_htmx(
        client,
        vf_vps,
        "reinstall",
        django_capture_on_commit_callbacks,
        os_template_id="31",
        confirm="REINSTALL",
    )
    assert operation.status == Op.Status.SUCCEEDED
    assert operation.payload["params"] == {"os_template_id": 31, "template": "Debian 12"}
    assert operation.response_summary["result"]["new password"].startswith("emailed")


def test_a_reinstall_whose_answer_is_lost_waits_for_staff(
    client, vf_vps, mocked, django_capture_on_commit_callbacks
):
    mocked.get(f"{API}/servers/6/templates", json=TEMPLATES)
    mocked.post(f"{API}/servers/6/build", body=requests.ReadTimeout("lost"))
    operation, _ = _run_htmx(
        client,
        vf_vps,
        "reinstall",
        django_capture_on_commit_callbacks,
        os_template_id="31",
        confirm="REINSTALL",
    )
    assert operation.status == Op.Status.UNCERTAIN
    assert len([c for c in mocked.calls if c.request.method == "POST"]) == 1


def test_a_template_or_iso_not_offered_is_refused_before_any_change(
    client, vf_vps, mocked, django_capture_on_commit_callbacks
):
    mocked.get(f"{API}/servers/6/templates", json=TEMPLATES)
    mocked.get(f"{API}/media/iso", json=ISOS)
    client.force_login(vf_vps.customer.user)
    for action, data in (
        ("reinstall", {"os_template_id": "32", "confirm": "REINSTALL"}),
        ("iso_mount", {"iso_id": "5"}),
    ):
        url = reverse("provisioning:service_action", args=[vf_vps.pk, action])
        response = client.post(url, {"click_key": _key(), **data}, HTTP_HX_REQUEST="true")
        assert b"is not offered for your server" in response.content
    assert not Op.objects.filter(kind=Op.Kind.ACTION).exists()
    assert {c.request.method for c in mocked.calls} == {"GET"}


def test_iso_mount_and_unmount_call_virtfusion(
    client, vf_vps, mocked, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    mocked.get(f"{API}/media/iso", json=ISOS)
    mocked.post(f"{API}/servers/6/media/iso/4", status=204)
    operation, _ = _run_htmx(client, vf_vps, "iso_mount", capture, iso_id="4")
    assert operation.status == Op.Status.SUCCEEDED
    mounted = {"data": {**SERVER["data"], "media": {"isoMounted": True, "isoName": "SystemRescue"}}}
    mocked.get(f"{API}/servers/6", json=mounted)
    mocked.delete(f"{API}/servers/6/media/iso", status=204)
    operation, _ = _run_htmx(client, vf_vps, "iso_unmount", capture)
    assert operation.status == Op.Status.SUCCEEDED


def test_console_and_password_reset_keep_their_secrets_apart(
    client, vf_vps, mocked, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    vnc = {"vnc": {"ip": "10.0.0.1", "port": 5901, "password": "vnc-pass", "wss": {}}}
    mocked.post(
        f"{API}/servers/6/vnc",
        json={"data": vnc},
        match=[matchers.json_params_matcher({"vnc": True})],
    )
    mocked.post(
        f"{API}/servers/6/resetPassword",
        json={"data": {"queueId": 9, "expectedPassword": "n3w-root"}},
        match=[matchers.json_params_matcher({"user": "root", "sendMail": False})],
    )
    console, _ = _run_htmx(client, vf_vps, "console", capture)
    assert console.response_summary["result"] == {"address": "10.0.0.1:5901"}
    assert console.secret_result == {"VNC password": "vnc-pass"}
    reset, _ = _run_htmx(client, vf_vps, "password_reset", capture)
    assert reset.secret_result == {"root password": "n3w-root"}
    assert "n3w-root" not in str(reset.response_summary)


def test_a_locked_server_is_tried_again_later(
    client, vf_vps, mocked, django_capture_on_commit_callbacks
):
    mocked.post(f"{API}/servers/6/power/restart", status=423, json={"msg": "server is locked"})
    operation, _ = _run_htmx(client, vf_vps, "restart", django_capture_on_commit_callbacks)
    assert operation.status == Op.Status.PENDING
    assert operation.attempts == 1


def test_a_panel_refusal_is_shown_cleaned(
    client, vf_vps, mocked, django_capture_on_commit_callbacks
):
    mocked.post(
        f"{API}/servers/6/power/boot", status=422, json={"errors": ["Server is being built"]}
    )
    client.force_login(vf_vps.customer.user)
    url = reverse("provisioning:service_action", args=[vf_vps.pk, "boot"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"click_key": _key()}, HTTP_HX_REQUEST="true")
    operation = Op.objects.get(kind=Op.Kind.ACTION)
    status_url = reverse("provisioning:service_operation", args=[vf_vps.pk, operation.pk])
    ended = client.get(status_url, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    page = client.get(ended["HX-Redirect"]).content.decode()  # htmx loads the page
    assert 'data-testid="action-error">Server is being built<' in page


def test_the_demo_customer_orders_a_vps_and_uses_its_controls(
    client, django_capture_on_commit_callbacks
):
    """Acceptance 1 for a VPS: `make run`'s demo customer orders the demo VPS on the
    sandbox, pays it with the demo credit and finds every control on its page."""
    call_command("seed_demo", stdout=io.StringIO())
    customer = Customer.objects.get(user__email="demo@example.com")
    client.force_login(customer.user)
    form = {"cycle": "monthly", "hostname": "vps.demo.test", "place": "1"}
    response = client.post("/order/vps-small/", form)
    assert response.status_code == 302, response.content.decode()[-3000:]
    invoice = Invoice.objects.get(customer=customer)
    nonce = client.get(response.url).context["pay_nonce"]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("credits:pay_invoice", args=[invoice.pk]), {"nonce": nonce})
    service = Service.objects.get(customer=customer)
    assert service.status == Service.Status.ACTIVE
    page = _page(client, service)
    assert 'data-testid="vps-controls"' in page
    assert "4096 MB" in page
    _, page = _run(
        client, service, "reinstall", django_capture_on_commit_callbacks,
        os_template_id="103", confirm="REINSTALL",
    )  # fmt: skip
    assert 'data-testid="action-secret"' in page
    assert "AlmaLinux 9" in page
