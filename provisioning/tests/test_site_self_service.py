"""A WordPress site's self-service through the client area (provisioning.services.
actions_wordpress): every action with the Django test client against the real adapter (its
calls mocked with `responses`, strictly) and against the sandbox; the page's live overview
and its notice when the backend is down; quotas and bad input refused with a message and no
call; the domain's DNS check against a local resolver; customer isolation."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import date

import dns.message
import dns.rcode
import dns.rrset
import pytest
import requests
from django.core.cache import cache
from django.test import TestCase, override_settings
from django.urls import reverse
from django.utils import timezone
from responses import matchers

from accounts.tests.factories import CustomerFactory
from accounts.tests.helpers import assert_customer_isolation
from billing_portal.common.models import AuditEvent
from provisioning.models import ProvisioningOperation, Service
from provisioning.services.actions_wordpress import backup_name_next
from provisioning.tests.factories import ServerFactory, panel_product, service_on

pytestmark = pytest.mark.django_db
Op = ProvisioningOperation
WP = "https://sites.example.test/api"
AUTH = {"Authorization": "Bearer wp-token", "Accept": "application/json"}
PROXY = "198.51.100.7"
TODAY = f"{timezone.localdate():%Y%m%d}"


@pytest.fixture(autouse=True)
def _fresh_reads():
    cache.clear()  # live reads and the sandbox's state


@pytest.fixture
def site() -> Service:
    """An active site on the basic plan (2 backups, 3 custom domains) on a real backend."""
    server = ServerFactory(
        module="wordpress",
        base_url=WP,
        credentials={"token": "wp-token"},
        options={"public_ip": PROXY},
    )
    return service_on(
        server,
        product=panel_product(server, plan="basic"),
        status=Service.Status.ACTIVE,
        external_id="svc-7",
        next_due_date=date(2027, 1, 3),
    )


@pytest.fixture
def sandbox_site() -> Service:
    server = ServerFactory(module="sandbox")
    return service_on(
        server,
        product=panel_product(server, stands_in_for="wordpress", plan="basic"),
        status=Service.Status.ACTIVE,
        external_id="sandbox-svc-8",
    )


def _reads(mocked, *, status=None, domains=(), backups=(), code: int = 200) -> None:
    """The page's (or a clean's) live reads of svc-7."""
    query = [matchers.query_param_matcher({"service_id": "svc-7"}), matchers.header_matcher(AUTH)]
    for path, body in (
        ("status", status or {"status": "running", "subdomain": "ada.sites.example"}),
        ("action/getdomain", list(domains)),
        ("action/getbak", list(backups)),
    ):
        mocked.get(f"{WP}/{path}", json=body, status=code, match=query)


def _read(mocked, path: str, body) -> None:
    mocked.get(
        f"{WP}/{path}", json=body, match=[matchers.query_param_matcher({"service_id": "svc-7"})]
    )


def _expect(mocked, path: str, body: dict, status: int = 200, json=None) -> None:
    mocked.post(
        f"{WP}/{path}",
        status=status,
        json=json if json is not None else {},
        match=[
            matchers.json_params_matcher({"service_id": "svc-7", **body}),
            matchers.header_matcher({**AUTH, "Content-Type": "application/json"}),
        ],
    )


def _act(client, service: Service, action: str, **data: str):
    """Post an action as the page's form does (a fresh click key), running it at once."""
    url = reverse("provisioning:service_action", args=[service.pk, action])
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(url, {"click_key": uuid.uuid4().hex, **data})
    assert response.status_code == 302
    return client.get(response.url)


def _ops(service: Service) -> list[Op]:
    return list(service.operations.filter(kind=Op.Kind.ACTION).order_by("pk"))


# --- the page -------------------------------------------------------------------------------


