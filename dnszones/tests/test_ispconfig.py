"""The ISPConfig backend's calls against the documented JSON remote API (external-apis §6a):
function in the query string, parameters as a JSON object, `code` checked (HTTP 200)."""

from __future__ import annotations

import json

import pytest
import requests
from responses import matchers

from dnszones.backends.base import RRSet, ZoneData
from dnszones.backends.ispconfig import IspConfigBackend
from dnszones.errors import DnsBackendError

URL = "https://isp.example.test:8080/remote/json.php"
SOA = "ns1.nodepoint.eu. hostmaster.nodepoint.eu. 2026112201 10800 3600 604800 3600"


def ok(response) -> dict:
    return {"code": "ok", "message": "", "response": response}


@pytest.fixture
def backend() -> IspConfigBackend:
    return IspConfigBackend(url=URL, username="portal", password="secret", client_id=7, server_id=2)


def _login(mocked) -> None:
    mocked.post(
        f"{URL}?login",
        json=ok("sess-1"),
        match=[
            matchers.json_params_matcher(
                {"username": "portal", "password": "secret", "client_login": False}
            )
        ],
    )


def _bodies(mocked, function: str) -> list[dict]:
    return [
        json.loads(c.request.body) for c in mocked.calls if c.request.url == f"{URL}?{function}"
    ]


def test_a_new_zone_and_its_record_sets(backend, mocked):
    _login(mocked)
    mocked.post(f"{URL}?dns_zone_get", json=ok([]))
    mocked.post(f"{URL}?dns_zone_add", json=ok(41))
    mocked.post(f"{URL}?dns_zone_get", json=ok([{"id": "41", "origin": "shop.example."}]))
    for family in ("ns", "a", "mx", "txt"):
        mocked.post(f"{URL}?dns_{family}_get", json=ok([]))
        mocked.post(f"{URL}?dns_{family}_add", json=ok(100))
    zone = ZoneData(
        "shop.example.",
        (
            RRSet("shop.example.", "SOA", 3600, (SOA,)),
            RRSet("shop.example.", "NS", 3600, ("ns1.nodepoint.eu.", "ns2.nodepoint.eu.")),
            RRSet("shop.example.", "A", 300, ("203.0.113.80",)),
            RRSet("shop.example.", "MX", 300, ("10 mail.shop.example.",)),
            RRSet("shop.example.", "TXT", 300, ('"v=spf1 mx -all"',)),
        ),
    )
    backend.zone_create(zone)
    added = _bodies(mocked, "dns_zone_add")[0]
    assert added["session_id"] == "sess-1"
    assert added["client_id"] == 7
    assert {k: added["params"][k] for k in ("server_id", "origin", "ns", "mbox", "serial")} == {
        "server_id": 2,
        "origin": "shop.example.",
        "ns": "ns1.nodepoint.eu.",
        "mbox": "hostmaster.nodepoint.eu.",
        "serial": "2026112201",
    }
    mx = _bodies(mocked, "dns_mx_add")[0]["params"]
    assert (mx["zone"], mx["name"], mx["type"], mx["data"], mx["aux"], mx["ttl"]) == (
        41,
        "shop.example.",
        "mx",
        "mail.shop.example.",
        "10",
        "300",
    )
    assert _bodies(mocked, "dns_txt_add")[0]["params"]["data"] == "v=spf1 mx -all"
    assert len(_bodies(mocked, "dns_ns_add")) == 2
    assert len(_bodies(mocked, "login")) == 1  # one session for all calls


def test_replacing_a_set_deletes_the_old_records_first(backend, mocked):
    _login(mocked)
    mocked.post(f"{URL}?dns_zone_get", json=ok([{"id": "41"}]))
    mocked.post(
        f"{URL}?dns_a_get",
        json=ok([{"id": "5", "data": "192.0.2.1"}, {"id": "6", "data": "192.0.2.2"}]),
    )
    mocked.post(f"{URL}?dns_a_delete", json=ok(1))
    mocked.post(f"{URL}?dns_a_add", json=ok(7))
    backend.rrset_replace("shop.example.", [RRSet("www.shop.example.", "A", 300, ("192.0.2.9",))])
    assert [b["primary_id"] for b in _bodies(mocked, "dns_a_delete")] == [5, 6]
    assert _bodies(mocked, "dns_a_get")[0]["primary_id"] == {
        "zone": 41,
        "name": "www.shop.example.",
        "type": "a",
    }
    assert [b["params"]["data"] for b in _bodies(mocked, "dns_a_add")] == ["192.0.2.9"]


def test_remote_faults_and_outages(backend, mocked):
    mocked.post(
        f"{URL}?login",
        json={"code": "remote_fault", "message": "The login failed.", "response": False},
    )
    with pytest.raises(DnsBackendError, match="The login failed") as caught:
        backend.test_connection()
    assert caught.value.retryable is False
    mocked.replace("POST", f"{URL}?login", body=requests.ConnectTimeout())
    with pytest.raises(DnsBackendError) as caught:
        backend.test_connection()
    assert caught.value.retryable is True


def test_deleting_a_zone_that_is_not_there_is_fine(backend, mocked):
    _login(mocked)
    mocked.post(f"{URL}?dns_zone_get", json=ok([]))
    backend.zone_delete("gone.example.")
    assert not _bodies(mocked, "dns_zone_delete")
