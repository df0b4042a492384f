"""Accounting exports: built in batches by the task, their rows adding up to the reports'
totals (CSV parsed, XLSX loaded by openpyxl), downloadable only by the staff user who asked."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, time
from decimal import Decimal

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone

from billing_portal.common.models import AuditEvent
from reports import exports
from reports.exports import report_export_build, report_export_request
from reports.forms import last_month
from reports.models import ReportExport
from reports.report_selectors import Period, report_build
from reports.tests.books import END, START, invoice, payment, service
from reports.tests.report_fixtures import *  # noqa: F403 (the fixtures)
from reports.tests.report_fixtures import client_for, staff_with

pytestmark = pytest.mark.django_db

D = Decimal
USD = Period(START, END, "USD")


def _request(user, kind: str, fmt: str = "csv", *, period: Period = USD) -> ReportExport:
    return report_export_request(
        user=user, kind=kind, fmt=fmt, start=period.start, end=period.end, currency=period.currency
    )


def _built(user, kind: str, fmt: str = "csv", *, period: Period = USD, **options) -> ReportExport:
    export = _request(user, kind, fmt, period=period)
    built = report_export_build(export_id=export.pk, **options)
    assert built is not None
    assert built.status == ReportExport.Status.READY, built.error
    return built


def _download(user, export: ReportExport):
    response = client_for(user).get(reverse("reports:export_download", args=[export.pk]))
    assert response.status_code == 200
    return response, b"".join(response.streaming_content)


def _csv(user, export: ReportExport) -> list[dict[str, str]]:
    _, content = _download(user, export)
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def _xlsx(user, export: ReportExport) -> list[dict[str, object]]:
    _, content = _download(user, export)
    book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    header = rows[0]
    # read-only mode leaves out a row's empty cells at its end
    return [dict(zip(header, (*row, *[None] * len(header)), strict=False)) for row in rows[1:]]


def _sum(rows, column: str, **where: str) -> Decimal:
    picked = [row for row in rows if all(row[k] == v for k, v in where.items())]
    return sum((D(str(row[column])) for row in picked), D("0"))


def test_the_invoices_csv_adds_up_to_the_invoice_and_tax_reports(data, accountant):
    rows = _csv(accountant, _built(accountant, ReportExport.Kind.INVOICES))
    invoices = [row for row in rows if row["Record"] == "Invoice"]
    assert len(invoices) == 5  # the EUR, cancelled and draft invoices are not in it
    assert len(rows) == 10  # and a line each
    report = report_build(slug="invoices", period=USD, today=timezone.localdate())
    assert _sum(rows, "Total", Record="Invoice") == report.table("invoices_by_status").total(
        "Total"
    )
    tax = report_build(slug="tax", period=USD, today=timezone.localdate())
    assert _sum(rows, "Tax", Record="Invoice") == tax.table("tax_by_rate").total("Tax collected")
    assert _sum(rows, "Tax", Record="Line") == _sum(rows, "Tax", Record="Invoice")
    i3 = data.invoices["I3"]
    line = next(
        row for row in rows if row["Record"] == "Line" and row["Invoice number"] == i3.number
    )
    assert (line["Product"], line["Net"], line["Discount"], line["Total"]) == (
        "VPS S",
        "220.00",
        "20.00",
        "200.00",
    )
    # a customer's name is never run as a formula by a spreadsheet
    assert next(r for r in invoices if r["Invoice number"] == i3.number)["Customer"] == (
        "'=HYPERLINK(1)"
    )


def test_the_payments_refunds_notes_and_ledger_exports_add_up_to_their_reports(data, accountant):
    revenue = report_build(slug="revenue", period=USD, today=timezone.localdate())
    payments = _csv(accountant, _built(accountant, ReportExport.Kind.PAYMENTS))
    assert len(payments) == 3  # P1, P3, P4: P2 is later, P5 held
    assert _sum(payments, "Amount") == revenue.table("revenue_by_gateway").total("Received")
    assert _sum(payments, "Amount", Gateway="stripe") == D("319.00")
    refunds_report = report_build(slug="payments", period=USD, today=timezone.localdate())
    refunds = _csv(accountant, _built(accountant, ReportExport.Kind.REFUNDS))
    assert _sum(refunds, "Amount") == refunds_report.table("refunds_by_gateway").total("Amount")
    notes = _csv(accountant, _built(accountant, ReportExport.Kind.CREDIT_NOTES))
    assert [row["Amount"] for row in notes] == ["19.00"]
    ledger_report = report_build(slug="ledger", period=USD, today=timezone.localdate())
    ledger = _csv(accountant, _built(accountant, ReportExport.Kind.LEDGER))
    assert _sum(ledger, "Amount") == ledger_report.table("ledger_by_kind").total("Net")
    assert [row["Kind"] for row in ledger] == ["Credit purchase", "Removed by staff"]


def test_the_xlsx_opens_in_openpyxl_with_numbers_and_dates(data, accountant):
    rows = _xlsx(accountant, _built(accountant, ReportExport.Kind.INVOICES, "xlsx"))
    invoices = [row for row in rows if row["Record"] == "Invoice"]
    assert len(invoices) == 5
    assert sum(D(str(row["Total"])) for row in invoices) == D("420.40")
    assert isinstance(invoices[0]["Issued"], datetime)
    assert isinstance(invoices[0]["Total"], int | float)


def test_an_export_is_built_in_batches_with_its_progress_stored(data, accountant, monkeypatch):
    seen: list[tuple[int, int]] = []
    progress = exports._progress

    def spy(export, rows_done):
        progress(export, rows_done)
        stored = ReportExport.objects.get(pk=export.pk)
        seen.append((stored.rows_done, stored.rows_total))

    monkeypatch.setattr(exports, "_progress", spy)
    export = _built(accountant, ReportExport.Kind.INVOICES, batch_size=2)
    # five invoices, two at a time, each with its line: 4, 8, then 10 rows of 10
    assert seen == [(4, 10), (8, 10), (10, 10)]
    assert (export.rows_done, export.rows_total, export.percent_done) == (10, 10, 100)
    assert export.size > 0
    assert export.finished_at is not None


def test_the_request_queues_the_task_and_two_clicks_make_one_export(
    data, accountant, django_capture_on_commit_callbacks
):
    client = client_for(accountant)
    form = {
        "kind": "payments",
        "start": "2026-09-01",
        "end": "2026-10-31",
        "currency": "USD",
        "format": "xlsx",
    }
    with django_capture_on_commit_callbacks(execute=False):
        assert client.post(reverse("reports:exports"), form).status_code == 302
    with django_capture_on_commit_callbacks(execute=False):
        client.post(reverse("reports:exports"), form)
    export = ReportExport.objects.get()  # the second click found the first queued
    assert export.requested_by == accountant
    assert export.status == ReportExport.Status.PENDING
    page = client.get(reverse("reports:exports")).content.decode()
    assert "Queued" in page
    assert 'http-equiv="refresh"' in page
    with django_capture_on_commit_callbacks(execute=True):  # the outbox publishes the task
        client.post(reverse("reports:exports"), {**form, "format": "csv"})
    built = ReportExport.objects.get(format="csv")
    assert built.status == ReportExport.Status.READY
    page = client.get(reverse("reports:exports")).content.decode()
    assert reverse("reports:export_download", args=[built.pk]) in page


def test_a_duplicate_task_message_builds_nothing(data, accountant):
    export = _built(accountant, ReportExport.Kind.PAYMENTS)
    assert report_export_build(export_id=export.pk) is None
    assert ReportExport.objects.get(pk=export.pk).file_name == export.file_name


def test_a_failing_build_is_stored_as_failed(data, accountant, monkeypatch):
    def broken(batch):
        raise RuntimeError("the disk is full")

    sheet = exports.SHEETS[ReportExport.Kind.PAYMENTS]
    monkeypatch.setitem(
        exports.SHEETS,
        ReportExport.Kind.PAYMENTS,
        type(sheet)(**{**sheet.__dict__, "rows": broken}),
    )
    export = _request(accountant, ReportExport.Kind.PAYMENTS)
    failed = report_export_build(export_id=export.pk)
    assert failed.status == ReportExport.Status.FAILED
    assert "the disk is full" in failed.error
    assert AuditEvent.objects.filter(
        action="report_export.failed", object_id=str(export.pk)
    ).exists()
    page = client_for(accountant).get(reverse("reports:exports")).content.decode()
    assert "the disk is full" in page
    url = reverse("reports:export_download", args=[export.pk])
    assert client_for(accountant).get(url).status_code == 404


def test_only_the_user_who_asked_can_download(data, accountant):
    export = _built(accountant, ReportExport.Kind.PAYMENTS)
    url = reverse("reports:export_download", args=[export.pk])
    colleague = staff_with("view_reports", "export_reports")
    assert client_for(colleague).get(url).status_code == 404
    assert export.pk not in [
        e.pk for e in client_for(colleague).get(reverse("reports:exports")).context["exports"]
    ]
    superuser = staff_with()
    superuser.is_superuser = True
    superuser.save()
    assert client_for(superuser).get(url).status_code == 404  # not even a superuser
    response, _ = _download(accountant, export)
    assert response["Content-Disposition"].startswith('attachment; filename="payments-usd-')
    assert "private" in response["Cache-Control"]
    assert "no-store" in response["Cache-Control"]
    assert AuditEvent.objects.filter(
        action="report_export.downloaded", actor=accountant, object_id=str(export.pk)
    ).exists()
    assert client_for(accountant).get("/admin/reports/exports/999999/download/").status_code == 404


def test_exports_need_export_reports(data):
    viewer = client_for(staff_with("view_reports"))
    assert viewer.get(reverse("reports:exports")).status_code == 403
    form = {"kind": "payments", "start": "2026-09-01", "end": "2026-10-31", "format": "csv"}
    assert viewer.post(reverse("reports:exports"), form).status_code == 403
    assert not ReportExport.objects.exists()
    customer = client_for(data.customers["de"].user)
    assert customer.get(reverse("reports:exports")).status_code == 302  # to the staff login


@pytest.mark.parametrize(
    "form",
    [
        {"kind": "everything", "start": "2026-09-01", "end": "2026-10-31", "format": "csv"},
        {"kind": "payments", "start": "2026-10-31", "end": "2026-09-01", "format": "csv"},
        {"kind": "payments", "start": "2026-09-01", "end": "2026-10-31", "format": "pdf"},
        {"kind": "payments", "start": "x" * 10_000, "end": "\x00", "format": "csv"},
        {"kind": "payments", "start": "2026-09-01", "end": "2026-10-31", "currency": "ZZZ"},
        {},
    ],
)
def test_bad_export_input_is_a_form_error_and_no_export(accountant, form):
    response = client_for(accountant).post(reverse("reports:exports"), form)
    assert response.status_code == 400
    assert response.context["form"].errors
    assert not ReportExport.objects.exists()


def test_every_currency_exports_each_currencys_rows(data, accountant):
    export = _built(accountant, ReportExport.Kind.PAYMENTS, period=Period(START, END, ""))
    rows = _csv(accountant, export)
    assert sorted(row["Currency"] for row in rows) == ["EUR", "USD", "USD", "USD"]


def test_audit_events_of_an_export(data, accountant):
    export = _built(accountant, ReportExport.Kind.CREDIT_NOTES)
    actions = set(
        AuditEvent.objects.filter(
            object_id=str(export.pk), object_type="reports.reportexport"
        ).values_list("action", flat=True)
    )
    assert actions == {"report_export.requested", "report_export.ready"}


# --- Acceptance 2 ------------------------------------------------------------------------------


def test_an_accountants_export_of_last_month_opens_in_a_spreadsheet_and_matches_revenue(
    accountant,
):
    """Last month's invoices and payments, as XLSX: valid workbooks whose totals are the
    revenue report's."""
    from accounts.tests.factories import CustomerFactory
    from catalogue.tests.factories import ProductFactory

    start, end = last_month(timezone.localdate())
    period = Period(start, end, "USD")

    def day(n: int) -> datetime:
        return datetime.combine(start.replace(day=n), time(10), tzinfo=UTC)

    product = ProductFactory(name="Web hosting L")
    for n, (amount, gateway) in enumerate(
        [("12.50", "stripe"), ("40", "paypal"), ("7.25", "stripe")]
    ):
        customer = CustomerFactory(country="NL")
        made = invoice(
            customer,
            issued=day(n + 1),
            paid=day(n + 2),
            lines=[(service(customer, product), amount, "0", "0")],
        )
        payment(made, gateway=gateway, amount=amount, received=day(n + 2))
    invoices = _xlsx(accountant, _built(accountant, "invoices", "xlsx", period=period))
    payments = _xlsx(accountant, _built(accountant, "payments", "xlsx", period=period))

    revenue = report_build(slug="revenue", period=period, today=timezone.localdate())
    received = revenue.table("revenue_by_gateway").total("Received")
    assert received == D("59.75")
    assert sum(D(str(row["Amount"])) for row in payments) == received
    invoiced = [row for row in invoices if row["Record"] == "Invoice"]
    assert sum(D(str(row["Total"])) for row in invoiced) == received
    net = sum(D(str(r["Net"])) - D(str(r["Discount"])) for r in invoices if r["Record"] == "Line")
    assert net == revenue.table("revenue_by_product").total("Net")