def test_the_page_shows_the_overview_quotas_and_every_control(client, site, mocked):
    _reads(
        mocked,
        status={"status": "running", "subdomain": "ada.sites.example", "proxy_enabled": True},
        domains=["shop.example.com"],
        backups=[{"id": "b1", "name": "BAK20261201-1", "created_at": "2026-12-01T10:00:00Z"}],
    )
    client.force_login(site.customer.user)
    page = client.get(reverse("provisioning:service_detail", args=[site.pk])).content.decode()
    for expected in (
        'href="https://ada.sites.example/"',
        'data-testid="site-container">Running',
        f'data-testid="site-ip">{PROXY}',
        'data-testid="site-expires">2027-01-03',
        "2 GB RAM · 20 GB disk · 2 backups · 3 custom domains",
        'data-testid="site-domains-quota">1/3',
        'data-testid="site-backups-quota">1/2',
        "shop.example.com",
        "BAK20261201-1",
        "Turn traffic off",
    ):
        assert expected in page, expected
    for action in ("start", "stop", "restart", "reset", "proxy-off", "add_domain"):
        assert f'data-testid="action-{action}' in page, action
    for action in ("delete_domain1", "create_backup", "rollback1", "delete_backup1"):
        assert f'data-testid="action-{action}"' in page, action


