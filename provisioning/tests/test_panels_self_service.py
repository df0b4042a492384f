"""The self-service calls of the game, hosting and support adapters against the contracts
written at the top of each adapter (method, path, headers, body), with the panels' error
shapes: Pterodactyl's client API (usage, power; a key that may not act; Wings down),
DirectAdmin's legacy commands and its JSON API (server option DIRECTADMIN_API_VERSION),
NextPanel's statistics and the support backend's key."""

from __future__ import annotations

import base64

import pytest
from responses import matchers

from provisioning.errors import PanelPermanentError, PanelRetryableError
from provisioning.panels.base import (
    GameServerControls,
    HostingDatabases,
    HostingStats,
    ServerCredentials,
    SupportKeys,
)
from provisioning.panels.directadmin import DirectAdminPanel
from provisioning.panels.nextpanel import NextPanel
from provisioning.panels.pterodactyl import KEY_REFUSED, NO_CLIENT_KEY, PterodactylPanel
from provisioning.panels.sandbox import SandboxPanel
from provisioning.panels.support import SupportBackend
from provisioning.tests import vendor_payloads

# --- Pterodactyl --------------------------------------------------------------------------

PANEL = "https://panel.example.test"
APP_KEY = "ptla_" + "a" * 43
CLIENT_KEY = "ptlc_" + "b" * 43
JSON = {"Accept": "application/json", "Content-Type": "application/json"}


def _pterodactyl(client_key: str = CLIENT_KEY) -> PterodactylPanel:
    secrets = {"api_key": APP_KEY, **({"client_api_key": client_key} if client_key else {})}
    return PterodactylPanel(ServerCredentials(base_url=PANEL, secrets=secrets))


def _server(**attributes) -> dict:
    server = vendor_payloads.load("pterodactyl", "server")
    server["attributes"].update(
        {
            "id": 31,
            "status": None,
            "suspended": False,
            "limits": {"memory": 4096, "swap": 0, "disk": 10240, "io": 500, "cpu": 200},
            **attributes,
        }
    )
    return server


def _app_get(mocked, body=None) -> None:
    mocked.get(
        f"{PANEL}/api/application/servers/31",
        json=body or _server(),
        match=[matchers.header_matcher({"Authorization": f"Bearer {APP_KEY}", **JSON})],
    )


CLIENT_HEADERS = [matchers.header_matcher({"Authorization": f"Bearer {CLIENT_KEY}", **JSON})]


def test_game_status_reads_limits_then_usage_through_the_client_api(mocked):
    _app_get(mocked)
    mocked.get(
        f"{PANEL}/api/client/servers/a1b2c3d4/resources",
        json=vendor_payloads.load("pterodactyl", "resources"),
        match=CLIENT_HEADERS,
    )
    status = _pterodactyl().game_status("31")
    assert status == {
        "state": "running",
        "suspended": False,
        "limits": {"memory_mb": 4096, "disk_mb": 10240, "cpu_percent": 200},
        "usage": {"memory_mb": 1536, "disk_mb": 2310, "cpu_percent": 37.5, "uptime_seconds": 5400},
        "usage_notice": "",
        "power_allowed": True,
        "power_notice": "",
    }


def test_without_a_client_key_only_the_limits_and_why_power_is_missing(mocked):
    _app_get(mocked, _server(status="suspended", suspended=True))
    panel = _pterodactyl(client_key="")
    status = panel.game_status("31")
    assert status["usage"] is None
    assert status["suspended"] is True
    assert (status["power_allowed"], status["power_notice"]) == (False, NO_CLIENT_KEY)
    assert panel.game_power_enabled() is False
    with pytest.raises(PanelPermanentError):
        panel.game_power("31", signal="start")  # refused before any call


def test_a_client_key_that_may_not_act_hides_power_with_the_reason(mocked):
    _app_get(mocked)
    mocked.get(
        f"{PANEL}/api/client/servers/a1b2c3d4/resources",
        status=403,
        json={"errors": [{"code": "AccessDeniedHttpException", "status": "403", "detail": "no"}]},
    )
    status = _pterodactyl().game_status("31")
    assert (status["power_allowed"], status["power_notice"]) == (False, KEY_REFUSED)


