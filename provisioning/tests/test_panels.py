"""DirectAdmin, NextPanel, the WordPress site backend, the support backend and VirtFusion's
server lifecycle: every call's method, path, headers and body against the reference
(external-apis.md §2, §3, §7 and the issue's backend contracts), and their error mapping."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs

import pytest
import requests
from responses import matchers

from provisioning.errors import PanelPermanentError, PanelRetryableError
from provisioning.panels.base import AccountSpec, ServerCredentials
from provisioning.panels.directadmin import DirectAdminPanel
from provisioning.panels.nextpanel import NextPanel
from provisioning.panels.registry import MODULES, module_settings_errors
from provisioning.panels.support import SupportBackend
from provisioning.panels.virtfusion import VirtFusionPanel
from provisioning.panels.wordpress import WordPressBackend
from provisioning.tests import vendor_payloads


def _spec(**settings) -> AccountSpec:
    return AccountSpec(
        reference="svc-12",
        service_id=12,
        customer_id=4,
        email="ada@example.com",
        name="Ada Lovelace",
        settings=settings,
        domain="ada.example.com",
        hostname="vps.ada.example.com",
    )


def _form(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


# --- DirectAdmin --------------------------------------------------------------------------

DA = "https://da.example.test:2222"
DA_AUTH = "Basic " + base64.b64encode(b"reseller:login-key-1").decode()
URLENC = {"Content-Type": "text/plain"}


@pytest.fixture
def directadmin() -> DirectAdminPanel:
    return DirectAdminPanel(
        ServerCredentials(
            base_url=DA,
            secrets={"username": "reseller", "password": "login-key-1"},
            options={"ip": "203.0.113.10"},
        )
    )


def test_directadmin_create_suspend_unsuspend_delete_and_package(directadmin, mocked):
    auth = [matchers.header_matcher({"Authorization": DA_AUTH})]
    mocked.get(
        f"{DA}/CMD_API_SHOW_USER_CONFIG",
        headers=URLENC,
        body="error=1&text=Unable to show user&details=u0000012 does not exist",
        match=[*auth, matchers.query_param_matcher({"user": "u0000012"})],
    )
    mocked.post(
        f"{DA}/CMD_API_ACCOUNT_USER", headers=URLENC, body="error=0&text=User created", match=auth
    )
    result = directadmin.create(_spec(package="starter"))
    form = _form(mocked.calls[-1])
    password = form.pop("passwd")
    assert form == {
        "action": "create",
        "add": "Submit",
        "username": "u0000012",
        "email": "ada@example.com",
        "passwd2": password,
        "domain": "ada.example.com",
        "package": "starter",
        "ip": "203.0.113.10",
        "notify": "no",
    }
    assert (result.external_id, result.secrets["password"]) == ("u0000012", password)

    for action, field in (("suspend", "dosuspend"), ("unsuspend", "dounsuspend")):
        mocked.post(f"{DA}/CMD_API_SELECT_USERS", headers=URLENC, body="error=0&text=ok")
        getattr(directadmin, action)("u0000012", **({"reason": "x"} if action == "suspend" else {}))
        assert _form(mocked.calls[-1]) == {
            "location": "CMD_SELECT_USERS",
            field: "yes",
            "select0": "u0000012",
        }
    mocked.post(f"{DA}/CMD_API_MODIFY_USER", headers=URLENC, body="error=0&text=ok")
    directadmin.change_package("u0000012", settings={"package": "business"})
    assert _form(mocked.calls[-1]) == {
        "action": "package",
        "user": "u0000012",
        "package": "business",
    }
    mocked.replace(
        "GET",
        f"{DA}/CMD_API_SHOW_USER_CONFIG",
        headers=URLENC,
        body="suspended=no&domain=ada.example.com&package=business",
    )
    mocked.upsert("POST", f"{DA}/CMD_API_SELECT_USERS", headers=URLENC, body="error=0&text=ok")
    directadmin.terminate("u0000012")
    assert _form(mocked.calls[-1]) == {
        "confirmed": "Confirm",
        "delete": "yes",
        "select0": "u0000012",
    }


def test_directadmin_adopts_its_own_account_and_refuses_a_stranger(directadmin, mocked):
    mocked.get(
        f"{DA}/CMD_API_SHOW_USER_CONFIG", headers=URLENC, body="domain=ada.example.com&suspended=no"
    )
    assert directadmin.create(_spec(package="starter")).external_id == "u0000012"
    assert not [c for c in mocked.calls if c.request.method == "POST"]
    mocked.replace(
        "GET", f"{DA}/CMD_API_SHOW_USER_CONFIG", headers=URLENC, body="domain=other.example.org"
    )
    with pytest.raises(PanelPermanentError, match="for another domain"):
        directadmin.create(_spec(package="starter"))


@pytest.mark.parametrize(
    ("body", "headers", "match"),
    [
        (
            "error=1&text=Cannot Create Account&details=That domain already exists&#60;br&#62;",
            URLENC,
            "Cannot Create Account: That domain already exists<br>",
        ),
        (
            "<html><body>Please login</body></html>",
            {"Content-Type": "text/html"},
            "refused the login",
        ),
    ],
)
def test_directadmin_errors_are_decoded(directadmin, mocked, body, headers, match):
    mocked.post(f"{DA}/CMD_API_MODIFY_USER", body=body, headers=headers)
    with pytest.raises(PanelPermanentError, match=match):
        directadmin.change_package("u1", settings={"package": "x"})


# --- NextPanel ----------------------------------------------------------------------------

NP = "http://np.example.test:3000"
NP_HEADERS = {"X-API-Key": "npk_abc", "X-API-Secret": "nps_def", "Content-Type": "application/json"}


@pytest.fixture
def nextpanel() -> NextPanel:
    return NextPanel(
        ServerCredentials(base_url=NP, secrets={"api_key": "npk_abc", "api_secret": "nps_def"})
    )


def test_nextpanel_calls(nextpanel, mocked):
    headers = [matchers.header_matcher(NP_HEADERS)]
    mocked.post(f"{NP}/api/v1/billing/accounts", status=201, json={"id": 88}, match=headers)
    result = nextpanel.create(_spec(package_id=3))
    sent = json.loads(mocked.calls[-1].request.body)
    assert {k: sent[k] for k in ("username", "email", "package_id", "billing_id")} == {
        "username": "np12",
        "email": "ada@example.com",
        "package_id": 3,
        "billing_id": "svc-12",
    }
    assert result.external_id == "88"
    mocked.post(
        f"{NP}/api/v1/billing/accounts/88/suspend",
        json={},
        match=[*headers, matchers.json_params_matcher({"reason": "Overdue"})],
    )
    mocked.post(f"{NP}/api/v1/billing/accounts/88/unsuspend", json={}, match=headers)
    mocked.delete(f"{NP}/api/v1/billing/accounts/88", json={}, match=headers)
    mocked.get(
        f"{NP}/api/v1/billing/accounts/88/stats",
        match=headers,
        json=vendor_payloads.load("nextpanel", "account_stats"),
    )
    nextpanel.suspend("88", reason="Overdue")
    nextpanel.unsuspend("88")
    nextpanel.terminate("88")
    assert nextpanel.usage("88")["total_email_accounts"] == 5


def test_nextpanel_existing_account_is_left_for_staff(nextpanel, mocked):
    mocked.post(
        f"{NP}/api/v1/billing/accounts", status=400, json={"detail": "Username already exists"}
    )
    with pytest.raises(PanelPermanentError, match="link it to this service"):
        nextpanel.create(_spec(package_id=3))
    mocked.upsert(
        "POST",
        f"{NP}/api/v1/billing/accounts",
        status=403,
        json={"detail": "The user doesn't have super admin privileges"},
    )
    with pytest.raises(PanelPermanentError, match="super admin"):
        nextpanel.create(_spec(package_id=3))


# --- WordPress and support backends -------------------------------------------------------

WP = "https://sites.example.test/api"
BEARER = {"Authorization": "Bearer wp-token", "Content-Type": "application/json"}


@pytest.fixture
def wordpress() -> WordPressBackend:
    return WordPressBackend(
        ServerCredentials(
            base_url=WP, secrets={"token": "wp-token"}, options={"public_ip": "198.51.100.7"}
        )
    )


def test_wordpress_site_calls(wordpress, mocked):
    body = {
        "service_id": "svc-12",
        "email": "ada@example.com",
        "plan": "standard",
        "public_ip": "198.51.100.7",
    }
    mocked.post(
        f"{WP}/create-site",
        status=201,
        json=vendor_payloads.load("wordpress", "create_site"),
        match=[matchers.json_params_matcher(body), matchers.header_matcher(BEARER)],
    )
    result = wordpress.create(_spec(plan="standard"))
    assert (result.external_id, result.secrets) == ("svc-12", {"password": "s3cret"})
    for path, call, extra in (
        ("suspend", "suspend", {}),
        ("unsuspend", "unsuspend", {}),
        ("delete-site", "terminate", {}),
    ):
        mocked.post(
            f"{WP}/{path}",
            json={},
            match=[matchers.json_params_matcher({"service_id": "svc-12", **extra})],
        )
        getattr(wordpress, call)("svc-12", **({"reason": "x"} if call == "suspend" else {}))
    mocked.post(
        f"{WP}/wp/upgrade/",
        json={},
        match=[matchers.json_params_matcher({"service_id": "svc-12", "plan": "premium"})],
    )
    wordpress.change_package("svc-12", settings={"plan": "premium"})


def test_wordpress_create_repeated_is_adopted(wordpress, mocked):
    mocked.post(f"{WP}/create-site", status=409, json={"message": "site exists"})
    assert wordpress.create(_spec(plan="basic")).external_id == "svc-12"


def test_support_subscription_calls(mocked):
    backend = SupportBackend(
        ServerCredentials(base_url="https://help.example.test/api", secrets={"token": "sup"})
    )
    base = "https://help.example.test/api/support"
    mocked.post(
        f"{base}/create",
        json={"support_key": "SK-1234"},
        match=[matchers.header_matcher({"Authorization": "Bearer sup"})],
    )
    assert backend.create(_spec()).secrets == {"support_key": "SK-1234"}
    mocked.upsert("POST", f"{base}/create", status=409, json={"message": "exists"})
    mocked.get(f"{base}/svc-12", json={"support_key": "SK-1234"})
    assert backend.create(_spec()).secrets == {"support_key": "SK-1234"}
    for action in ("suspend", "unsuspend", "terminate"):
        mocked.post(
            f"{base}/{action}",
            json={},
            match=[matchers.json_params_matcher({"service_id": "svc-12"})],
        )
    backend.suspend("svc-12", reason="x")
    backend.unsuspend("svc-12")
    backend.terminate("svc-12")


# --- VirtFusion server lifecycle ----------------------------------------------------------

VF = "https://vf.example.test/api/v1"


@pytest.fixture
def virtfusion() -> VirtFusionPanel:
    return VirtFusionPanel(
        ServerCredentials(base_url="https://vf.example.test", secrets={"api_token": "vft"})
    )


def test_virtfusion_create_builds_and_lifecycle(virtfusion, mocked):
    headers = [matchers.header_matcher({"Authorization": "Bearer vft"})]
    mocked.get(f"{VF}/users/4/byExtRelation", json={"data": {"id": 70, "extRelationId": 4}})
    mocked.get(f"{VF}/servers/user/70", json={"data": [{"id": 5, "built": True}]})
    mocked.post(
        f"{VF}/servers",
        status=201,
        json={"data": {"id": 6, "uuid": "u-6"}},
        match=[
            *headers,
            matchers.json_params_matcher({"packageId": 2, "userId": 70, "hypervisorId": 1}),
        ],
    )
    mocked.post(
        f"{VF}/servers/6/build",
        json={"data": {"id": 6}},
        match=[
            matchers.json_params_matcher(
                {
                    "operatingSystemId": 9,
                    "name": "svc-12",
                    "hostname": "vps.ada.example.com",
                    "email": True,
                }
            )
        ],
    )
    result = virtfusion.create(
        _spec(package_id=2, hypervisor_group_id=1, os_template_id=9, linked_external_ids=["5"])
    )
    assert result.external_id == "6"
    mocked.post(f"{VF}/servers/6/suspend", status=204)
    mocked.post(f"{VF}/servers/6/unsuspend", status=204)
    mocked.delete(
        f"{VF}/servers/6", status=204, match=[matchers.query_param_matcher({"delay": "5"})]
    )
    mocked.put(f"{VF}/servers/6/package/3", json={"info": []})
    mocked.post(f"{VF}/servers/6/power/restart", json={"data": {"queueId": 1}})
    virtfusion.suspend("6", reason="x")
    virtfusion.unsuspend("6")
    virtfusion.terminate("6")
    virtfusion.change_package("6", settings={"package_id": 3})
    virtfusion.power("6", action="restart")


def test_virtfusion_adopts_an_unlinked_server_of_the_user(virtfusion, mocked):
    mocked.get(f"{VF}/users/4/byExtRelation", json={"data": {"id": 70, "extRelationId": 4}})
    mocked.get(
        f"{VF}/servers/user/70", json={"data": [{"id": 5, "built": True}, {"id": 6, "built": True}]}
    )
    result = virtfusion.create(
        _spec(package_id=2, hypervisor_group_id=1, os_template_id=9, linked_external_ids=["5"])
    )
    assert result.external_id == "6"
    assert not [c for c in mocked.calls if c.request.method == "POST"]


def test_virtfusion_delete_during_do_not_disturb_is_retried_later(virtfusion, mocked):
    mocked.delete(f"{VF}/servers/6", status=423, json={"msg": "server is locked"})
    with pytest.raises(PanelRetryableError, match="server is locked") as caught:
        virtfusion.terminate("6")
    assert caught.value.may_have_applied is False
    mocked.upsert("DELETE", f"{VF}/servers/6", body=requests.ConnectTimeout())
    with pytest.raises(PanelRetryableError):
        virtfusion.terminate("6")


# --- registry -----------------------------------------------------------------------------


def test_every_module_is_registered_and_validates_product_settings():
    assert set(MODULES) == {
        "sandbox",
        "pterodactyl",
        "virtfusion",
        "directadmin",
        "nextpanel",
        "wordpress",
        "support",
        "dns",  # dnszones.module, loaded from PROVISIONING_MODULES
    }
    errors = module_settings_errors("pterodactyl", {"nest": "x", "egg": 5})
    assert errors["nest"] == "Nest id must be a whole number."
    assert "is required" in errors["memory"]
    assert module_settings_errors("directadmin", {"package": "starter"}) == {}
    assert "Unknown" in module_settings_errors("nope", {})["module"]


def test_modules_of_other_apps_are_loaded_by_path_and_checked_like_the_others(settings):
    from provisioning.panels.registry import module_from_path

    info = module_from_path("dnszones.module")
    assert (info.name, [spec.name for spec in info.product_settings]) == (
        "dns",
        ["plan", "domain_limit", "record_limit"],
    )
    assert info.change_check is not None
    assert MODULES["dns"].factory is info.factory
    assert module_settings_errors("dns", {"domain_limit": "x", "record_limit": 5}) == {
        "domain_limit": "Domains must be a whole number."
    }
    assert "is required" in module_settings_errors("dns", {"domain_limit": 3})["record_limit"]
