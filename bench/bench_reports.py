"""Benchmark the staff report pages (/admin/reports/, issue 19) at 100,000 invoices.

Builds one row of each table the reports read (made by the ORM), then copies it with
PostgreSQL (INSERT ... SELECT generate_series, then ANALYZE): --invoices invoices over the
last 12 months, in USD and EUR, paid or unpaid, in four countries at three tax rates, some
reverse-charge, two lines each, a payment each (three gateways), a tenth as many credit
notes, ledger entries, token purchases, services and customers. Then measures each report
page over the last 12 months in USD, in process through Django's test client with DEBUG
off (the whole request: routing, middleware, session, queries, template), interleaved with
a bare aggregate query of the same data (count and sum of the range's USD invoices, one
cursor.execute), for >= 3 rounds; prints each page's median and p95 time, its SQL queries
and the ratio of its request rate to the bare query's. Target: each page's p95 <= 500 ms
("well under a second").

Usage (from the project root, PostgreSQL reachable):
    .venv/bin/python bench/bench_reports.py [--invoices 100000] [--requests 10] [--rounds 3]
    .venv/bin/python bench/bench_reports.py --quick      # 2,000 invoices, 3 requests

The database (BENCH_REPORTS_DATABASE_URL or --database-url, default
billing_portal_bench_reports) is created if missing, migrated and emptied of portal data when
it is built: never point it at real data. It is kept between runs and rebuilt only when its
invoice count differs (--rebuild: always).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.harness import Bench, CannotMeasure, percentile, run  # noqa: E402

# The same settings (bench/settings_pages.py) and database set-up as the pages benchmark.
from bench.pages import _copy, _setup_django  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/billing_portal_bench_reports"
P95_TARGET_MS = 500
PORTAL_APPS = (
    "accounts",
    "billing",
    "catalogue",
    "common",
    "credits",
    "invoices",
    "payments",
    "provisioning",
    "reports",
    "sessions",
    "admin",
)


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=10, help="per page per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="2,000 invoices, 3 requests")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the data even if kept")
    parser.add_argument("--only", default="", help="only the reports whose slug contains this")
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_REPORTS_DATABASE_URL", DEFAULT_URL)
    )
    args = parser.parse_args()
    if args.quick:
        args.invoices, args.requests = 2_000, 3
    return args


# --- The data -------------------------------------------------------------------------------

# SQL over the copied row `t` and its number `g`: spread over the last 365 days.
AGO = "now() - ((g %% 365) || ' days')::interval - (g %% 86400) * interval '1 second'"
COUNTRIES = "(ARRAY['DE','FR','US','NL'])[g %% 4 + 1]"


def _reset() -> None:
    from django.apps import apps
    from django.db import connection

    tables = sorted(
        model._meta.db_table
        for label in PORTAL_APPS
        for model in apps.get_app_config(label).get_models(include_auto_created=True)
        if not model._meta.proxy and model._meta.managed
    )
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


@dataclass
class Seed:
    staff: object


def _seed() -> Seed:
    """One row of each table, the newest of its table (the one the copies are made from)."""
    from django.utils import timezone
    from djmoney.money import Money

    from accounts.models import Customer, User
    from billing.models import TokenPurchase
    from catalogue.models import Product, ProductGroup
    from credits.services import credit_entry_append
    from invoices.models import CreditNote, Invoice, InvoiceLine
    from payments.models import Payment
    from provisioning.models import Service

    usd = lambda amount: Money(Decimal(amount), "USD")  # noqa: E731
    now = timezone.now()
    staff = User.objects.create_superuser(email="staff@bench.test", password=None)
    user = User(email="customer@bench.test", email_verified_at=now)
    user.set_unusable_password()
    user.save()
    customer = Customer.objects.create(user=user, name="Bench Customer", country="DE")
    group = ProductGroup.objects.create(name="Bench", slug="bench")
    products = [
        Product.objects.create(group=group, name=f"Bench {n}", slug=f"bench-{n}", kind="vps")
        for n in range(3)
    ]
    services = [
        Service.objects.create(
            customer=customer,
            product=product,
            cycle="monthly",
            currency="USD",
            recurring_amount=usd("5"),
            status="active",
        )
        for product in products
    ]
    invoice = Invoice.objects.create(
        customer=customer,
        kind="renewal",
        status="paid",
        series="B",
        number="B-0",
        currency="USD",
        subtotal=usd("20"),
        discount_total=usd("0"),
        tax_total=usd("3.80"),
        total=usd("23.80"),
        amount_paid=usd("23.80"),
        amount_refunded=usd("0"),
        tax_name="VAT",
        tax_rate=Decimal("19"),
        buyer_details={"name": "Bench Customer", "country": "DE"},
        due_date=now.date(),
        issued_at=now,
        paid_at=now,
    )
    for n, service in enumerate(services[:2]):
        InvoiceLine.objects.create(
            invoice=invoice,
            kind="service",
            description="Bench",
            service=service,
            currency="USD",
            unit_price=usd("10"),
            amount=usd("10"),
            discount=usd("0"),
            tax=usd("1.90"),
            total=usd("11.90"),
            position=n,
        )
    Payment.objects.create(
        invoice=invoice,
        customer=customer,
        gateway="stripe",
        reference="b-0",
        method="card",
        status="applied",
        currency="USD",
        amount=usd("23.80"),
        fee=usd("0.50"),
        amount_refunded=usd("0"),
        received_at=now,
    )
    CreditNote.objects.create(
        invoice=invoice,
        customer=customer,
        series="BCN",
        sequence_number=0,
        number="BCN-0",
        currency="USD",
        amount=usd("1"),
        reason="Bench",
    )
    credit_entry_append(customer=customer, amount=usd("5"), kind="admin_add", idempotency_key="k")
    TokenPurchase.objects.create(
        customer=customer,
        source="staff",
        status="delivered",
        tokens=Decimal("100"),
        rate=100,
        currency="USD",
        amount=usd("0"),
        reason="Bench",
    )
    return Seed(staff)


def _tables(invoices: int) -> list[tuple[type, int, dict[str, str]]]:
    """Each copied table, how many copies and how a copy differs from the seed's row `t`
    (copy number `g`; {i0}: the first copied invoice's id, {c0}: the first copied
    customer's)."""
    from accounts.models import Customer, User
    from billing.models import TokenPurchase
    from credits.models import CreditEntry
    from invoices.models import CreditNote, Invoice, InvoiceLine
    from payments.models import Payment
    from provisioning.models import Service

    tenth = max(invoices // 10, 1)
    return [
        (User, tenth, {"email": "'big' || g || '@example.com'"}),
        (
            Customer,
            tenth,
            {
                "user_id": "(SELECT id FROM accounts_user "
                "WHERE email = 'big' || g || '@example.com')",
                "country": COUNTRIES,
                "created_at": AGO,
            },
        ),
        (
            Invoice,
            invoices,
            {
                "customer_id": "{c0} + g %% " + str(tenth),
                "number": "'B-' || g",
                "currency": "CASE WHEN g %% 10 = 0 THEN 'EUR' ELSE 'USD' END",
                "status": "CASE WHEN g %% 5 = 0 THEN 'unpaid' ELSE 'paid' END",
                "tax_rate": "(ARRAY[19, 20, 21])[g %% 3 + 1]",
                "reverse_charge": "g %% 7 = 0",
                "buyer_details": f"jsonb_build_object('country', {COUNTRIES})",
                "created_at": AGO,
                "issued_at": AGO,
                "paid_at": f"CASE WHEN g %% 5 = 0 THEN NULL ELSE {AGO} END",
                "amount_paid": "CASE WHEN g %% 5 = 0 THEN 0 ELSE t.amount_paid END",
            },
        ),
        (
            InvoiceLine,  # two per invoice (the seed's line, copied); no service period
            invoices * 2,
            {"invoice_id": "{i0} + (g - 1) / 2", "period_start": "NULL"},
        ),
        (
            Payment,
            invoices,
            {
                "invoice_id": "{i0} + g - 1",
                "reference": "'b-' || g",
                "gateway": "(ARRAY['stripe','paypal','manual'])[g %% 3 + 1]",
                "received_at": AGO,
            },
        ),
        (
            CreditNote,
            tenth,
            {
                "invoice_id": "{i0} + g - 1",
                "number": "'BCN-' || g",
                "sequence_number": "g",
                "issued_at": AGO,
            },
        ),
        (
            CreditEntry,  # on the seed's account: each adds the same amount again
            invoices,
            {
                "sequence": "t.sequence + g",
                "idempotency_key": "'big-' || g",
                "balance_before": "t.balance_after + (g - 1) * t.amount",
                "balance_after": "t.balance_after + g * t.amount",
                "created_at": AGO,
            },
        ),
        (TokenPurchase, tenth, {"idempotency_key": "'big-' || g", "created_at": AGO}),
        (Service, tenth, {"customer_id": "{c0} + g - 1", "created_at": AGO}),
    ]


def _build(invoices: int) -> Seed:
    from accounts.models import Customer
    from invoices.models import Invoice

    started = time.perf_counter()
    _reset()
    seed = _seed()
    values: dict[str, int] = {}
    for model, copies, changes in _tables(invoices):
        _copy(model, copies, changes, values)
        if model is Customer:
            values["c0"] = Customer.objects.filter(user__email="big1@example.com").get().pk
        if model is Invoice:
            values["i0"] = Invoice.objects.filter(number="B-1").get().pk
    seconds = time.perf_counter() - started
    print(f"   built {invoices:,} invoices and the rest in {seconds:.0f} s", flush=True)
    return seed


def _built(invoices: int) -> bool:
    from invoices.models import Invoice

    return Invoice.objects.count() == invoices + 1


# --- Measuring ------------------------------------------------------------------------------


def _timed(call: Callable[[], None], requests: int) -> list[float]:
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


@dataclass
class Result:
    slug: str
    median_ms: float
    p95_ms: float
    baseline_ms: float
    ratio: float
    queries: int


def _bare_aggregate(start, end_before) -> Callable[[], None]:
    """The baseline: the range's USD invoices counted and summed, one bare query."""
    from django.db import connection

    def query() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*), sum(total) FROM invoices_invoice "
                "WHERE currency = 'USD' AND issued_at >= %s AND issued_at < %s",
                [start, end_before],
            )
            cursor.fetchone()

    return query