def test_a_server_busy_on_the_panel_waits_for_usage_and_power(mocked):
    _app_get(mocked, _server(status="installing"))
    mocked.get(
        f"{PANEL}/api/client/servers/a1b2c3d4/resources",
        status=409,
        json={
            "errors": [
                {
                    "code": "ServerStateConflictException",
                    "status": "409",
                    "detail": "This server has not yet completed its installation.",
                }
            ]
        },
    )
    status = _pterodactyl().game_status("31")
    assert status["state"] == "installing"
    assert status["power_allowed"] is False
    assert "busy on the panel" in status["usage_notice"]


def test_wings_down_keeps_the_limits_and_says_usage_is_missing(mocked):
    _app_get(mocked)
    mocked.get(f"{PANEL}/api/client/servers/a1b2c3d4/resources", status=504, json={})
    status = _pterodactyl().game_status("31")
    assert status["usage"] is None
    assert "not answering" in status["usage_notice"]
    assert status["limits"]["memory_mb"] == 4096


def test_a_panel_that_is_down_raises_retryable(mocked):
    mocked.get(f"{PANEL}/api/application/servers/31", status=503, body="<h1>down</h1>")
    with pytest.raises(PanelRetryableError):
        _pterodactyl().game_status("31")


@pytest.mark.parametrize("signal", ["start", "stop", "restart", "kill"])
def test_power_signals_go_to_the_client_api(mocked, signal):
    _app_get(mocked)
    mocked.post(
        f"{PANEL}/api/client/servers/a1b2c3d4/power",
        status=204,
        match=[*CLIENT_HEADERS, matchers.json_params_matcher({"signal": signal})],
    )
    _pterodactyl().game_power("31", signal=signal)


def test_a_refused_power_signal_is_permanent_with_the_panels_words(mocked):
    _app_get(mocked)
    mocked.post(
        f"{PANEL}/api/client/servers/a1b2c3d4/power",
        status=409,
        json={
            "errors": [
                {
                    "code": "ConflictHttpException",
                    "status": "409",
                    "detail": "Server is being transferred.",
                }
            ]
        },
    )
    with pytest.raises(PanelPermanentError, match="being transferred"):
        _pterodactyl().game_power("31", signal="start")


# --- DirectAdmin --------------------------------------------------------------------------

DA = "https://da.example.test:2222"
RESELLER = "Basic " + base64.b64encode(b"reseller:login-key-1").decode()
AS_USER = "Basic " + base64.b64encode(b"reseller|u0000012:login-key-1").decode()
TEXT = {"Content-Type": "text/plain"}


def _directadmin(version: str = "") -> DirectAdminPanel:
    options = {"DIRECTADMIN_API_VERSION": version} if version else {}
    return DirectAdminPanel(
        ServerCredentials(
            base_url=DA,
            secrets={"username": "reseller", "password": "login-key-1"},
            options=options,
        )
    )


def _legacy_get(mocked, command: str, body: str, auth: str = RESELLER) -> None:
    mocked.get(
        f"{DA}/{command}",
        body=body,
        headers=TEXT,
        match=[
            matchers.query_param_matcher({"user": "u0000012"}),
            matchers.header_matcher({"Authorization": auth}),
        ],
    )


DOMAINS = (
    "ada.example.com=2100.5:unlimited:640.2:0.1:2:no:unlimited:ON:ON:ON"
    "&shop.ada.example.com=245:unlimited:172:0:0:no:unlimited:OFF:ON:ON"
)


def test_directadmin_legacy_statistics_and_domains(mocked):
    _legacy_get(
        mocked,
        "CMD_API_SHOW_USER_USAGE",
        "bandwidth=2345.67&quota=812.3&vdomains=2&nemails=3&mysql=1&nsubdomains=0",
    )
    _legacy_get(
        mocked,
        "CMD_API_SHOW_USER_CONFIG",
        "bandwidth=unlimited&quota=10240&vdomains=5&nemails=50&mysql=10&package=starter",
    )
    _legacy_get(mocked, "CMD_API_SHOW_USER_DOMAINS", DOMAINS)
    stats = _directadmin().hosting_stats("u0000012")
    assert stats == {
        "domains": 2,
        "domains_limit": 5,
        "databases": 1,
        "databases_limit": 10,
        "email_accounts": 3,
        "email_accounts_limit": 50,
        "storage_mb": 812,
        "storage_mb_limit": 10240,
        "bandwidth_mb": 2346,
        "bandwidth_mb_limit": None,
        "ssl_certificates": 1,
    }


