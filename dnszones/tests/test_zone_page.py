"""The zone page shows its records a page at a time: the same queries for 3 records as for
1,000, search by name and type, and adding, editing and deleting return to the page the
record is on (or was on)."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from djmoney.money import Money

from billing.views.dns import RECORDS_PER_PAGE
from credits.services import credit_entry_append
from dnszones import services
from dnszones.models import Record, Zone
from dnszones.tests.plans import buy

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _delegated(monkeypatch):
    monkeypatch.setattr(services, "delegation_check", lambda name: None)


@pytest.fixture
def zone(customer) -> Zone:
    credit_entry_append(
        customer=customer,
        amount=Money(Decimal("100"), "USD"),
        kind="admin_add",
        idempotency_key="f",
    )
    buy(customer, "Enterprise")  # 1,000 records per zone
    return services.zone_create(customer=customer, name="shop.example")


def _records(zone: Zone, count: int) -> None:
    """`count` A records host000, host001, ... (bulk: the page is what is tested here)."""
    Record.objects.bulk_create(
        Record(zone=zone, name=f"host{n:03}", type="A", ttl=300, content=f"192.0.2.{n % 250}")
        for n in range(count)
    )


def _url(zone: Zone, **query: str | int) -> str:
    url = reverse("dns:zone_detail", args=[zone.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def _names(response) -> list[str]:
    return [record.name for record in response.context["records"]]


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_the_page_runs_the_same_queries_for_3_and_for_1000_records(client, zone):
    client.force_login(zone.customer.user)
    counts = []
    for total in (3, 1000):
        Record.objects.filter(zone=zone).delete()
        _records(zone, total)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(_url(zone, page=2) if total > RECORDS_PER_PAGE else _url(zone))
        assert response.status_code == 200
        counts.append(len(captured))
        assert len(response.context["records"]) == min(total, RECORDS_PER_PAGE)
    assert counts[0] == counts[1]


def test_records_are_shown_a_page_at_a_time_in_name_order(client, zone):
    _records(zone, 120)
    client.force_login(zone.customer.user)
    first = client.get(_url(zone))
    assert _names(first)[:2] == ["host000", "host001"]
    assert first.context["record_count"] == 120
    page = first.content.decode()
    assert "Records 1\N{EN DASH}50 of 120" in page
    assert 'href="?page=2"' in page
    last = client.get(_url(zone, page=3))
    assert _names(last) == [f"host{n:03}" for n in range(100, 120)]
    assert f'href="?page=3&amp;edit={Record.objects.get(name="host119").pk}"' in (
        last.content.decode()
    )
    for bad in ("99", "0", "-1", "x", "\u0661", "9" * 40):  # past the end, or not a number
        response = client.get(_url(zone, page=bad))
        assert response.status_code == 200
        assert len(response.context["records"]) in (20, 50)


def test_search_by_name_and_type_pages_within_the_results(client, zone):
    _records(zone, 120)
    services.record_add(
        customer=zone.customer,
        zone_id=zone.pk,
        name="host005",
        type="TXT",
        ttl=300,
        content='"hello"',
    )
    client.force_login(zone.customer.user)
    found = client.get(_url(zone, q="HOST00"))
    assert _names(found) == [f"host00{n}" for n in (0, 1, 2, 3, 4, 5, 5, 6, 7, 8, 9)]
    assert found.context["record_count"] == 121  # the zone's count, not the matches'
    assert "Records 1\N{EN DASH}11 of 11 matching" in found.content.decode()
    typed = client.get(_url(zone, q="host005", type="TXT"))
    assert [(r.name, r.type) for r in typed.context["records"]] == [("host005", "TXT")]
    paged = client.get(_url(zone, type="A", page=3))
    assert 'href="?type=A&amp;page=2"' in paged.content.decode()
    assert len(paged.context["records"]) == 20  # the 120 A records
    nothing = client.get(_url(zone, q="nope"))
    assert "No matching records" in nothing.content.decode()
    assert client.get(_url(zone, type="BOGUS")).context["shown"].type == ""  # all types


def test_an_empty_zone_says_so(client, zone):
    Record.objects.filter(zone=zone).delete()
    client.force_login(zone.customer.user)
    page = client.get(_url(zone)).content.decode()
    assert "No records yet" in page
    assert 'data-testid="record-search"' not in page


def test_editing_returns_to_the_page_the_record_is_on(client, zone):
    _records(zone, 120)
    client.force_login(zone.customer.user)
    record = Record.objects.get(name="host010")
    data = {"action": "edit", "record": record.pk, "type": "A", "ttl": "300"}
    data["content"] = "192.0.2.77"
    moved = client.post(_url(zone, edit=record.pk), {**data, "name": "host110"})
    assert moved.status_code == 302, moved.content.decode()[-3000:]
    assert _query(moved.url) == {"page": ["3"]}  # host110 is the 111th record
    assert "host110" in _names(client.get(moved.url))
    searched = client.post(_url(zone, q="host0", page=3), {**data, "name": "host051x"})
    assert _query(searched.url) == {"q": ["host0"], "page": ["2"]}  # the 52nd match
    assert "host051x" in _names(client.get(searched.url))
    away = client.post(_url(zone, q="host0"), {**data, "name": "mail"})
    assert _query(away.url) == {"page": ["3"]}  # no longer matches: found in every record
    assert "mail" in _names(client.get(away.url))


def test_adding_goes_to_the_new_records_page_and_deleting_stays(client, zone):
    _records(zone, 120)
    client.force_login(zone.customer.user)
    add = {"action": "add", "name": "zz", "type": "A", "ttl": "300", "content": "192.0.2.9"}
    added = client.post(_url(zone), add)
    assert _query(added.url) == {"page": ["3"]}
    assert _names(client.get(added.url))[-1] == "zz"
    bad = client.post(_url(zone, page=2), {**add, "content": "300.1.1.1"})
    assert bad.status_code == 400
    assert bad.context["page_obj"].number == 2  # the error on the page posted from
    last = Record.objects.get(name="zz")
    deleted = client.post(_url(zone, page=3), {"action": "delete", "record": last.pk})
    assert _query(deleted.url) == {"page": ["3"]}
    for record in Record.objects.filter(name__gte="host100"):
        client.post(_url(zone, page=3), {"action": "delete", "record": record.pk})
    after = client.get(deleted.url)  # page 3 is gone: the last page is shown
    assert after.context["page_obj"].number == 2