def _page(client, url: str) -> Callable[[], None]:
    def get() -> None:
        response = client.get(url)
        if response.status_code != 200:
            where = response.get("Location", "")
            raise CannotMeasure(f"{url} answered {response.status_code} {where}".strip())

    return get


def _queries(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    return len(captured)


def _measure(bench: Bench, slug: str, client, period, rounds: int, requests: int) -> Result:
    from django.urls import reverse

    query = f"?start={period.start}&end={period.end}&currency=USD"
    url = reverse("reports:report", args=[slug]) + query
    page, baseline = _page(client, url), _bare_aggregate(period.start_at, period.end_before)
    subject_ms: list[float] = []
    baseline_ms: list[float] = []

    def rate(call: Callable[[], None], into: list[float]) -> Callable[[], float]:
        def one_round() -> float:
            times = _timed(call, requests)
            into.extend(times)
            return 1000 / statistics.median(times)

        return one_round

    _timed(page, 2)  # warm: templates compiled, connection open
    comparison = bench.compare(
        f"report {slug}",
        baseline=rate(baseline, baseline_ms),
        subject=rate(page, subject_ms),
        rounds=rounds,
        metric="req/s",
    )
    return Result(
        slug,
        statistics.median(subject_ms),
        percentile(subject_ms, 95),
        statistics.median(baseline_ms),
        comparison.median,
        _queries(client, url),
    )


def _table(results: list[Result]) -> None:
    print(f"\n| {'report':<14} | median ms | p95 ms | bare query ms | queries | rate vs bare |")
    print(f"|{'-' * 16}|-----------|--------|---------------|---------|--------------|")
    for r in results:
        print(
            f"| {r.slug:<14} | {r.median_ms:9.1f} | {r.p95_ms:6.1f} | {r.baseline_ms:13.2f} | "
            f"{r.queries:7d} | {r.ratio:12.2%} |"
        )
    print(flush=True)


def main() -> None:
    args = _parse()
    warnings.filterwarnings("ignore", message="No directory at")  # no collectstatic output
    bench = Bench("reports")
    _setup_django(args.database_url)
    from django.test import Client
    from django.utils import timezone

    from accounts.models import User
    from reports.report_selectors import REPORTS, Period

    if args.rebuild or not _built(args.invoices):
        seed = _build(args.invoices)
    else:
        seed = Seed(User.objects.get(email="staff@bench.test"))
        print(f"   kept the {args.invoices:,}-invoice data already built", flush=True)
    client = Client()
    client.force_login(seed.staff)
    from accounts.tests.second_factor import verify_session

    verify_session(client, seed.staff)  # staff pass a second factor before any admin page
    today = timezone.localdate()
    period = Period(today - timedelta(days=365), today, "USD")
    results = [
        _measure(bench, slug, client, period, args.rounds, args.requests)
        for slug in REPORTS
        if args.only in slug
    ]
    if not results:
        raise CannotMeasure(f"no report matches --only {args.only!r}")
    _table(results)
    for result in results:
        bench.at_most(f"report {result.slug} p95 (ms)", result.p95_ms, P95_TARGET_MS)
    bench.finish()


if __name__ == "__main__":
    run(main)