def test_directadmin_domains_list(mocked):
    _legacy_get(mocked, "CMD_API_SHOW_USER_DOMAINS", DOMAINS)
    assert _directadmin().hosting_domains("u0000012") == [
        {"domain": "ada.example.com", "bandwidth_mb": 2100, "disk_mb": 640, "ssl": True},
        {"domain": "shop.ada.example.com", "bandwidth_mb": 245, "disk_mb": 172, "ssl": False},
    ]


def test_directadmin_legacy_database_create_acts_as_the_user(mocked):
    mocked.post(
        f"{DA}/CMD_API_DATABASES",
        body="error=0&text=Database Created&details=",
        headers=TEXT,
        match=[
            matchers.header_matcher({"Authorization": AS_USER}),
            matchers.urlencoded_params_matcher(
                {
                    "action": "create",
                    "name": "shop",
                    "user": "shopper",
                    "passwd": "pw-1",
                    "passwd2": "pw-1",
                }
            ),
        ],
    )
    made = _directadmin().database_create("u0000012", name="shop", user="shopper", password="pw-1")
    assert made == {"database": "u0000012_shop", "user": "u0000012_shopper", "password": "pw-1"}


def test_directadmin_legacy_error_with_http_200_is_permanent(mocked):
    mocked.post(
        f"{DA}/CMD_API_DATABASES",
        body=(
            "error=1&text=Unable to create database"
            "&details=Database already exists&#44; pick another"
        ),
        headers=TEXT,
    )
    with pytest.raises(PanelPermanentError, match="already exists, pick another"):
        _directadmin().database_create("u0000012", name="shop", user="shop", password="pw")


def test_directadmin_login_page_instead_of_an_answer_is_a_refused_login(mocked):
    mocked.get(
        f"{DA}/CMD_API_SHOW_USER_DOMAINS",
        body="<html>login</html>",
        headers={"Content-Type": "text/html"},
    )
    with pytest.raises(PanelPermanentError, match="refused the login"):
        _directadmin().hosting_domains("u0000012")


USAGE_V2 = {
    "quotaBytes": {"usage": 851_755_008, "limit": 10_737_418_240, "unlimited": False},
    "bandwidthBytes": {"usage": 2_459_688_960, "limit": 0, "unlimited": True},
    "domains": {"usage": 2, "limit": 5},
    "emailAccounts": {"usage": 3, "limit": 50},
    "mySqlDatabases": {"usage": 1, "limit": 10},
    "subdomains": {"usage": 0, "limit": 10},
}


def test_directadmin_v2_statistics_from_the_json_api(mocked):
    mocked.get(
        f"{DA}/api/users/u0000012/usage",
        json=USAGE_V2,
        match=[matchers.header_matcher({"Authorization": RESELLER, "Accept": "application/json"})],
    )
    _legacy_get(mocked, "CMD_API_SHOW_USER_DOMAINS", DOMAINS)  # no domain list in the JSON API
    stats = _directadmin("v2").hosting_stats("u0000012")
    assert stats["storage_mb"] == 812
    assert stats["storage_mb_limit"] == 10240
    assert stats["bandwidth_mb"] == 2346
    assert stats["bandwidth_mb_limit"] is None
    assert (stats["databases"], stats["databases_limit"], stats["ssl_certificates"]) == (1, 10, 1)


def test_directadmin_v2_database_create_with_user(mocked):
    mocked.post(
        f"{DA}/api/db-manage/create-db-with-user",
        json={
            "database": "u0000012_shop",
            "dbuser": "u0000012_shop",
            "password": "pw-2",
            "address": "localhost",
            "unixSocket": False,
        },
        match=[
            matchers.header_matcher({"Authorization": AS_USER}),
            matchers.json_params_matcher(
                {"database": "u0000012_shop", "dbuser": "u0000012_shop", "password": "pw-2"}
            ),
        ],
    )
    made = _directadmin("v2").database_create("u0000012", name="shop", user="shop", password="pw-2")
    assert made == {"database": "u0000012_shop", "user": "u0000012_shop", "password": "pw-2"}


def test_directadmin_v2_errors_map_like_every_panel(mocked):
    mocked.post(
        f"{DA}/api/db-manage/create-db-with-user",
        status=400,
        json={"type": "DATABASES_EXCEED_LIMIT", "message": "Databases limit exceeded"},
    )
    with pytest.raises(PanelPermanentError, match="Databases limit exceeded"):
        _directadmin("v2").database_create("u0000012", name="a", user="a", password="p")
    mocked.get(f"{DA}/api/users/u0000012/usage", status=502, body="bad gateway")
    with pytest.raises(PanelRetryableError):
        _directadmin("v2").hosting_stats("u0000012")


