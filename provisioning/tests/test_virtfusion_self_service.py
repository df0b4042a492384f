"""VirtFusion's self-service calls (VirtFusionPanel.vps_*): each request's method, path,
headers and body as the contract at the top of provisioning/panels/virtfusion.py states,
what the portal makes of the answers, and the error mapping."""

from __future__ import annotations

import pytest
import requests
from responses import matchers

from provisioning.errors import PanelError, PanelPermanentError, PanelRetryableError
from provisioning.panels.base import ServerCredentials, VpsControls
from provisioning.panels.sandbox import SandboxPanel
from provisioning.panels.virtfusion import VirtFusionPanel, server_summary

BASE = "https://vf.example.test"
API = f"{BASE}/api/v1"
HEADERS = {
    "Authorization": "Bearer vf-token",
    "Accept": "application/json",
    "Content-Type": "application/json",
}
AUTH = [matchers.header_matcher(HEADERS)]


@pytest.fixture
def panel() -> VirtFusionPanel:
    return VirtFusionPanel(ServerCredentials(base_url=BASE, secrets={"api_token": "vf-token"}))


def test_both_the_panel_and_the_sandbox_have_the_vps_controls(panel):
    assert isinstance(panel, VpsControls)
    assert isinstance(SandboxPanel(ServerCredentials(base_url="", secrets={})), VpsControls)


