"""The customer API's DNS (billing/api/dns_api.py): plans and their quotes, buying one (paid
from credit when it covers it, once per Idempotency-Key), cancelling it, zones and records
through the DNS page's services with its messages; another customer's zone or record is a
404, a key without the `dns` scope a 403, bad input a 400 that changes nothing. The DNS
server is the local backend, as in dnszones/tests/test_plans_and_zones.py."""

from __future__ import annotations

from datetime import date

import pytest

from billing.tests.test_api import ERROR_KEYS, api
from dnszones import services
from dnszones.models import Record, Zone
from dnszones.tests.plans import after_commit, at, buy, dns_product, fund
from invoices.models import Invoice
from provisioning.models import Service

pytestmark = pytest.mark.django_db
START = date(2026, 3, 10)


@pytest.fixture(autouse=True)
def _delegated(monkeypatch):
    """Every domain counts as delegated here (the check itself is tested against PowerDNS)."""
    monkeypatch.setattr(services, "delegation_check", lambda name: None)


@pytest.fixture(autouse=True)
def _on_start():
    with at(START):
        yield


def _post(client, url: str, body: dict | None = None, key: str | None = "k-1"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(url, body or {}, content_type="application/json", **headers)


def _error(response, status: int = 400) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == ERROR_KEYS
    return body


def _planned(customer):
    fund(customer, "10", f"f{customer.pk}")
    buy(customer)
    return api(customer, "dns")


def test_plans_quote_and_buy_once_paid_from_credit(customer):
    fund(customer, "12", "f")
    client = api(customer, "dns")
    plans = client.get("/api/v1/dns/plans/").json()
    basic = next(p for p in plans if p["name"] == "Basic")
    assert (basic["price"]["amount"], basic["domain_limit"]) == ("5.00", 3)
    quote = client.get(f"/api/v1/dns/plans/{basic['id']}/quote/").json()
    assert quote["amount"]["amount"] == "5.00"
    assert quote["from_plan"] is None

    body = {"plan": basic["id"], "amount": "5.00"}
    with after_commit(execute=True):
        first = _post(client, "/api/v1/dns/subscription/", body)
    assert first.status_code == 201, first.content
    assert first.json()["invoice_status"] == "paid"
    assert first.json()["detail"].startswith("Your DNS plan is Basic.")
    assert _post(client, "/api/v1/dns/subscription/", body).json() == first.json()
    assert Invoice.objects.count() == 1
    held = client.get("/api/v1/dns/subscription/").json()
    assert (held["service"]["plan"], held["service"]["status"]) == ("Basic", "active")
    assert held["allowance"]["domain_limit"] == 3
    again = _error(_post(client, "/api/v1/dns/subscription/", body, "k-2"))
    assert again["detail"] == "You already have the Basic plan."


def test_a_changed_price_or_an_unknown_plan_is_refused(customer):
    fund(customer, "12", "f")
    client = api(customer, "dns")
    basic = dns_product("Basic")
    changed = _error(_post(client, "/api/v1/dns/subscription/", {"plan": basic.pk, "amount": "4"}))
    assert changed["code"] == "dns_price_changed"
    unknown = _error(
        _post(client, "/api/v1/dns/subscription/", {"plan": 999999, "amount": "1"}, "2")
    )
    assert unknown["errors"]["plan"] == ["No such plan."]
    _error(client.get("/api/v1/dns/plans/999999/quote/"), 404)
    assert not Service.objects.filter(customer=customer).exists()


def test_cancelling_the_plan_ends_it_at_the_period_end(customer):
    client = _planned(customer)
    response = client.post("/api/v1/dns/subscription/cancel/")
    assert response.status_code == 200, response.content
    assert response.json()["ends_on"] == "2026-04-10"
    assert Service.objects.get(customer=customer).ends_on == date(2026, 4, 10)


def test_cancelling_without_a_plan_is_refused(customer):
    refused = _error(api(customer, "dns").post("/api/v1/dns/subscription/cancel/"))
    assert refused["detail"] == "You have no DNS plan to cancel."


def test_zones_and_records_crud_with_the_pages_messages(customer):
    client = _planned(customer)
    created = _post(client, "/api/v1/dns/zones/", {"name": "Shop.Example.", "apex": "PROXYSRV"})
    assert created.status_code == 201, created.content
    zone = created.json()
    assert (zone["name"], zone["record_count"]) == ("shop.example", 1)
    assert (
        _post(client, "/api/v1/dns/zones/", {"name": "Shop.Example.", "apex": "PROXYSRV"}).json()
        == zone
    )
    listed = client.get("/api/v1/dns/zones/").json()
    assert [z["name"] for z in listed["results"]] == ["shop.example"]

    records = f"/api/v1/dns/zones/{zone['id']}/records/"
    bad = _error(
        _post(
            client,
            records,
            {"name": "www", "type": "A", "ttl": "300", "content": "300.1.1.1"},
            "r0",
        )
    )
    assert "is not an IPv4 address" in bad["detail"]
    added = _post(
        client, records, {"name": "www", "type": "A", "ttl": 300, "content": "192.0.2.5"}, "r1"
    )
    assert added.status_code == 201, added.content
    record = added.json()
    duplicate = _error(
        _post(
            client, records, {"name": "www", "type": "A", "ttl": 300, "content": "192.0.2.5"}, "r2"
        )
    )
    assert duplicate["detail"] == "This record exists already."
    assert [r["name"] for r in client.get(f"{records}?q=ww&type=A").json()["results"]] == ["www"]

    one = f"{records}{record['id']}/"
    changed = client.put(
        one,
        {"name": "www", "type": "A", "ttl": "600", "content": "192.0.2.6"},
        content_type="application/json",
    )
    assert changed.status_code == 200, changed.content
    assert (changed.json()["ttl"], changed.json()["content"]) == (600, "192.0.2.6")
    assert client.get(one).json()["content"] == "192.0.2.6"
    assert client.delete(one).status_code == 204
    assert not Record.objects.filter(pk=record["id"]).exists()

    wrong = _error(client.delete(f"/api/v1/dns/zones/{zone['id']}/?confirm=wrong.example"))
    assert wrong["detail"] == "Type shop.example to confirm that the zone and its records go."
    assert Zone.objects.exists()
    assert client.delete(f"/api/v1/dns/zones/{zone['id']}/?confirm=shop.example").status_code == 204
    assert not Zone.objects.exists()


def test_zones_need_a_plan_and_bad_input_changes_nothing(customer):
    client = api(customer, "dns")
    no_plan = _error(_post(client, "/api/v1/dns/zones/", {"name": "shop.example"}))
    assert "You need an active DNS plan" in no_plan["detail"]
    client = _planned(customer)
    suffix = _error(_post(client, "/api/v1/dns/zones/", {"name": "co.uk"}, "2"))
    assert "public suffix" in suffix["detail"]
    missing = _error(_post(client, "/api/v1/dns/zones/", {}, "3"))
    assert "name" in missing["errors"]
    assert not Zone.objects.exists()


def test_another_customers_zones_and_records_are_404(customer, other_customer):
    owner = _planned(customer)
    intruder = _planned(other_customer)
    zone = _post(owner, "/api/v1/dns/zones/", {"name": "shop.example"}).json()
    records = f"/api/v1/dns/zones/{zone['id']}/records/"
    record = _post(
        owner, records, {"name": "www", "type": "A", "ttl": 300, "content": "192.0.2.5"}, "r"
    ).json()
    own_zone = _post(intruder, "/api/v1/dns/zones/", {"name": "mine.example"}).json()
    body = {"name": "x", "type": "A", "ttl": 300, "content": "192.0.2.9"}
    one = f"{records}{record['id']}/"
    # A record of A's zone under B's own zone is not found either.
    under_own = f"/api/v1/dns/zones/{own_zone['id']}/records/{record['id']}/"
    responses = [
        intruder.get(f"/api/v1/dns/zones/{zone['id']}/"),
        intruder.delete(f"/api/v1/dns/zones/{zone['id']}/?confirm=shop.example"),
        intruder.get(records),
        _post(intruder, records, body, "i1"),
        intruder.get(one),
        intruder.put(one, body, content_type="application/json"),
        intruder.delete(one),
        intruder.get(under_own),
        intruder.put(under_own, body, content_type="application/json"),
        intruder.delete(under_own),
    ]
    assert [r.status_code for r in responses] == [404] * len(responses)
    assert Record.objects.get(pk=record["id"]).content == "192.0.2.5"
    assert Zone.objects.filter(pk=zone["id"]).exists()


def test_dns_needs_the_dns_scope(customer):
    _planned(customer)
    reader = api(customer, "read", "services")
    for response in (
        reader.get("/api/v1/dns/zones/"),
        reader.get("/api/v1/dns/plans/"),
        _post(reader, "/api/v1/dns/zones/", {"name": "shop.example"}),
        reader.post("/api/v1/dns/subscription/cancel/"),
    ):
        assert _error(response, 403)["code"] == "scope_missing"
    assert not Zone.objects.exists()