def test_old_exports_are_pruned_with_their_files(data, accountant, settings):
    from datetime import timedelta

    from reports.exports import export_storage, report_exports_prune

    old, recent = (_built(accountant, kind) for kind in ("payments", "refunds"))
    ReportExport.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(days=settings.REPORT_EXPORT_DAYS + 1)
    )
    stuck = _request(accountant, "ledger")
    ReportExport.objects.filter(pk=stuck.pk).update(
        status="building", created_at=timezone.now() - timedelta(hours=3)
    )
    assert report_exports_prune() == 1
    assert not ReportExport.objects.filter(pk=old.pk).exists()
    assert not export_storage().exists(old.file_name)
    assert export_storage().exists(recent.file_name)
    assert ReportExport.objects.get(pk=stuck.pk).status == ReportExport.Status.FAILED
    assert report_exports_prune() == 0  # again: nothing twice


def test_a_batch_costs_the_same_queries_however_many_rows_it_holds(data, accountant):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from reports.tests.books import at

    def queries() -> int:
        export = _request(accountant, ReportExport.Kind.INVOICES)
        with CaptureQueriesContext(connection) as captured:
            report_export_build(export_id=export.pk)
        ReportExport.objects.filter(pk=export.pk).delete()  # the next one is not a duplicate
        return len(captured)

    few = queries()
    customer = data.customers["de"]
    for day in range(1, 21):  # 20 more invoices in the same batch, a line each
        invoice(customer, issued=at(10, day), paid=at(10, day), lines=[(None, "5", "0", "0")])
    assert queries() == few
