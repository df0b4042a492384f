"""The WordPress site backend's self-service calls (provisioning.panels.wordpress): every
call's method, path, query, headers and body against the contract at the top of the module,
the lenient reading of its answers, and the error mapping (409 as a clear sentence, 404 on
deletes as done, 5xx retryable)."""

from __future__ import annotations

import pytest
from responses import matchers

from provisioning.errors import PanelPermanentError, PanelRetryableError
from provisioning.panels.base import Backups, ServerCredentials, SiteControls
from provisioning.panels.sandbox import SandboxPanel
from provisioning.panels.wordpress import WordPressBackend

WP = "https://sites.example.test/api"
AUTH = {"Authorization": "Bearer wp-token", "Accept": "application/json"}
JSON = {**AUTH, "Content-Type": "application/json"}
SITE = {"service_id": "svc-12"}


@pytest.fixture
def wordpress() -> WordPressBackend:
    return WordPressBackend(
        ServerCredentials(
            base_url=WP, secrets={"token": "wp-token"}, options={"public_ip": "198.51.100.7"}
        )
    )


def _get(mocked, path: str, json, status: int = 200) -> None:
    mocked.get(
        f"{WP}/{path}",
        json=json,
        status=status,
        match=[matchers.query_param_matcher(SITE), matchers.header_matcher(AUTH)],
    )


def _post(mocked, path: str, body: dict, json=None, status: int = 200) -> None:
    mocked.post(
        f"{WP}/{path}",
        json=json if json is not None else {},
        status=status,
        match=[matchers.json_params_matcher({**SITE, **body}), matchers.header_matcher(JSON)],
    )


def test_the_backend_and_the_sandbox_have_both_capabilities(wordpress):
    sandbox = SandboxPanel(ServerCredentials(base_url="http://127.0.0.1", secrets={}))
    for panel in (wordpress, sandbox):
        assert isinstance(panel, SiteControls)
        assert isinstance(panel, Backups)


def test_status_is_read_with_the_servers_ip_as_fallback(wordpress, mocked):
    _get(mocked, "status", {"status": "Running", "subdomain": "ada.sites.example"})
    assert wordpress.site_status("svc-12") == {
        "status": "running",
        "subdomain": "ada.sites.example",
        "ip": "198.51.100.7",
        "proxy_enabled": True,
    }


@pytest.mark.parametrize("action", ["start", "stop", "restart"])
def test_power_actions(wordpress, mocked, action):
    _post(mocked, "action", {"action": action})
    wordpress.site_power("svc-12", action=action)


def test_an_unknown_power_action_is_refused_without_a_call(wordpress, mocked):
    with pytest.raises(PanelPermanentError, match="Unknown power action"):
        wordpress.site_power("svc-12", action="explode")


def test_reset_rolls_back_to_the_initial_snapshot(wordpress, mocked):
    _post(mocked, "action", {"action": "reset"})
    wordpress.site_reset("svc-12")


def test_the_proxy_switch_sends_the_wanted_state(wordpress, mocked):
    _post(mocked, "action/toggle", {"enabled": False})
    wordpress.site_proxy_set("svc-12", enabled=False)


@pytest.mark.parametrize(
    "answer",
    [
        ["Shop.example.com", "blog.example.com"],
        [{"domain": "shop.example.com"}, {"domain": "blog.example.com"}],
        {"domains": ["shop.example.com", "blog.example.com"]},
    ],
)
def test_domains_are_read_in_every_shape(wordpress, mocked, answer):
    _get(mocked, "action/getdomain", answer)
    assert wordpress.site_domains("svc-12") == ["shop.example.com", "blog.example.com"]


def test_a_domain_is_added_and_deleted(wordpress, mocked):
    _post(mocked, "action/setdomain", {"domain": "shop.example.com"})
    wordpress.site_domain_add("svc-12", domain="shop.example.com")
    _post(mocked, "action/deldomain", {"domain": "shop.example.com"})
    wordpress.site_domain_delete("svc-12", domain="shop.example.com")


