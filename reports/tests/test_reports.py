"""The report pages' figures against the hand-built books (reports/tests/books.py), their
constant number of queries, permissions and bad input."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from reports.report_selectors import REPORTS, Period, report_build
from reports.tests.books import END, RANGE, START
from reports.tests.report_fixtures import *  # noqa: F403 (the fixtures)
from reports.tests.report_fixtures import client_for, staff_with

pytestmark = pytest.mark.django_db

D = Decimal
TODAY = date(2026, 12, 4)
USD = Period(START, END, "USD")
MAX_PAGE_QUERIES = 12  # session, user, permissions, messages... and one per table


def build(slug: str, period: Period = USD):
    return report_build(slug=slug, period=period, today=TODAY)


def test_revenue_by_product_and_group_counts_the_lines_of_invoices_paid_in_the_range(data):
    report = build("revenue")
    products = report.table("revenue_by_product")
    assert products.rows == [
        ("VPS S", "VPS", 1, D("200.00"), D("0.00"), D("200.00")),  # I3, net of its discount
        ("Minecraft 4GB", "Game servers", 1, D("100.00"), D("19.00"), D("119.00")),  # I1
        ("(no product) Account credit", "", 1, D("30.00"), D("0.00"), D("30.00")),  # I4
    ]
    assert products.totals == ("Total", "", 3, D("330.00"), D("19.00"), D("349.00"))
    groups = report.table("revenue_by_group")
    assert [(row[0], row[2]) for row in groups.rows] == [
        ("VPS", D("200.00")),
        ("Game servers", D("100.00")),
        ("(no product)", D("30.00")),
    ]


def test_revenue_by_gateway_and_month_counts_payments_received_in_the_range(data):
    report = build("revenue")
    gateways = report.table("revenue_by_gateway")
    # P2 came in November, P5 is held, the EUR payment is another currency
    assert gateways.rows == [
        ("stripe", 2, D("319.00"), D("0.00"), D("19.00"), D("300.00")),
        ("manual", 1, D("30.00"), D("0.00"), D("0.00"), D("30.00")),
    ]
    assert gateways.total("Received") == D("349.00")
    months = report.table("revenue_by_month")
    assert [(row[0].date(), row[1], row[2], row[3]) for row in months.rows] == [
        (date(2026, 9, 1), 1, D("30.00"), D("30.00")),
        (date(2026, 10, 1), 2, D("319.00"), D("349.00")),  # the running total (a window)
    ]
    assert months.totals == ("Total", 3, D("349.00"), "")


def test_tax_by_rate_and_country_keeps_reverse_charge_apart(data):
    report = build("tax")
    assert report.table("tax_by_rate").rows == [
        # I1, I2 and I5 (unpaid counts: tax is due on what was invoiced)
        ("DE", "VAT", D("19.000"), 3, D("160.00"), D("30.40"), D("190.40")),
        ("US", "(no tax)", D("0.000"), 1, D("30.00"), D("0.00"), D("30.00")),
    ]
    assert report.table("tax_by_rate").totals == (
        "Total",
        "",
        "",
        4,
        D("190.00"),
        D("30.40"),
        D("220.40"),
    )
    assert report.table("tax_reverse_charge").rows == [("FR", 1, D("200.00"), D("0.00"))]


def test_invoices_issued_paid_and_overdue(data):
    report = build("invoices")
    summary = report.table("invoice_summary")
    assert summary.row("Issued in the range")[1:] == (5, D("420.40"))
    assert summary.row("Paid in the range")[1:] == (3, D("349.00"))
    assert summary.row("Overdue now, due in the range")[1:] == (1, D("11.90"))
    statuses = report.table("invoices_by_status")
    assert statuses.total("Invoices") == 5
    assert statuses.total("Total") == D("420.40")
    assert statuses.row("Unpaid")[1] == 1
    assert statuses.row("Partially refunded")[4] == D("119.00")
    assert report.table("invoices_by_kind").row("Account credit purchase")[1:] == (1, D("30.00"))


def test_overdue_is_as_of_today():
    # nothing is overdue on its due date
    period = Period(date(2026, 10, 1), date(2026, 10, 31), "USD")
    from reports.tests.books import books

    books()
    on_the_day = report_build(slug="invoices", period=period, today=date(2026, 10, 1))
    assert on_the_day.table("invoice_summary").row("Overdue now, due in the range")[1] == 0
    after = report_build(slug="invoices", period=period, today=date(2026, 10, 2))
    assert after.table("invoice_summary").row("Overdue now, due in the range")[1] == 1


def test_payments_refunds_and_credit_notes(data):
    payments = build("payments")
    assert payments.table("payments_by_method").rows == [
        ("manual", "Bank transfer", 1, D("30.00"), D("0.00")),
        ("stripe", "Card", 2, D("319.00"), D("0.00")),
    ]
    assert payments.table("payments_held").rows == [("Held", 1, D("5.00"))]
    assert payments.table("refunds_by_gateway").rows == [("stripe", 1, D("19.00"))]
    notes = build("credit-notes").table("credit_notes_by_month")
    assert [(row[0].date(), row[1], row[2]) for row in notes.rows] == [
        (date(2026, 10, 1), 1, D("19.00"))
    ]


def test_ledger_movements_by_kind_and_balances(data):
    report = build("ledger")
    assert report.table("ledger_by_kind").rows == [
        ("Removed by staff", 1, D("0.00"), D("-10.00"), D("-10.00")),
        ("Credit purchase", 1, D("30.00"), D("0.00"), D("30.00")),
    ]
    balances = report.table("ledger_balances")
    assert balances.row("Opening balance")[1] == D("0.00")
    assert balances.row("Closing balance")[1] == D("20.00")  # the November entry is later
    assert balances.row("Change")[1] == report.table("ledger_by_kind").total("Net")


def test_token_sales_services_and_customers(data):
    tokens = build("tokens").table("token_sales")
    assert tokens.rows == [
        ("Purchase", "Awaiting payment", 1, D("1000.00"), D("10.00")),
        ("Added by staff", "Added", 1, D("500.00"), D("0.00")),
    ]
    services = build("services").table("services_by_product")
    vps = services.row("VPS S")
    assert vps[services.columns.index("Active")] == 2
    assert vps[services.columns.index("Suspended")] == 1
    assert vps[services.columns.index("All")] == 3
    assert vps[services.columns.index("New in range")] == 3
    customers = build("customers").table("customers_by_country")
    assert {row[0]: row[2:] for row in customers.rows} == {"DE": (1, 1), "FR": (1, 0), "US": (1, 1)}
    assert customers.row("DE")[1] == "Germany"


def test_another_currency_has_its_own_figures(data):
    eur = build("revenue", Period(START, END, "EUR"))
    assert eur.table("revenue_by_gateway").rows == [
        ("stripe", 1, D("70.00"), D("0.00"), D("0.00"), D("70.00"))
    ]
    empty = build("revenue", Period(START, END, "GBP"))
    assert all(not table.rows and table.totals is None for table in empty.tables)


# --- The pages ------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", sorted(REPORTS))
def test_each_report_page_runs_a_constant_number_of_queries(
    slug, data, accountant, django_assert_max_num_queries
):
    client = client_for(accountant)
    url = reverse("reports:report", args=[slug])
    with django_assert_max_num_queries(MAX_PAGE_QUERIES):
        response = client.get(url, RANGE)
    assert response.status_code == 200
    # more of everything: the same queries
    from reports.tests.books import books

    books()
    with django_assert_max_num_queries(MAX_PAGE_QUERIES) as captured:
        assert client.get(url, RANGE).status_code == 200
    assert len(captured) <= 5 + len(REPORTS[slug][1])


def test_the_revenue_page_shows_the_figures(data, accountant):
    response = client_for(accountant).get(reverse("reports:report", args=["revenue"]), RANGE)
    page = response.content.decode()
    assert "Minecraft 4GB" in page
    assert "349.00" in page
    assert "319.00" in page


def test_a_page_without_a_range_opens_on_last_month(accountant):
    response = client_for(accountant).get(reverse("reports:report", args=["tax"]))
    assert response.status_code == 200
    report = response.context["report"]
    assert report.period.end.day >= 28
    assert report.period.start.day == 1
    assert report.period.end < timezone.localdate().replace(day=1)


def test_the_index_lists_every_report(accountant):
    page = client_for(accountant).get(reverse("reports:index")).content.decode()
    for slug in REPORTS:
        assert reverse("reports:report", args=[slug]) in page


def test_only_staff_with_view_reports_see_reports(data):
    without = client_for(staff_with("view_invoice", "export_reports"))
    for url in (reverse("reports:index"), reverse("reports:report", args=["revenue"])):
        assert without.get(url, RANGE).status_code == 403
    customer = client_for(data.customers["de"].user)
    response = customer.get(reverse("reports:report", args=["revenue"]), RANGE)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_an_unknown_report_is_404(accountant):
    assert client_for(accountant).get("/admin/reports/nope/").status_code == 404


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"start": "2026-10-31", "end": "2026-10-01", "currency": "USD"}, "on or before"),
        ({"start": "2026-13-01", "end": "2026-10-01", "currency": "USD"}, "Enter a valid date"),
        ({"start": "2026-10-01", "end": "2026-10-31", "currency": "XXX"}, "Select a valid choice"),
        ({"start": "1990-01-01", "end": "2026-10-31", "currency": "USD"}, "Dates go from"),
        ({"start": "2000-01-01", "end": "2026-10-31", "currency": "USD"}, "at most"),
        ({"start": "3000-01-01", "end": "3000-01-02", "currency": "USD"}, "Dates go from"),
        ({"start": "", "end": "2026-10-31", "currency": "USD"}, "This field is required"),
    ],
)
def test_a_bad_range_is_a_form_error(accountant, query, message):
    response = client_for(accountant).get(reverse("reports:report", args=["revenue"]), query)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert response.context["report"] is None


@pytest.mark.parametrize(
    "query",
    [
        "start=%00&end=%00&currency=%00",
        "start=2026-01-01'%20OR%201=1--&end=2026-02-01&currency=USD",
        "start=" + "9" * 5000 + "&end=2026-01-01&currency=USD",
        "start[]=1&end[$gt]=&currency=USD&currency=EUR",
        "start=9999-12-31&end=9999-12-31&currency=USD",
        "start=%F0%9F%92%A5&end=%ff%fe&currency=%3Cscript%3E",
    ],
)
def test_hostile_query_strings_never_500(accountant, query):
    for slug in REPORTS:
        response = client_for(accountant).get(f"/admin/reports/{slug}/?{query}")
        assert response.status_code in (200, 400), (slug, query)
        assert "<script>" not in response.content.decode()