def test_a_backend_that_is_down_gives_the_page_a_notice_not_an_error(client, site, mocked):
    mocked.get(f"{WP}/status", status=503, json={"error": "down"})  # and nothing more is asked
    client.force_login(site.customer.user)
    response = client.get(reverse("provisioning:service_detail", args=[site.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count("The panel is not answering right now") == 3  # overview, domains, backups
    assert 'data-testid="action-create_backup"' not in page
    assert 'data-testid="action-add_domain"' not in page


# --- every action against the backend ------------------------------------------------------


@pytest.mark.parametrize("action", ["start", "stop", "restart"])
def test_power_actions(client, site, mocked, action):
    _expect(mocked, "action", {"action": action})
    _reads(mocked)  # the page after the redirect reads again
    client.force_login(site.customer.user)
    _act(client, site, action)
    assert [(op.payload["action"], op.status) for op in _ops(site)] == [(action, "succeeded")]
    assert AuditEvent.objects.filter(action="service.action_requested").count() == 1


def test_reset_needs_the_typed_word_and_is_never_resent(client, site, mocked):
    client.force_login(site.customer.user)
    _reads(mocked)
    page = _act(client, site, "reset", confirm="reset").content.decode()
    assert "Type RESET to confirm." in page
    assert _ops(site) == []
    mocked.post(f"{WP}/action", body=requests.ReadTimeout("lost"))  # the answer is lost
    _act(client, site, "reset", confirm="RESET")
    (operation,) = _ops(site)
    assert (operation.status, operation.attempts) == (Op.Status.UNCERTAIN, 1)


def test_the_traffic_switch(client, site, mocked):
    _expect(mocked, "action/toggle", {"enabled": False})
    _reads(mocked)
    client.force_login(site.customer.user)
    _act(client, site, "proxy", enabled="off")
    (operation,) = _ops(site)
    assert operation.status == Op.Status.SUCCEEDED
    assert operation.response_summary["result"] == {"traffic": "off"}


def test_a_domain_is_added_after_its_check_and_removed(client, site, mocked):
    _read(mocked, "action/getdomain", ["blog.test"])
    _expect(mocked, "action/setdomain", {"domain": "shop.test"})
    _reads(mocked, domains=["blog.test", "shop.test"])
    client.force_login(site.customer.user)
    _act(client, site, "add_domain", domain="Shop.TEST.")
    _expect(mocked, "action/deldomain", {"domain": "blog.test"})
    _reads(mocked, domains=["shop.test"])
    _act(client, site, "delete_domain", domain="blog.test")
    assert [(op.payload["params"], op.status) for op in _ops(site)] == [
        ({"domain": "shop.test", "checked": "dns"}, "succeeded"),
        ({"domain": "blog.test"}, "succeeded"),
    ]


def test_a_backup_is_named_made_rolled_back_to_and_deleted(client, site, mocked):
    earlier = {"id": "b1", "name": f"BAK{TODAY}-1", "created_at": ""}
    made = {"id": "b2", "name": f"BAK{TODAY}-2", "created_at": ""}
    client.force_login(site.customer.user)
    _read(mocked, "action/getbak", [earlier])  # the clean counts the quota
    _read(mocked, "action/getbak", [earlier])  # the adapter looks for one of the name
    _expect(mocked, "action/mkbak", {"name": f"BAK{TODAY}-2"}, json=made)
    _reads(mocked, backups=[earlier, made])
    _act(client, site, "create_backup")
    _expect(mocked, "action/rollback", {"bak": "b1"})
    _reads(mocked, backups=[earlier, made])
    _act(client, site, "rollback", backup_id="b1", confirm="ROLLBACK")
    _expect(mocked, "action/delbak", {"bak": "b2"})
    _reads(mocked, backups=[earlier])
    _act(client, site, "delete_backup", backup_id="b2", confirm="DELETE")
    assert [(op.payload["action"], op.status) for op in _ops(site)] == [
        ("create_backup", "succeeded"),
        ("rollback", "succeeded"),
        ("delete_backup", "succeeded"),
    ]
    assert _ops(site)[0].response_summary["result"] == {"backup": f"BAK{TODAY}-2"}


def test_the_backends_409_is_shown_as_a_clear_message(client, site, mocked):
    _read(mocked, "action/getdomain", [])  # the portal's count says there is room
    _expect(mocked, "action/setdomain", {"domain": "shop.test"}, 409, {"error": "Quota full"})
    _read(mocked, "action/getdomain", [])  # not added by an earlier try
    _read(mocked, "status", {"status": "running"})  # the page (its domains are cached)
    _read(mocked, "action/getbak", [])
    client.force_login(site.customer.user)
    page = _act(client, site, "add_domain", domain="shop.test").content.decode()
    (operation,) = _ops(site)
    assert operation.status == Op.Status.FAILED
    assert "the site has all the custom domains its plan allows" in page
    assert "(the site backend said: Quota full)" in page


# --- refused before any call -------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "data", "reads", "message"),
    [
        (
            "add_domain",
            {"domain": "d.test"},
            {"action/getdomain": ["a.test", "b.test", "c.test"]},
            "Your basic plan allows 3 custom domains and this site has 3",
        ),
        ("add_domain", {"domain": "a.test"}, {"action/getdomain": ["a.test"]}, "already"),
        ("add_domain", {"domain": "not a domain"}, {}, "is not a domain name"),
        ("add_domain", {"domain": "co.uk"}, {}, "is not a domain name"),
        ("add_domain", {"domain": "shop.example.org"}, {"action/getdomain": []}, "demo DNS"),
        ("delete_domain", {"domain": "x.test"}, {"action/getdomain": ["a.test"]}, "no such domain"),
        (
            "create_backup",
            {},
            {"action/getbak": [{"id": "1", "name": "a"}, {"id": "2", "name": "b"}]},
            "Your basic plan keeps 2 backups and this site has 2: delete one first.",
        ),
        (
            "rollback",
            {"backup_id": "nope", "confirm": "ROLLBACK"},
            {"action/getbak": [{"id": "b1", "name": "a"}]},
            "no such backup",
        ),
        (
            "delete_backup",
            {"backup_id": "", "confirm": "DELETE"},
            {"action/getbak": [{"id": "b1", "name": "a"}]},
            "no such backup",
        ),
        ("rollback", {"backup_id": "b1", "confirm": "yes"}, {}, "Type ROLLBACK to confirm."),
        ("proxy", {"enabled": "maybe"}, {}, "traffic is on or off"),
    ],
)
def test_bad_input_gives_a_message_and_no_call(client, site, mocked, action, data, reads, message):
    for path, body in reads.items():
        _read(mocked, path, body)
    client.force_login(site.customer.user)
    url = reverse("provisioning:service_action", args=[site.pk, action])
    response = client.post(url, {"click_key": uuid.uuid4().hex, **data}, HTTP_HX_REQUEST="true")
    assert message in response.content.decode()
    assert _ops(site) == []
    assert all(call.request.method == "GET" for call in mocked.calls)


def test_an_action_is_refused_when_the_backend_cannot_give_its_list(client, site, mocked):
    mocked.get(f"{WP}/action/getbak", status=502)
    client.force_login(site.customer.user)
    url = reverse("provisioning:service_action", args=[site.pk, "create_backup"])
    response = client.post(url, {"click_key": uuid.uuid4().hex}, HTTP_HX_REQUEST="true")
    assert "The panel is not answering right now" in response.content.decode()
    assert _ops(site) == []


def test_backup_names_count_on_within_the_day():
    day = date(2026, 12, 3)
    assert backup_name_next([], day) == "BAK20261203-1"
    names = ["BAK20261203-1", "BAK20261203-4", "BAK20261202-9", "AUTO20261203-7", "x"]
    assert backup_name_next(names, day) == "BAK20261203-5"


# --- the domain's DNS check, against a local resolver -------------------------------------


@pytest.fixture
def dns_answers(settings) -> Iterator[dict[str, list[str]]]:
    """A DNS server on a free loopback port answering A queries from a dict (a name it does
    not hold is NXDOMAIN; an empty list is an answer without records)."""
    answers: dict[str, list[str]] = {}
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text().rstrip(".").lower()
            if name not in answers:
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif answers[name]:
                rrset = dns.rrset.from_text(question.name, 60, "IN", "A", *answers[name])
                response.answer.append(rrset)
            sock.sendto(response.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    settings.SITE_DOMAIN_CHECK = "resolver"
    settings.SITE_DOMAIN_RESOLVER = f"127.0.0.1:{sock.getsockname()[1]}"
    yield answers
    stop.set()
    thread.join()
    sock.close()


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ({"shop.example.com": ["203.0.113.9"]}, "shop.example.com points at 203.0.113.9, not at"),
        ({}, "shop.example.com does not exist in DNS"),
        ({"shop.example.com": []}, "shop.example.com has no A record yet."),
    ],
)
def test_a_domain_that_does_not_point_at_the_proxy_is_refused(
    client, site, mocked, dns_answers, records, message
):
    dns_answers.update(records)
    _read(mocked, "action/getdomain", [])
    client.force_login(site.customer.user)
    url = reverse("provisioning:service_action", args=[site.pk, "add_domain"])
    data = {"click_key": uuid.uuid4().hex, "domain": "shop.example.com"}
    page = client.post(url, data, HTTP_HX_REQUEST="true").content.decode()
    assert message in page
    assert f"Point it at {PROXY}" in page
    assert _ops(site) == []


def test_a_domain_pointing_at_the_proxy_is_added(client, site, mocked, dns_answers):
    dns_answers["shop.example.com"] = [PROXY, "203.0.113.9"]
    _read(mocked, "action/getdomain", [])
    _expect(mocked, "action/setdomain", {"domain": "shop.example.com"})
    _reads(mocked, domains=["shop.example.com"])
    client.force_login(site.customer.user)
    _act(client, site, "add_domain", domain="shop.example.com")
    (operation,) = _ops(site)
    assert operation.status == Op.Status.SUCCEEDED


# --- the sandbox, as `make run` shows it -----------------------------------------------------


@override_settings(SERVICE_ACTION_RATE="100/m")  # a dozen clicks in a row
def test_every_control_works_on_the_sandbox(client, sandbox_site):
    client.force_login(sandbox_site.customer.user)
    detail = reverse("provisioning:service_detail", args=[sandbox_site.pk])

    def page() -> str:
        return client.get(detail).content.decode()

    assert 'data-testid="site-container">Running' in page()
    _act(client, sandbox_site, "stop")
    assert 'data-testid="site-container">Stopped' in page()
    _act(client, sandbox_site, "start")
    _act(client, sandbox_site, "restart")
    _act(client, sandbox_site, "proxy", enabled="off")
    assert "Turn traffic on" in page()
    _act(client, sandbox_site, "proxy", enabled="on")
    _act(client, sandbox_site, "add_domain", domain="shop.test")
    assert 'data-testid="site-domains-quota">1/3' in page()
    _act(client, sandbox_site, "create_backup")
    _act(client, sandbox_site, "create_backup")
    text = page()
    assert f"BAK{TODAY}-1" in text
    assert f"BAK{TODAY}-2" in text
    assert 'data-testid="site-backups-quota">2/2' in text
    assert 'data-testid="action-create_backup"' not in text  # the quota is full
    backups = _sandbox_backups(sandbox_site)
    _act(client, sandbox_site, "rollback", backup_id=backups[0], confirm="ROLLBACK")
    _act(client, sandbox_site, "delete_backup", backup_id=backups[1], confirm="DELETE")
    _act(client, sandbox_site, "delete_domain", domain="shop.test")
    _act(client, sandbox_site, "reset", confirm="RESET")
    statuses = [(op.payload["action"], op.status) for op in _ops(sandbox_site)]
    assert all(status == "succeeded" for _, status in statuses), statuses
    assert len(statuses) == 12
    text = page()
    assert 'data-testid="site-backups-quota">1/2' in text
    assert 'data-testid="site-domains-quota">0/3' in text


def _sandbox_backups(service: Service) -> list[str]:
    from provisioning.panels.sandbox_sites import SandboxSites

    return [b["id"] for b in SandboxSites().backups_list(service.external_id)]


# --- isolation --------------------------------------------------------------------------------


@override_settings(SERVICE_ACTION_RATE="100/m")
def test_customers_reach_only_their_own_sites_actions(client, sandbox_site):
    client.force_login(sandbox_site.customer.user)
    _act(client, sandbox_site, "stop")
    (operation,) = _ops(sandbox_site)
    intruder = CustomerFactory()
    assert_customer_isolation(
        client,
        urls=[
            reverse("provisioning:service_detail", args=[sandbox_site.pk]),
            reverse("provisioning:service_operation", args=[sandbox_site.pk, operation.pk]),
        ],
        owner=sandbox_site.customer,
        intruder=intruder,
    )
    client.force_login(intruder.user)
    posts = {
        "start": {},
        "stop": {},
        "restart": {},
        "reset": {"confirm": "RESET"},
        "proxy": {"enabled": "off"},
        "add_domain": {"domain": "evil.test"},
        "delete_domain": {"domain": "shop.test"},
        "create_backup": {},
        "delete_backup": {"backup_id": "x", "confirm": "DELETE"},
        "rollback": {"backup_id": "x", "confirm": "ROLLBACK"},
    }
    for action, data in posts.items():
        url = reverse("provisioning:service_action", args=[sandbox_site.pk, action])
        response = client.post(url, {"click_key": uuid.uuid4().hex, **data})
        assert response.status_code == 404, action
    via_zone = reverse("provisioning:site_domain_via_zone", args=[sandbox_site.pk])
    response = client.post(via_zone, {"click_key": uuid.uuid4().hex, "domain": "a.test"})
    assert response.status_code == 404
    assert len(_ops(sandbox_site)) == 1


def test_recent_actions_show_each_actions_label_not_its_name(client, sandbox_site):
    client.force_login(sandbox_site.customer.user)
    _act(client, sandbox_site, "create_backup")
    _act(client, sandbox_site, "reset", confirm="RESET")
    _act(client, sandbox_site, "proxy", enabled="off")
    # an action its module no longer offers keeps its recorded name
    gone = _ops(sandbox_site)[0]
    Op.objects.filter(pk=gone.pk).update(payload={"action": "defragment", "params": {}})

    page = client.get(reverse("provisioning:service_detail", args=[sandbox_site.pk]))
    listed = page.content.decode().split('data-testid="recent-actions">')[1].split("</ul>")[0]

    lines = [line.split(" · ")[1:] for line in listed.removeprefix("<li>").split("</li><li>")]
    lines[-1][-1] = lines[-1][-1].removesuffix("</li>")
    assert lines == [
        ["Site traffic", "Succeeded"],
        ["Reset to the initial snapshot", "Succeeded"],
        ["defragment", "Succeeded"],
    ]