def test_the_server_with_its_live_state_in_the_portals_units(panel, mocked):
    body = {
        "data": {
            "id": 6,
            "name": "svc-6",
            "hostname": "vps.example.test",
            "state": "complete",
            "settings": {"resources": {"memory": 4096, "storage": 80, "traffic": 0, "cpuCores": 4}},
            "media": {"isoMounted": True, "isoName": "SystemRescue"},
            "remoteState": {
                "state": "running",
                "cpu": 7.25,
                "memory": {"available": 4194304, "unused": 3145728, "actual": 4194304},
                "agent": {
                    "fsinfo": [
                        {"mountpoint": "/", "used-bytes": 3 * 1024**3, "total-bytes": 70 * 1024**3},
                        {"mountpoint": "/boot", "used-bytes": 1024**3 // 2, "total-bytes": 1024**3},
                    ]
                },
            },
        }
    }
    mocked.get(
        f"{API}/servers/6",
        json=body,
        match=[*AUTH, matchers.query_param_matcher({"remoteState": "true"})],
    )
    assert panel.vps_server("6") == {
        "state": "running",
        "name": "svc-6",
        "hostname": "vps.example.test",
        "cpu_cores": 4,
        "memory_mb": 4096,
        "disk_gb": 80,
        "traffic_gb": 0,
        "iso_mounted": True,
        "iso_name": "SystemRescue",
        "cpu_percent": 7.2,
        "memory_used_mb": 1024,
        "disk_used_gb": 3.5,
    }


def test_a_server_without_live_state_reports_none_not_zero():
    summary = server_summary({"state": "complete", "remoteState": False, "cpu": {"cores": 1}})
    assert summary["state"] == "unknown"  # "complete" is the build's state, not power
    assert summary["cpu_cores"] == 1
    assert (summary["cpu_percent"], summary["memory_used_mb"], summary["disk_used_gb"]) == (
        None,
        None,
        None,
    )


def test_traffic_of_the_current_period(panel, mocked):
    monthly = [
        {"month": 12, "start": "2026-12-01", "end": "2026-12-31", "rx": 10, "tx": 5,
         "total": 15, "limit": 250, "blocks": []},
        {"month": 11, "start": "2026-11-01", "end": "2026-11-30", "rx": 99, "tx": 99,
         "total": 198, "limit": 250},
    ]  # fmt: skip
    mocked.get(f"{API}/servers/6/traffic", json={"data": {"monthly": monthly}}, match=AUTH)
    assert panel.vps_traffic("6") == {
        "start": "2026-12-01",
        "end": "2026-12-31",
        "rx_bytes": 10,
        "tx_bytes": 5,
        "total_bytes": 15,
        "limit_gb": 250,
    }


def test_traffic_before_any_period_is_zero(panel, mocked):
    mocked.get(f"{API}/servers/6/traffic", json={"data": {"monthly": []}})
    assert panel.vps_traffic("6")["total_bytes"] == 0


@pytest.mark.parametrize("action", ["boot", "shutdown", "restart", "poweroff"])
def test_power_posts_to_the_documented_path(panel, mocked, action):
    mocked.post(f"{API}/servers/6/power/{action}", json={"data": {"queueId": 5}}, match=AUTH)
    panel.vps_power("6", action=action)


def test_an_unknown_power_action_is_refused_without_a_call(panel, mocked):
    with pytest.raises(PanelPermanentError):
        panel.vps_power("6", action="hibernate")


def test_os_templates_are_flattened_from_their_groups(panel, mocked):
    groups = [
        {"id": 1, "name": "Debian", "templates": [
            {"id": 31, "name": "Debian", "version": "12", "variant": "Bookworm"},
            {"id": 32, "name": "Debian", "version": "11", "variant": ""},
        ]},
        {"id": 2, "name": "Windows", "templates": []},
    ]  # fmt: skip
    mocked.get(f"{API}/servers/6/templates", json={"data": groups}, match=AUTH)
    assert panel.vps_os_templates("6") == [
        {"id": 31, "name": "Debian 12 Bookworm", "group": "Debian"},
        {"id": 32, "name": "Debian 11", "group": "Debian"},
    ]


def test_reinstall_builds_with_the_template_and_has_the_password_emailed(panel, mocked):
    mocked.post(
        f"{API}/servers/6/build",
        json={"data": {"id": 6}},
        match=[
            *AUTH,
            matchers.json_params_matcher(
                {"operatingSystemId": 31, "email": True, "hostname": "vps.example.test"}
            ),
        ],
    )
    assert panel.vps_reinstall("6", os_template_id=31, hostname="vps.example.test") == {}


def test_reinstall_without_a_hostname_sends_none(panel, mocked):
    mocked.post(
        f"{API}/servers/6/build",
        json={"data": {"id": 6}},
        match=[matchers.json_params_matcher({"operatingSystemId": 31, "email": True})],
    )
    panel.vps_reinstall("6", os_template_id=31)


def test_console_opens_vnc_and_returns_the_address_and_password(panel, mocked):
    vnc = {"ip": "10.0.0.1", "hostname": None, "port": 5900, "password": "secret",
           "wss": {"token": "abc-123", "url": "/vnc/?token=abc-123"}, "enabled": True}  # fmt: skip
    mocked.post(
        f"{API}/servers/6/vnc",
        json={"data": {"vnc": vnc, "queueId": None}},
        match=[*AUTH, matchers.json_params_matcher({"vnc": True})],
    )
    assert panel.vps_console("6") == {"address": "10.0.0.1:5900", "vnc_password": "secret"}


def test_console_without_an_address_is_an_error(panel, mocked):
    mocked.post(f"{API}/servers/6/vnc", json={"data": {"vnc": {"enabled": False}}})
    with pytest.raises(PanelError, match="no console address"):
        panel.vps_console("6")


def test_isos_lists_the_enabled_ones(panel, mocked):
    isos = {
        "current_page": 1,
        "data": [
            {"id": 4, "name": "SystemRescue", "enabled": True},
            {"id": 5, "name": "Old", "enabled": False},
        ],
    }
    mocked.get(
        f"{API}/media/iso",
        json=isos,
        match=[*AUTH, matchers.query_param_matcher({"results": "200"})],
    )
    assert panel.vps_isos("6") == [{"id": 4, "name": "SystemRescue"}]


def test_iso_mount_and_unmount(panel, mocked):
    mocked.post(f"{API}/servers/6/media/iso/4", status=204, match=AUTH)
    mocked.delete(f"{API}/servers/6/media/iso", json={"data": {}}, match=AUTH)
    panel.vps_iso_mount("6", iso_id=4)
    panel.vps_iso_unmount("6")


def test_password_reset_returns_the_expected_password_without_email(panel, mocked):
    mocked.post(
        f"{API}/servers/6/resetPassword",
        json={"data": {"queueId": 42, "expectedPassword": "newpass123"}},
        match=[*AUTH, matchers.json_params_matcher({"user": "root", "sendMail": False})],
    )
    assert panel.vps_password_reset("6") == {"root_password": "newpass123"}


def test_password_reset_without_a_password_in_the_answer_is_an_error(panel, mocked):
    mocked.post(f"{API}/servers/6/resetPassword", json={"data": {"queueId": 42}})
    with pytest.raises(PanelError, match="did not return the new password") as caught:
        panel.vps_password_reset("6")
    assert not caught.value.retryable


@pytest.mark.parametrize(
    ("status", "body", "error", "retryable"),
    [
        (404, {"msg": "server not found"}, PanelPermanentError, False),
        (422, {"message": "invalid", "errors": {"id": ["bad"]}}, PanelPermanentError, False),
        (423, {"msg": "server is locked"}, PanelRetryableError, True),
        (429, {}, PanelRetryableError, True),
        (500, {"msg": "boom"}, PanelRetryableError, True),
    ],
)  # fmt: skip
def test_error_answers_map_to_retryable_or_final(panel, mocked, status, body, error, retryable):
    mocked.post(f"{API}/servers/6/build", status=status, json=body)
    with pytest.raises(error) as caught:
        panel.vps_reinstall("6", os_template_id=31)
    assert caught.value.retryable is retryable
    assert caught.value.status == status


def test_a_timeout_may_have_applied(panel, mocked):
    mocked.post(f"{API}/servers/6/build", body=requests.ReadTimeout("slow"))
    with pytest.raises(PanelRetryableError) as caught:
        panel.vps_reinstall("6", os_template_id=31)
    assert caught.value.may_have_applied
