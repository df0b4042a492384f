"""The staff dashboard (issue 19): each figure against the hand-built business of data.py
(known answers), the empty state, who sees what, and a constant number of queries."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from accounts.roles import roles_sync
from accounts.tests.helpers import logged_in, role_member, staff_user
from provisioning.models import Server
from reports import selectors
from reports.dashboard import PortalAdminSite
from reports.tests.data import NOW, build_business

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def business(frozen):
    return build_business()


@pytest.fixture
def periods(frozen) -> selectors.Periods:
    return selectors.Periods.at()


def test_the_admin_site_is_the_portals_with_every_screen_still_registered():
    assert isinstance(admin.site, PortalAdminSite)
    assert reverse("admin:index") == "/admin/"
    assert len(admin.site._registry) > 30


def test_mrr_is_normalised_from_each_cycle_per_currency_now_and_at_each_months_end(
    business, periods
):
    mrr = selectors.mrr_by_currency(moments=periods.month_ends())
    assert set(mrr) == {"USD", "EUR"}
    # month ends: ..., May 1 (April's end), June 1 (May's end), now
    assert mrr["USD"][-1] == D("35.00")
    assert mrr["USD"][-2] == D("50.00")
    assert mrr["USD"][-3] == D("60.00")
    assert mrr["EUR"][-1] == D("19.99")
    assert mrr["EUR"][-2] == D("19.99")
    assert mrr["EUR"][-3] == D("9.99")  # the semi-annual one started on May 15
    assert mrr["USD"][0] == D("0.00")  # July 2025's end: nothing yet


def test_money_figures_with_their_change_against_the_previous_period(business, periods):
    revenue = selectors.revenue_by_month(periods=periods)
    receivables = selectors.receivables_by_currency(periods=periods)
    credit = selectors.credit_liability_by_currency(at=periods.month_start)
    mrr = selectors.mrr_by_currency(moments=periods.month_ends())
    figures = {
        f.currency: f
        for f in selectors.currency_figures(
            periods=periods, mrr=mrr, revenue=revenue, receivables=receivables, credit=credit
        )
    }
    usd, eur = figures["USD"], figures["EUR"]
    assert (usd.mrr.current, usd.mrr.previous) == (D("35.00"), D("50.00"))
    assert (usd.arr.current, usd.arr.previous) == (D("420.00"), D("600.00"))
    assert usd.mrr.percent == D("-30.0")
    assert (usd.revenue.current, usd.revenue.previous) == (D("150.00"), D("70.00"))
    assert revenue["USD"] == {
        "manual": [D("0.00")] * 11 + [D("50.00")],
        "stripe": [D("0.00")] * 10 + [D("70.00"), D("100.00")],
    }
    assert (eur.revenue.current, eur.revenue.previous) == (D("40.00"), D("0.00"))
    assert eur.revenue.percent is None
    assert (usd.overdue.current, usd.overdue.previous) == (D("350.00"), D("850.00"))
    assert (eur.overdue.current, eur.overdue.previous) == (D("80.00"), D("0.00"))
    assert (usd.credit_liability.current, usd.credit_liability.previous) == (D("40.00"), D("50.00"))
    assert (eur.credit_liability.current, eur.credit_liability.previous) == (D("15.00"), D("15.00"))


def test_overdue_ageing_buckets_at_their_boundaries(business, periods):
    usd = selectors.receivables_by_currency(periods=periods)["USD"]
    # 30 days past due is 0-30, 31 is 31-60; 60 | 61; 90 | 91.
    assert usd.ageing == (D("100.00"), D("160.00"), D("50.00"), D("40.00"))
    assert usd.ageing_counts == (1, 2, 2, 1)


def test_service_counts_new_cancelled_and_churn(business, periods):
    flow = selectors.service_flow(periods=periods)
    figures = selectors.service_figures(flow)
    assert (figures.in_service.current, figures.in_service.previous) == (7, 7)
    assert flow.in_service_at_start[-2] == 8
    assert (figures.new.current, figures.new.previous) == (1, 1)
    assert (figures.cancelled.current, figures.cancelled.previous) == (1, 2)
    assert figures.churn is not None
    assert (figures.churn.current, figures.churn.previous) == (D("14.3"), D("25.0"))
    assert selectors.services_in_service_by_kind(at=periods.now) == [
        ("Game server", 3),
        ("VPS", 2),
        ("Web hosting", 2),
    ]


def test_server_utilisation_per_group_counts_active_servers(business):
    groups = {g.group: g for g in selectors.server_utilisation_by_group()}
    assert (groups["Alpha"].used, groups["Alpha"].capacity, groups["Alpha"].offline) == (10, 20, 1)
    assert groups["Alpha"].percent == D("50.0")
    assert (groups["Beta"].used, groups["Beta"].capacity, groups["Beta"].percent) == (
        9,
        10,
        D("90.0"),
    )


def test_attention_counts(business, periods):
    counts = selectors.attention_counts(now=periods.now, keys=selectors.ATTENTION_KEYS)
    assert counts == {
        "failed_operations": 1,
        "failed_webhooks": 1,
        "overdue_invoices": 7,
        "overdue_tickets": 1,
        "servers_offline": 1,
        "servers_crowded": 1,
        "token_purchases": 1,
        "cancellation_requests": 1,
    }


def _attention(html: str) -> dict[str, tuple[int, str]]:
    found = re.findall(
        r'id="attention-(\w+)">\s*<a href="([^"]+)"><span class="attention-count">(\d+)', html
    )
    return {key: (int(count), url.replace("&amp;", "&")) for key, url, count in found}


def test_each_attention_link_opens_the_admin_list_of_exactly_the_items_counted(business, frozen):
    client = logged_in(staff_user(superuser=True))
    page = client.get("/admin/")
    assert page.status_code == 200
    items = _attention(page.content.decode())
    assert set(items) == set(selectors.ATTENTION_KEYS)
    for key, (count, url) in items.items():
        listing = client.get(url)
        assert listing.status_code == 200, key
        assert listing.context["cl"].result_count == count, key  # not "?e=1": the filter held
    failed = business["failed_op"]
    assert reverse("admin:provisioning_provisioningoperation_change", args=[failed.pk]) in (
        client.get(items["failed_operations"][1]).content.decode()
    )


def test_staff_with_view_reports_see_the_figures_and_charts(business, frozen):
    page = logged_in(staff_user("view_reports")).get("/admin/")
    html = page.content.decode()
    assert 'id="figures"' in html
    assert 'id="charts"' in html
    assert 'id="mrr-usd"' in html
    assert "35.00 USD" in html
    assert html.count('src="data:image/svg+xml;base64,') == 6  # revenue USD and EUR, 4 more
    assert 'id="content-main"' in html  # the app list stays below
    assert f'href="{reverse("reports:index")}"' in html  # the report pages, one click away
    assert f'href="{reverse("reports:exports")}"' not in html  # exports need their own right
    assert "<script" not in html.split('id="dashboard"')[1].split('id="content-main"')[0]


def test_staff_without_view_reports_see_only_the_attention_list_they_may_view(business, frozen):
    user = staff_user("view_provisioningoperation")
    html = logged_in(user).get("/admin/").content.decode()
    assert 'id="attention"' in html
    assert set(_attention(html)) == {"failed_operations"}
    assert 'id="figures"' not in html
    assert 'id="charts"' not in html
    assert "data:image/svg" not in html
    assert reverse("reports:index") not in html


def test_roles_billing_and_administrator_see_the_figures_support_and_technical_do_not(db):
    roles_sync(group_model=Group, permission_model=Permission)  # the table as it is now
    for role, sees in (
        ("Billing", True),
        ("Administrator", True),
        ("Support", False),
        ("Technical", False),
    ):
        html = logged_in(role_member(role)).get("/admin/").content.decode()
        assert ('id="figures"' in html) is sees, role


def test_customers_and_anonymous_visitors_are_sent_to_the_admin_login(customer, client):
    assert client.get("/admin/").url.startswith(reverse("admin:login"))
    response = logged_in(customer.user).get("/admin/")
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_empty_data_shows_empty_states(frozen):
    Server.objects.update(is_active=False)  # the DNS group's, from a migration: not counted
    html = logged_in(staff_user(superuser=True)).get("/admin/").content.decode()
    assert 'id="figures-empty"' in html
    assert "No services in service yet." in html
    assert html.count("No data yet.") == 5
    assert "data:image/svg" not in html
    assert all(count == 0 for count, _ in _attention(html).values())


def test_the_dashboard_runs_a_constant_number_of_queries(frozen, django_assert_max_num_queries):
    client = logged_in(staff_user(superuser=True))
    client.get("/admin/")  # warm: the session's first touches
    with django_assert_max_num_queries(19) as empty:  # session, user, device, 8+7, log
        client.get("/admin/")
    build_business()
    with django_assert_max_num_queries(len(empty.captured_queries)):
        assert client.get("/admin/").status_code == 200


def test_periods_are_the_last_twelve_calendar_months_across_a_year_boundary():
    periods = selectors.Periods.at(datetime(2026, 1, 31, 23, 59, tzinfo=UTC))
    assert periods.months[0] == date(2025, 2, 1)
    assert periods.months[-1] == date(2026, 1, 1)
    assert len(periods.bounds()) == selectors.MONTHS_SHOWN
    assert periods.bounds()[-1][1] == periods.now
    assert periods.previous_month_start == datetime(2025, 12, 1, tzinfo=UTC)


def test_a_change_from_nothing_has_no_percentage_and_churn_needs_services_at_the_start():
    assert selectors.Change(D("5"), D("0")).percent is None
    assert selectors.Change(D("5"), D("4")).percent == D("25.0")
    empty = selectors.ServiceFlow(
        new=(0,) * 12, cancelled=(0,) * 12, in_service_at_start=(0,) * 12, in_service_now=0
    )
    assert selectors.service_figures(empty).churn is None