def test_the_domain_quota_409_is_a_clear_sentence(wordpress, mocked):
    _post(
        mocked,
        "action/setdomain",
        {"domain": "shop.example.com"},
        json={"error": "Domain quota exceeded"},
        status=409,
    )
    _get(mocked, "action/getdomain", ["blog.example.com"])  # not added by an earlier try
    with pytest.raises(PanelPermanentError) as caught:
        wordpress.site_domain_add("svc-12", domain="shop.example.com")
    assert caught.value.status == 409
    assert caught.value.message == (
        "This domain was not added: the site has all the custom domains its plan allows, "
        "or the domain is in use already (the site backend said: Domain quota exceeded)."
    )


def test_a_domain_added_by_an_attempt_whose_answer_was_lost_is_done(wordpress, mocked):
    _post(
        mocked,
        "action/setdomain",
        {"domain": "shop.example.com"},
        json={"error": "exists"},
        status=409,
    )
    _get(mocked, "action/getdomain", ["shop.example.com"])
    wordpress.site_domain_add("svc-12", domain="shop.example.com")


@pytest.mark.parametrize(
    ("call", "path", "kwargs", "body"),
    [
        (
            "site_domain_delete",
            "action/deldomain",
            {"domain": "a.example"},
            {"domain": "a.example"},
        ),
        ("backup_delete", "action/delbak", {"backup_id": "b1"}, {"bak": "b1"}),
    ],
)
def test_deleting_what_is_gone_already_is_done(wordpress, mocked, call, path, kwargs, body):
    _post(mocked, path, body, json={"error": "not found"}, status=404)
    getattr(wordpress, call)("svc-12", **kwargs)


def test_backups_are_listed_as_the_protocol_gives_them(wordpress, mocked):
    _get(
        mocked,
        "action/getbak",
        [
            {"id": "b1", "name": "BAK20261201-1", "created_at": "2026-12-01T10:00:00Z"},
            {"bak": "BAK20261202-1", "created": "2026-12-02T10:00:00Z"},
        ],
    )
    assert wordpress.backups_list("svc-12") == [
        {"id": "b1", "name": "BAK20261201-1", "created_at": "2026-12-01T10:00:00Z"},
        {"id": "BAK20261202-1", "name": "BAK20261202-1", "created_at": "2026-12-02T10:00:00Z"},
    ]


def test_a_backup_is_created_by_name_restored_and_deleted(wordpress, mocked):
    _get(mocked, "action/getbak", [])
    _post(
        mocked,
        "action/mkbak",
        {"name": "BAK20261203-1"},
        json={"id": "b7", "name": "BAK20261203-1", "created_at": "2026-12-03T11:00:00Z"},
    )
    made = wordpress.backup_create("svc-12", name="BAK20261203-1")
    assert made == {"id": "b7", "name": "BAK20261203-1", "created_at": "2026-12-03T11:00:00Z"}
    _post(mocked, "action/rollback", {"bak": "b7"})
    wordpress.backup_restore("svc-12", backup_id="b7")
    _post(mocked, "action/delbak", {"bak": "b7"})
    wordpress.backup_delete("svc-12", backup_id="b7")


def test_a_resent_backup_create_adopts_the_backup_of_that_name(wordpress, mocked):
    _get(mocked, "action/getbak", [{"id": "b7", "name": "BAK20261203-1", "created_at": ""}])
    assert wordpress.backup_create("svc-12", name="BAK20261203-1")["id"] == "b7"


def test_the_backup_quota_409_is_a_clear_sentence(wordpress, mocked):
    _get(mocked, "action/getbak", [])
    _post(
        mocked,
        "action/mkbak",
        {"name": "BAK20261203-3"},
        json={"error": "Backup limit exceeded"},
        status=409,
    )
    with pytest.raises(PanelPermanentError, match=r"keeps all the backups its plan allows.*"):
        wordpress.backup_create("svc-12", name="BAK20261203-3")


def test_a_backend_that_is_down_is_retryable(wordpress, mocked):
    _post(mocked, "action/rollback", {"bak": "b7"}, json={"error": "busy"}, status=503)
    with pytest.raises(PanelRetryableError):
        wordpress.backup_restore("svc-12", backup_id="b7")