def test_directadmin_login_link_legacy_and_v2(mocked):
    from provisioning.tests.test_panels import _spec

    mocked.post(
        f"{DA}/CMD_API_LOGIN_KEYS",
        body=f"error=0&text=ok&details={DA}/api/login/url?key=abc",
        headers=TEXT,
        match=[
            matchers.urlencoded_params_matcher(
                {"action": "create", "type": "one_time_url", "expiry": "5m", "user": "u0000012"}
            )
        ],
    )
    assert _directadmin().login_url("u0000012", spec=_spec()) == f"{DA}/api/login/url?key=abc"
    mocked.post(
        f"{DA}/api/login-keys/urls",
        json={"id": "k1", "url": f"{DA}/api/login/url?key=xyz", "allowNetworks": []},
        match=[
            matchers.header_matcher({"Authorization": AS_USER}),
            matchers.json_params_matcher({"allowNetworks": []}),
        ],
    )
    assert _directadmin("v2").login_url("u0000012", spec=_spec()) == f"{DA}/api/login/url?key=xyz"


# --- NextPanel and the support backend ----------------------------------------------------

NP = "https://np.example.test:3000"


def test_nextpanel_statistics(mocked):
    panel = NextPanel(
        ServerCredentials(base_url=NP, secrets={"api_key": "npk_1", "api_secret": "nps_1"})
    )
    mocked.get(
        f"{NP}/api/v1/billing/accounts/77/stats",
        json={
            "total_domains": 3,
            "total_databases": 2,
            "total_email_accounts": 4,
            "total_ssl_certificates": 3,
            "storage_used_mb": 512.4,
            "max_domains": 10,
            "storage_limit_mb": 5120,
        },
        match=[matchers.header_matcher({"X-API-Key": "npk_1", "X-API-Secret": "nps_1"})],
    )
    stats = panel.hosting_stats("77")
    assert (stats["domains"], stats["domains_limit"]) == (3, 10)
    assert (stats["storage_mb"], stats["storage_mb_limit"]) == (512, 5120)
    assert stats["ssl_certificates"] == 3
    assert stats["bandwidth_mb"] is None


SUPPORT = "https://support.example.test/api"


def _support() -> SupportBackend:
    return SupportBackend(ServerCredentials(base_url=SUPPORT, secrets={"token": "tok-1"}))


def test_support_details_and_key_regeneration(mocked):
    auth = [matchers.header_matcher({"Authorization": "Bearer tok-1", **JSON})]
    mocked.get(
        f"{SUPPORT}/support/svc-5",
        json={
            "service_id": "svc-5",
            "email": "ada@example.com",
            "tier": "priority",
            "status": "active",
            "support_key": "SK-OLD",
        },
        match=auth,
    )
    mocked.post(
        f"{SUPPORT}/support/regenerate",
        json={"support_key": "SK-NEW"},
        match=[*auth, matchers.json_params_matcher({"service_id": "svc-5"})],
    )
    backend = _support()
    assert backend.support_info("svc-5") == {
        "status": "active",
        "tier": "priority",
        "email": "ada@example.com",
    }
    assert backend.support_key_regenerate("svc-5") == "SK-NEW"


def test_support_errors_map_to_permanent_and_retryable(mocked):
    mocked.post(
        f"{SUPPORT}/support/regenerate", status=404, json={"detail": "No such subscription"}
    )
    with pytest.raises(PanelPermanentError, match="No such subscription"):
        _support().support_key_regenerate("svc-5")
    mocked.get(f"{SUPPORT}/support/svc-5", status=500, body="oops")
    with pytest.raises(PanelRetryableError):
        _support().support_info("svc-5")


def test_the_sandbox_and_the_real_adapters_offer_the_same_capabilities():
    sandbox = SandboxPanel(ServerCredentials(base_url="http://127.0.0.1", secrets={}))
    for capability in (GameServerControls, HostingStats, HostingDatabases, SupportKeys):
        assert isinstance(sandbox, capability)
    assert isinstance(_pterodactyl(), GameServerControls)
    assert isinstance(_directadmin(), HostingStats)
    assert isinstance(_directadmin(), HostingDatabases)
    assert isinstance(_support(), SupportKeys)
