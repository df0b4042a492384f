"""The staff report pages' figures (issue 19), each computed by PostgreSQL: grouped
aggregates, conditional aggregates and window functions over the range's rows, so a page
costs a fixed number of queries whatever the number of invoices, and no source row is
loaded into Python (only the few grouped rows each query answers).

A report is a list of `Table`s over one `Period` (a date range, inclusive, in UTC, and a
currency). Which rows each figure counts:
- revenue by product and group: the lines of invoices *paid* in the range, net of discount
  and tax (lines without a service are grouped by their kind: account credit, tokens...);
- revenue by gateway and month: payments *received* in the range (held ones apart);
- invoices, tax, credit notes: *issued* in the range (reverse-charge invoices apart);
- refunds: refunds the provider confirmed, *requested* in the range;
- ledger, token sales: entries and purchases *created* in the range.
The exports (reports/exports_sheets.py) select their rows by the same dates, so an export's
totals are the report's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import (
    CharField,
    Count,
    DecimalField,
    Expression,
    F,
    Func,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, TruncMonth
from django_countries import countries

from accounts.models import Customer, User
from billing.models import TokenPurchase
from credits.models import CreditEntry
from invoices.models import CreditNote, Invoice, InvoiceLine
from payments.models import Payment, RefundRequest
from provisioning.models import Service
from reports.models import ReportExport

MONEY = DecimalField(max_digits=18, decimal_places=2)
ZERO = Decimal("0.00")
# Invoices that were paid (a refund later does not make them unpaid revenue of the range).
PAID_STATES = (
    Invoice.Status.PAID,
    Invoice.Status.PARTIALLY_REFUNDED,
    Invoice.Status.REFUNDED,
)
# Issued and still counting (a cancelled invoice billed nothing).
ISSUED_STATES = (Invoice.Status.UNPAID, *PAID_STATES)
NO_PRODUCT = "(no product)"


@dataclass(frozen=True)
class Period:
    """The range a report covers: whole days from `start` to `end` inclusive (UTC)."""

    start: date
    end: date
    currency: str

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=UTC)

    @property
    def end_before(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=UTC)

    def during(self, column: str) -> Q:
        """`column` (a timestamp) falls in the range."""
        return Q(**{f"{column}__gte": self.start_at, f"{column}__lt": self.end_before})


@dataclass(frozen=True)
class Table:
    """One table of a report: its rows as the database grouped them, and a totals row."""

    key: str
    title: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    totals: tuple[Any, ...] | None = None
    note: str = ""

    def column(self, name: str) -> list[Any]:
        index = self.columns.index(name)
        return [row[index] for row in self.rows]

    def total(self, name: str) -> Any:
        if self.totals is None:
            raise KeyError(f"{self.key} has no totals")
        return self.totals[self.columns.index(name)]

    def row(self, first: Any) -> tuple[Any, ...]:
        """The row whose first cell is `first`."""
        return next(row for row in self.rows if row[0] == first)

    @property
    def display_rows(self) -> list[list[str]]:
        return [[cell_text(cell) for cell in row] for row in self.rows]

    @property
    def display_totals(self) -> list[str] | None:
        return [cell_text(cell) for cell in self.totals] if self.totals else None


@dataclass(frozen=True)
class Report:
    slug: str
    title: str
    period: Period
    tables: list[Table] = field(default_factory=list)

    def table(self, key: str) -> Table:
        return next(table for table in self.tables if table.key == key)


def cell_text(value: Any) -> str:
    """How a cell reads on the page: money with two decimals, counts with separators."""
    if value is None:
        return "—"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, datetime):
        return f"{value:%Y-%m}"
    return str(value)


class RunningTotal(Func):
    """`SUM(<a grouped aggregate>) OVER (ORDER BY <the group key>)`: a running total over
    grouped rows, which Django's Window refuses (it will not nest one aggregate in
    another)."""

    def __init__(self, aggregate: Expression, key: Expression) -> None:
        super().__init__(aggregate, key, output_field=MONEY)

    def as_sql(
        self,
        compiler: Any,
        connection: Any,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> tuple[str, tuple[Any, ...]]:
        aggregate, key = self.get_source_expressions()
        aggregate_sql, aggregate_params = compiler.compile(aggregate)
        key_sql, key_params = compiler.compile(key)
        return (
            f"SUM({aggregate_sql}) OVER (ORDER BY {key_sql})",
            (*aggregate_params, *key_params),
        )


def _money(column: str, **filters: Any) -> Coalesce:
    condition = Q(**filters) if filters else None
    return Coalesce(Sum(column, filter=condition), Value(ZERO), output_field=MONEY)


def _totals(
    rows: Sequence[tuple[Any, ...]], label: str = "Total", skip: int = 1
) -> tuple[Any, ...]:
    """The totals row of a few grouped rows: the sum of each numeric column after the
    first `skip` label columns (a running total's column is summed too; callers blank it)."""
    width = len(rows[0]) if rows else 0
    sums: list[Any] = [label, *([""] * (skip - 1))]
    for index in range(skip, width):
        values = [row[index] for row in rows if isinstance(row[index], int | Decimal)]
        sums.append(sum(values, type(values[0])()) if values else "")
    return tuple(sums)


def _table(
    key: str,
    title: str,
    columns: tuple[str, ...],
    rows: list[tuple[Any, ...]],
    *,
    skip: int = 1,
    note: str = "",
    totals: bool = True,
) -> Table:
    summed = _totals(rows, skip=skip) if totals and rows else None
    return Table(key, title, columns, rows, summed, note)


# --- Revenue ------------------------------------------------------------------------------


def _paid_lines(period: Period) -> QuerySet[InvoiceLine]:
    return InvoiceLine.objects.filter(
        period.during("invoice__paid_at"),
        invoice__status__in=PAID_STATES,
        invoice__currency=period.currency,
    ).order_by()


LINE_FIGURES = {
    "lines": Count("id"),
    "net": _money("amount") - _money("discount"),
    "tax": _money("tax"),
    "gross": _money("total"),
}


def revenue_by_product(period: Period) -> Table:
    kinds = dict(InvoiceLine.Kind.choices)
    lines: Any = _paid_lines(period)  # annotated from LINE_FIGURES: no static row type
    grouped = lines.values(
        "service__product__name", "service__product__group__name", "kind"
    ).annotate(**LINE_FIGURES)
    merged: dict[tuple[str, str], list[Any]] = {}
    for row in grouped:  # a line without a product is named by its kind
        name = row["service__product__name"] or f"{NO_PRODUCT} {kinds.get(row['kind'], '')}"
        group = row["service__product__group__name"] or ""
        figures = merged.setdefault((name.strip(), group), [0, ZERO, ZERO, ZERO])
        for index, key in enumerate(("lines", "net", "tax", "gross")):
            figures[index] += row[key]
    rows = sorted(
        ((name, group, *figures) for (name, group), figures in merged.items()),
        key=lambda row: (-row[3], row[0]),
    )
    return _table(
        "revenue_by_product",
        "Revenue by product (invoices paid in the range)",
        ("Product", "Group", "Lines", "Net", "Tax", "Gross"),
        rows,
        skip=2,
    )


def revenue_by_group(period: Period) -> Table:
    lines: Any = _paid_lines(period)
    grouped = (
        lines.annotate(group=Coalesce(F("service__product__group__name"), Value(NO_PRODUCT)))
        .values("group")
        .annotate(**LINE_FIGURES)
        .order_by("-net", "group")
    )
    rows = [(row["group"], row["lines"], row["net"], row["tax"], row["gross"]) for row in grouped]
    return _table(
        "revenue_by_group",
        "Revenue by product group (invoices paid in the range)",
        ("Product group", "Lines", "Net", "Tax", "Gross"),
        rows,
    )


def _received(period: Period) -> QuerySet[Payment]:
    return (
        Payment.objects.filter(period.during("received_at"), currency=period.currency)
        .exclude(status=Payment.Status.HELD)
        .order_by()
    )


def revenue_by_gateway(period: Period) -> Table:
    grouped = (
        _received(period)
        .values("gateway")
        .annotate(
            payments=Count("id"),
            amount=_money("amount"),
            fees=_money("fee"),
            refunded=_money("amount_refunded"),
        )
        .order_by("-amount", "gateway")
    )
    rows = [
        (
            row["gateway"],
            row["payments"],
            row["amount"],
            row["fees"],
            row["refunded"],
            row["amount"] - row["refunded"],
        )
        for row in grouped
    ]
    return _table(
        "revenue_by_gateway",
        "Payments received by gateway",
        ("Gateway", "Payments", "Received", "Fees", "Refunded since", "Net of refunds"),
        rows,
        note="Held payments (waiting for staff review) are not counted.",
    )


def revenue_by_month(period: Period) -> Table:
    month = TruncMonth("received_at")
    grouped = (
        _received(period)
        .annotate(month=month)
        .values("month")
        .annotate(
            payments=Count("id"),
            running=RunningTotal(Sum("amount"), TruncMonth("received_at")),
            received=_money("amount"),
        )
        .order_by("month")
    )
    rows = [(row["month"], row["payments"], row["received"], row["running"]) for row in grouped]
    table = _table(
        "revenue_by_month",
        "Payments received by month",
        ("Month", "Payments", "Received", "Running total"),
        rows,
    )
    if table.totals:  # a running total's sum means nothing
        table = Table(table.key, table.title, table.columns, rows, (*table.totals[:3], ""))
    return table


# --- Invoices -----------------------------------------------------------------------------


def _issued(period: Period) -> QuerySet[Invoice]:
    return Invoice.objects.filter(
        period.during("issued_at"), currency=period.currency, status__in=ISSUED_STATES
    ).order_by()


def invoice_summary(period: Period, *, today: date) -> Table:
    """Issued, paid and overdue in one pass over the currency's invoices."""
    issued = period.during("issued_at") & Q(status__in=ISSUED_STATES)
    paid = period.during("paid_at") & Q(status__in=PAID_STATES)
    overdue = Q(
        status=Invoice.Status.UNPAID,
        due_date__gte=period.start,
        due_date__lte=period.end,
        due_date__lt=today,
    )
    figures = (
        Invoice.objects.filter(currency=period.currency)
        .filter(issued | paid | overdue)
        .aggregate(
            issued_count=Count("id", filter=issued),
            issued_total=_sum_if("total", issued),
            paid_count=Count("id", filter=paid),
            paid_total=_sum_if("total", paid),
            overdue_count=Count("id", filter=overdue),
            overdue_total=_sum_if("total", overdue) - _sum_if("amount_paid", overdue),
        )
    )
    rows = [
        ("Issued in the range", figures["issued_count"], figures["issued_total"]),
        ("Paid in the range", figures["paid_count"], figures["paid_total"]),
        ("Overdue now, due in the range", figures["overdue_count"], figures["overdue_total"]),
    ]
    return _table(
        "invoice_summary",
        "Invoices",
        ("", "Invoices", "Amount"),
        rows,
        totals=False,
        note="Overdue: unpaid past the due date today; its amount is what is still due.",
    )


def _sum_if(column: str, condition: Q) -> Coalesce:
    return Coalesce(Sum(column, filter=condition), Value(ZERO), output_field=MONEY)


def invoices_by_status(period: Period) -> Table:
    statuses = dict(Invoice.Status.choices)
    grouped = (
        _issued(period)
        .values("status")
        .annotate(
            invoices=Count("id"),
            net=_money("subtotal") - _money("discount_total"),
            tax=_money("tax_total"),
            total=_money("total"),
            paid=_money("amount_paid"),
        )
        .order_by("status")
    )
    rows = [
        (
            statuses[row["status"]],
            row["invoices"],
            row["net"],
            row["tax"],
            row["total"],
            row["paid"],
        )
        for row in grouped
    ]
    return _table(
        "invoices_by_status",
        "Invoices issued in the range, by their status now",
        ("Status", "Invoices", "Net", "Tax", "Total", "Paid"),
        rows,
    )


def invoices_by_kind(period: Period) -> Table:
    kinds = dict(Invoice.Kind.choices)
    grouped = (
        _issued(period)
        .values("kind")
        .annotate(invoices=Count("id"), total=_money("total"))
        .order_by("-total", "kind")
    )
    rows = [(kinds.get(row["kind"], row["kind"]), row["invoices"], row["total"]) for row in grouped]
    return _table(
        "invoices_by_kind",
        "Invoices issued in the range, by kind",
        ("Kind", "Invoices", "Total"),
        rows,
    )


# --- Payments and refunds -------------------------------------------------------------------


def payments_by_method(period: Period) -> Table:
    methods = dict(Payment.Method.choices)
    grouped = (
        _received(period)
        .values("gateway", "method")
        .annotate(payments=Count("id"), amount=_money("amount"), fees=_money("fee"))
        .order_by("gateway", "method")
    )
    rows = [
        (
            row["gateway"],
            methods.get(row["method"], row["method"]),
            row["payments"],
            row["amount"],
            row["fees"],
        )
        for row in grouped
    ]
    return _table(
        "payments_by_method",
        "Payments received, by gateway and method",
        ("Gateway", "Method", "Payments", "Amount", "Fees"),
        rows,
        skip=2,
    )


def payments_held(period: Period) -> Table:
    figures = Payment.objects.filter(
        period.during("received_at"), currency=period.currency, status=Payment.Status.HELD
    ).aggregate(payments=Count("id"), amount=_money("amount"))
    return _table(
        "payments_held",
        "Payments held for review",
        ("", "Payments", "Amount"),
        [("Held", figures["payments"], figures["amount"])],
        totals=False,
    )


def _refunds(period: Period) -> QuerySet[RefundRequest]:
    return RefundRequest.objects.filter(
        period.during("created_at"),
        currency=period.currency,
        status=RefundRequest.Status.SUCCEEDED,
    ).order_by()


def refunds_by_gateway(period: Period) -> Table:
    grouped = (
        _refunds(period)
        .values("payment__gateway")
        .annotate(refunds=Count("id"), amount=_money("amount"))
        .order_by("-amount", "payment__gateway")
    )
    rows = [(row["payment__gateway"], row["refunds"], row["amount"]) for row in grouped]
    return _table(
        "refunds_by_gateway",
        "Refunds made by the gateways",
        ("Gateway", "Refunds", "Amount"),
        rows,
        note="Refunds to account credit are in the credit ledger report.",
    )


# --- Credit notes --------------------------------------------------------------------------


def credit_notes_by_month(period: Period) -> Table:
    grouped = (
        CreditNote.objects.filter(period.during("issued_at"), currency=period.currency)
        .order_by()
        .annotate(month=TruncMonth("issued_at"))
        .values("month")
        .annotate(
            notes=Count("id"),
            running=RunningTotal(Sum("amount"), TruncMonth("issued_at")),
            noted=_money("amount"),
        )
        .order_by("month")
    )
    rows = [(row["month"], row["notes"], row["noted"], row["running"]) for row in grouped]
    table = _table(
        "credit_notes_by_month",
        "Credit notes issued, by month",
        ("Month", "Credit notes", "Amount", "Running total"),
        rows,
    )
    if table.totals:
        table = Table(table.key, table.title, table.columns, rows, (*table.totals[:3], ""))
    return table


# --- Tax -------------------------------------------------------------------------------------


def _buyer_country() -> KeyTextTransform:
    # The country frozen on the invoice when it was issued, which is what a VAT return uses
    # (the customer may have moved since).
    return KeyTextTransform("country", "buyer_details")


def tax_by_rate(period: Period) -> Table:
    grouped = (
        _issued(period)
        .filter(reverse_charge=False)
        .annotate(country=Coalesce(_buyer_country(), Value(""), output_field=CharField()))
        .values("country", "tax_name", "tax_rate")
        .annotate(
            invoices=Count("id"),
            net=_money("subtotal") - _money("discount_total"),
            tax=_money("tax_total"),
            gross=_money("total"),
        )
        .order_by("country", "tax_name", "tax_rate")
    )
    rows = [
        (
            row["country"],
            row["tax_name"] or "(no tax)",
            row["tax_rate"],
            row["invoices"],
            row["net"],
            row["tax"],
            row["gross"],
        )
        for row in grouped
    ]
    return Table(
        "tax_by_rate",
        "Tax collected by country and rate",
        ("Country", "Tax", "Rate %", "Invoices", "Net", "Tax collected", "Gross"),
        rows,
        _totals(rows, skip=3) if rows else None,
        "Invoices issued in the range (cancelled ones excluded); credit notes are a report of "
        "their own.",
    )


def tax_reverse_charge(period: Period) -> Table:
    grouped = (
        _issued(period)
        .filter(reverse_charge=True)
        .annotate(country=Coalesce(_buyer_country(), Value(""), output_field=CharField()))
        .values("country")
        .annotate(
            invoices=Count("id"),
            net=_money("subtotal") - _money("discount_total"),
            tax=_money("tax_total"),
        )
        .order_by("country")
    )
    rows = [(row["country"], row["invoices"], row["net"], row["tax"]) for row in grouped]
    return _table(
        "tax_reverse_charge",
        "Reverse-charge invoices (the buyer accounts for the tax)",
        ("Country", "Invoices", "Net", "Tax charged"),
        rows,
    )


# --- Credit ledger and tokens ---------------------------------------------------------------


def ledger_by_kind(period: Period) -> Table:
    kinds = dict(CreditEntry.Kind.choices)
    grouped = (
        CreditEntry.objects.filter(period.during("created_at"), currency=period.currency)
        .order_by()
        .values("kind")
        .annotate(
            entries=Count("id"),
            added=_money("amount", amount__gt=0),
            taken=_money("amount", amount__lt=0),
            net=_money("amount"),
        )
        .order_by("kind")
    )
    rows = [
        (
            kinds.get(row["kind"], row["kind"]),
            row["entries"],
            row["added"],
            row["taken"],
            row["net"],
        )
        for row in grouped
    ]
    return _table(
        "ledger_by_kind",
        "Account credit movements by kind",
        ("Kind", "Entries", "Added", "Spent or removed", "Net"),
        rows,
    )


def ledger_balances(period: Period) -> Table:
    """Credit customers held at the start and end of the range (the liability). An
    account's balance at a moment is the sum of its entries before it (every account starts
    at zero and each entry moves it by its amount, as the ledger's constraints enforce), so
    both are two conditional sums of one pass, not a search for each account's last entry."""
    balances = (
        CreditEntry.objects.filter(currency=period.currency, created_at__lt=period.end_before)
        .order_by()
        .aggregate(
            opening=_money("amount", created_at__lt=period.start_at),
            closing=_money("amount"),
        )
    )
    rows = [
        ("Opening balance", balances["opening"]),
        ("Closing balance", balances["closing"]),
        ("Change", balances["closing"] - balances["opening"]),
    ]
    return _table(
        "ledger_balances",
        "Account credit held by customers",
        ("", "Amount"),
        rows,
        totals=False,
    )


def token_sales(period: Period) -> Table:
    sources, statuses = dict(TokenPurchase.Source.choices), dict(TokenPurchase.Status.choices)
    grouped = (
        TokenPurchase.objects.filter(period.during("created_at"))
        .filter(Q(currency=period.currency) | Q(source=TokenPurchase.Source.STAFF))
        .order_by()
        .values("source", "status")
        .annotate(purchases=Count("id"), tokens=Coalesce(Sum("tokens"), Value(ZERO)))
        .annotate(amount=_money("amount", source=TokenPurchase.Source.PURCHASE))
        .order_by("source", "status")
    )
    rows = [
        (
            sources.get(row["source"], row["source"]),
            statuses.get(row["status"], row["status"]),
            row["purchases"],
            row["tokens"],
            row["amount"],
        )
        for row in grouped
    ]
    return _table(
        "token_sales",
        "VPS token purchases and staff grants",
        ("Source", "Status", "Purchases", "Tokens", "Amount"),
        rows,
        skip=2,
        note="Amounts are before tax; staff grants are free.",
    )


# --- Services and customers -----------------------------------------------------------------


def services_by_product(period: Period) -> Table:
    """Every service of the currency now, by product and status, with those started and
    ended in the range."""
    status_counts = {
        status: Count("id", filter=Q(status=status)) for status in Service.Status.values
    }
    ended = period.during("terminated_at") | period.during("cancelled_at")
    services: Any = Service.objects.filter(currency=period.currency)  # a column per status
    grouped = (
        services.order_by()
        .values("product__name")
        .annotate(
            **status_counts,
            total=Count("id"),
            new=Count("id", filter=period.during("created_at")),
            ended=Count("id", filter=ended),
        )
        .order_by("product__name")
    )
    rows = [
        (
            row["product__name"],
            *(row[status] for status in Service.Status.values),
            row["total"],
            row["new"],
            row["ended"],
        )
        for row in grouped
    ]
    return _table(
        "services_by_product",
        "Services by product and status (now)",
        ("Product", *Service.Status.labels, "All", "New in range", "Ended in range"),
        rows,
    )


def customers_by_country(period: Period) -> Table:
    grouped = (
        Customer.objects.order_by()
        .values("country")
        .annotate(customers=Count("id"), new=Count("id", filter=period.during("created_at")))
        .order_by("-customers", "country")
    )
    rows = [
        (str(row["country"]), countries.name(row["country"]) or "", row["customers"], row["new"])
        for row in grouped
    ]
    return _table(
        "customers_by_country",
        "Customers by country",
        ("Code", "Country", "Customers", "New in range"),
        rows,
        skip=2,
    )


# --- The reports ----------------------------------------------------------------------------

TableBuilder = Callable[[Period, date], Table]


def _plain(builder: Callable[[Period], Table]) -> TableBuilder:
    return lambda period, today: builder(period)


REPORTS: dict[str, tuple[str, tuple[TableBuilder, ...]]] = {
    "revenue": (
        "Revenue",
        (
            _plain(revenue_by_product),
            _plain(revenue_by_group),
            _plain(revenue_by_gateway),
            _plain(revenue_by_month),
        ),
    ),
    "invoices": (
        "Invoices issued, paid and overdue",
        (
            lambda period, today: invoice_summary(period, today=today),
            _plain(invoices_by_status),
            _plain(invoices_by_kind),
        ),
    ),
    "payments": (
        "Payments and refunds",
        (_plain(payments_by_method), _plain(payments_held), _plain(refunds_by_gateway)),
    ),
    "credit-notes": ("Credit notes", (_plain(credit_notes_by_month),)),
    "tax": ("Tax collected", (_plain(tax_by_rate), _plain(tax_reverse_charge))),
    "ledger": ("Account credit ledger", (_plain(ledger_by_kind), _plain(ledger_balances))),
    "tokens": ("VPS token sales", (_plain(token_sales),)),
    "services": ("Services by status and product", (_plain(services_by_product),)),
    "customers": ("Customers by country", (_plain(customers_by_country),)),
}


def report_titles() -> list[tuple[str, str]]:
    return [(slug, title) for slug, (title, _) in REPORTS.items()]


def report_build(*, slug: str, period: Period, today: date) -> Report:
    """The report `slug` (one of REPORTS) over `period`: one query per table."""
    title, builders = REPORTS[slug]
    return Report(slug, title, period, [builder(period, today) for builder in builders])


def report_exports_for_user(*, user: User, limit: int = 50) -> list[ReportExport]:
    """The user's own exports, newest first (the index on requested_by, created_at)."""
    mine = ReportExport.objects.filter(requested_by=user).order_by("-created_at", "-id")
    return list(mine[:limit])
