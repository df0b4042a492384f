"""Benchmark the pages that list growing tables, at 100,000 rows.

Builds 100,000 rows in each growing table (users, customers, invoices, credit notes, invoice
notices, orders, services, usage records, payments, webhook events, credit accounts and
entries, token purchases, audit events, outbox messages, provisioning and DNS operations,
zones and DNS plans: one row made by the portal's services, then copied by PostgreSQL with
INSERT ... SELECT generate_series, then ANALYZE) and a DNS zone with 1,000 records; then
measures, in process through Django's test client with DEBUG off (the whole request: URL
routing, middleware, session, queries, template):
- the DNS zone page (1,000 records; target <= 60 ms median),
- every staff admin changelist of those tables (target < 100 ms median each),
- the customer's lists (invoices, services, payments, credit, activity, DNS zones), the
  customer owning 2% of every table's rows,
each interleaved with the same number of requests to a trivial view served by the same
stack (baseline), for >= 3 rounds, printing the median time, the SQL queries per request
and the ratio subject/baseline of the request rates.

Usage (from the project root, PostgreSQL reachable):
    .venv/bin/python bench/pages.py [--rows 100000] [--requests 10] [--rounds 3]
    .venv/bin/python bench/pages.py --quick      # 10,000 rows, 5 requests: development

The database (BENCH_DATABASE_URL or --database-url, default billing_portal_bench) is created
if missing, migrated, and emptied of portal data when it is built: never point it at real
data. It is kept between runs and rebuilt only when its row counts differ (--rebuild: always).
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
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.harness import Bench, CannotMeasure, run  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/billing_portal_bench"
ZONE_RECORDS = 1_000
OWN_ONE_IN = 50  # the measured customer owns one row in 50 of each customer table
ZONE_PAGE_TARGET_MS = 60
CHANGELIST_TARGET_MS = 100


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=10, help="per page per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="10,000 rows, 5 requests")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the data even if kept")
    parser.add_argument("--only", default="", help="only the pages whose label contains this")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    args = parser.parse_args()
    if args.quick:
        args.rows, args.requests = 10_000, 5
    return args


def _setup_django(database_url: str) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings_pages",
            "DATABASE_URL": database_url,
            "DEBUG": "false",
            "SECRET_KEY": "bench-only-secret-key-not-for-production-use-0123456789",
            "FIELD_ENCRYPTION_KEYS": "YmVuY2gtb25seS1rZXktbm90LWZvci1wcm9kdWN0aW9u",
            "ALLOWED_HOSTS": "testserver,localhost",
            "SECURE_SSL_REDIRECT": "false",
            "SECURE_COOKIES": "false",
            "READ_DOT_ENV_FILE": "false",
            "CELERY_TASK_ALWAYS_EAGER": "true",
            "EMAIL_URL": "dummymail://",
            "LOG_LEVEL": "WARNING",
        }
    )
    os.environ.pop("REDIS_URL", None)
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(database_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


# --- The data -------------------------------------------------------------------------------


def _older(column: str) -> str:
    return f"t.{column} - g * interval '1 second'"


def _tables() -> list[tuple[type, dict[str, str]]]:
    """Each growing table, in the order it is copied, and how a copy of its newest row
    differs from it (SQL over the row `t`, the copy's number `g`, the first copied
    customer's id {c0}, invoice's {i0} and credit account's {a0}, the measured customer
    {me}, the row count {n})."""
    from accounts.models import Customer, User
    from billing.models import TokenPurchase
    from billing_portal.common.models import AuditEvent, OutboxMessage
    from catalogue.models import Order
    from credits.models import CreditAccount, CreditEntry
    from dnszones.models import DnsAllowance, DnsOperation, Zone
    from invoices.models import CreditNote, Invoice, InvoiceNotice, UsageRecord
    from payments.models import Payment, WebhookEvent
    from provisioning.models import ProvisioningOperation, Service

    # The measured customer owns one copy in OWN_ONE_IN, the others one customer each.
    owner = f"CASE WHEN g %% {OWN_ONE_IN} = 0 THEN {{me}} ELSE {{c0}} + g - 1 END"
    one_each = "{c0} + g - 1"
    return [
        (User, {"email": "'big' || g || '@example.com'", "date_joined": _older("date_joined")}),
        (
            Customer,
            {
                "user_id": "(SELECT id FROM accounts_user "
                "WHERE email = 'big' || g || '@example.com')",
                "name": "t.name || ' ' || g",
                "created_at": _older("created_at"),
            },
        ),
        (
            Invoice,
            {
                "customer_id": owner,
                "number": "'BIG-' || g",
                "sequence_number": "NULL",
                "created_at": _older("created_at"),
                "issued_at": _older("issued_at"),
            },
        ),
        (
            CreditNote,
            {
                "customer_id": owner,
                "number": "'BIG-CN-' || g",
                "sequence_number": "t.sequence_number + g",
                "issued_at": _older("issued_at"),
            },
        ),
        (InvoiceNotice, {"invoice_id": "{i0} + g - 1"}),
        (Order, {"customer_id": owner, "created_at": _older("created_at")}),
        (Service, {"customer_id": owner, "created_at": _older("created_at")}),
        (UsageRecord, {"recorded_at": _older("recorded_at")}),
        (
            Payment,
            {
                "customer_id": owner,
                "reference": "'big-' || g",
                "received_at": _older("received_at"),
            },
        ),
        (WebhookEvent, {"event_id": "'big-' || g", "received_at": _older("received_at")}),
        (CreditAccount, {"customer_id": one_each}),
        (
            CreditEntry,  # on the measured customer's account, or one other account each
            {
                "account_id": f"CASE WHEN g %% {OWN_ONE_IN} = 0 THEN t.account_id "
                "ELSE {a0} + g - 1 END",
                "sequence": "t.sequence + g",
                "idempotency_key": "'big-' || g",
                "balance_before": "t.balance_after + (g - 1) * t.amount",
                "balance_after": "t.balance_after + g * t.amount",
                "created_at": _older("created_at"),
            },
        ),
        (
            TokenPurchase,
            {
                "customer_id": owner,
                "idempotency_key": "'big-' || g",
                "created_at": _older("created_at"),
            },
        ),
        (AuditEvent, {"customer_id": owner, "created_at": _older("created_at")}),
        (OutboxMessage, {"created_at": _older("created_at")}),
        (
            ProvisioningOperation,
            {
                "idempotency_key": "t.idempotency_key || ':big:' || g",
                "created_at": _older("created_at"),
            },
        ),
        (
            DnsOperation,
            {
                "idempotency_key": "t.idempotency_key || ':big:' || g",
                "created_at": _older("created_at"),
            },
        ),
        (Zone, {"customer_id": one_each, "name": "'z' || g || '.bench.test'"}),
        (DnsAllowance, {"customer_id": one_each}),
    ]


def _counts() -> dict[str, int]:
    from django.db import connection

    counts = {}
    with connection.cursor() as cursor:
        for model, _ in _tables():
            table = model._meta.db_table
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 (a model's table)
            counts[table] = cursor.fetchone()[0]
    return counts


def _built(rows: int) -> bool:
    """Whether the database holds this size's data already (each table the seed's rows
    and `rows` copies, the zone its records)."""
    from dnszones.models import Record

    counts = _counts()
    return min(counts.values()) >= rows and Record.objects.count() == ZONE_RECORDS


PORTAL_APPS = (
    "accounts",
    "billing",
    "catalogue",
    "common",
    "credits",
    "dns",
    "invoices",
    "payments",
    "provisioning",
    "sessions",
    "admin",
)


def _reset() -> None:
    """Empty every table of the portal's apps (not Django's content types, permissions or
    migration records)."""
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
    customer: object
    zone: object


def _seed() -> Seed:
    """One row of each growing table, made by the portal (the measured customer's), and the
    DNS zone with its 1,000 records."""
    from django.utils import timezone
    from djmoney.money import Money

    from accounts.models import Customer, User
    from billing import services as billing
    from billing.models import TokenPurchase
    from billing_portal.common.models import OutboxMessage
    from catalogue.models import Order, Product, ProductGroup, ProductPrice
    from credits.services import credit_entry_append
    from dnszones.models import DnsAllowance, DnsOperation, Record, Zone
    from invoices import services as invoices
    from invoices.models import InvoiceNotice, UsageRecord
    from payments.models import WebhookEvent
    from provisioning.models import ProvisioningOperation, Service

    usd = lambda amount: Money(Decimal(amount), "USD")  # noqa: E731
    # No one logs in with a password here (the client is logged in by the session).
    staff = User.objects.create_superuser(email="staff@bench.test", password=None)
    user = User(email="customer@bench.test", email_verified_at=timezone.now())
    user.set_unusable_password()
    user.save()
    customer = Customer.objects.create(user=user, name="Bench Customer", country="US")
    group = ProductGroup.objects.create(name="Bench", slug="bench")
    product = Product.objects.create(group=group, name="Bench VPS", slug="bench-vps", kind="vps")
    ProductPrice.objects.create(
        product=product, cycle="monthly", currency="USD", price=usd("5"), setup_fee=usd("0")
    )
    line = invoices.LineDraft(kind="manual", description="Bench", unit_price=usd("9"))
    draft = invoices.invoice_create_draft(customer=customer, currency="USD", lines=[line])
    billing.invoice_issue(invoice_id=draft.pk)
    paid = invoices.invoice_create_draft(customer=customer, currency="USD", lines=[line])
    billing.invoice_issue(invoice_id=paid.pk)
    billing.payment_record(invoice_id=paid.pk, gateway="manual", reference="r1", amount=usd("9"))
    invoices.credit_note_issue(invoice_id=paid.pk, amount=usd("1"), reason="Bench")
    InvoiceNotice.objects.create(invoice=draft, kind="due")
    order = Order.objects.create(customer=customer)
    service = Service.objects.create(
        customer=customer,
        order=order,
        product=product,
        cycle="monthly",
        currency="USD",
        recurring_amount=usd("5"),
        status="active",
    )
    UsageRecord.objects.create(service=service, metric="bandwidth_gb", quantity=Decimal("3"))
    ProvisioningOperation.objects.create(
        service=service,
        kind="create",
        idempotency_key=f"service:{service.pk}:create:1",
        status="succeeded",
        request_summary={"kind": "create"},
    )
    WebhookEvent.objects.create(provider="stripe", event_id="evt_1", event_type="x", body="{}")
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
    OutboxMessage.objects.create(task_name="common.email_send", sent_at=draft.issued_at)
    DnsAllowance.objects.create(
        customer=customer,
        service_ref=f"svc-{service.pk}",
        plan_name="Enterprise",
        domain_limit=50,
        record_limit=ZONE_RECORDS,
    )
    zone = Zone.objects.create(customer=customer, name="bench.example")
    DnsOperation.objects.create(
        zone_name=zone.name, kind="create_zone", idempotency_key=f"{zone.name}:create_zone"
    )
    Record.objects.bulk_create(
        Record(zone=zone, name=f"host{n:04}", type="A", ttl=300, content=f"192.0.2.{n % 250}")
        for n in range(ZONE_RECORDS)
    )
    return Seed(staff, customer, zone)


def _copy(model: type, copies: int, changes: dict[str, str], values: dict[str, int]) -> None:
    """`copies` copies of the table's newest row, made by PostgreSQL in one statement."""
    from django.db import connection

    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = [f.column for f in model._meta.concrete_fields if not f.primary_key]
    select = [changes[c].format(**values) if c in changes else f"t.{quote(c)}" for c in columns]
    with connection.cursor() as cursor:
        cursor.execute(  # identifiers from the model, quoted; the row count is a parameter
            f"INSERT INTO {table} ({', '.join(map(quote, columns))}) "  # noqa: S608
            f"SELECT {', '.join(select)} FROM {table} t, generate_series(1, %s) g "
            f"WHERE t.id = (SELECT max(id) FROM {table})",
            [copies],
        )
        cursor.execute(f"ANALYZE {table}")


def _build(rows: int) -> Seed:
    from accounts.models import Customer
    from credits.models import CreditAccount
    from invoices.models import Invoice

    started = time.perf_counter()
    _reset()
    seed = _seed()
    values = {"me": seed.customer.pk, "n": rows}
    for model, changes in _tables():
        if model is Invoice:
            values["c0"] = (
                Customer.objects.filter(name__startswith="Bench Customer ").order_by("pk")[0].pk
            )
        _copy(model, rows, changes, values)
        if model is Invoice:
            values["i0"] = Invoice.objects.filter(number="BIG-1").get().pk
        if model is CreditAccount:
            values["a0"] = CreditAccount.objects.filter(customer_id=values["c0"]).get().pk
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE dns_record")
    print(f"   built {rows:,} rows per table in {time.perf_counter() - started:.0f} s", flush=True)
    return seed


def _existing_seed() -> Seed:
    from accounts.models import Customer, User
    from dnszones.models import Zone

    return Seed(
        User.objects.get(email="staff@bench.test"),
        Customer.objects.get(user__email="customer@bench.test"),
        Zone.objects.get(name="bench.example"),
    )


# --- Measuring ------------------------------------------------------------------------------


@dataclass
class Page:
    label: str
    url: str
    staff: bool
    target_ms: float | None = None


def _pages(seed: Seed) -> tuple[list[Page], list[Page], list[Page]]:
    from django.contrib import admin
    from django.urls import reverse

    from billing_portal.common.admin import LargeTableAdminMixin

    zone = [
        Page(
            "DNS zone page (1,000 records)",
            reverse("dns:zone_detail", args=[seed.zone.pk]),
            False,
            ZONE_PAGE_TARGET_MS,
        ),
        Page(
            "DNS zone page, page 20",
            reverse("dns:zone_detail", args=[seed.zone.pk]) + "?page=20",
            False,
            ZONE_PAGE_TARGET_MS,
        ),
        Page(
            "DNS zone page, search",
            reverse("dns:zone_detail", args=[seed.zone.pk]) + "?q=host09&type=A",
            False,
            ZONE_PAGE_TARGET_MS,
        ),
    ]
    changelists = [
        Page(
            f"admin {model._meta.verbose_name_plural}",
            reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"),
            True,
            CHANGELIST_TARGET_MS,
        )
        for model, model_admin in sorted(
            admin.site._registry.items(), key=lambda item: item[0]._meta.label
        )
        if isinstance(model_admin, LargeTableAdminMixin)
    ]
    client = [
        Page("client invoices", reverse("invoices:invoice_list"), False),
        Page("client services", reverse("provisioning:service_list"), False),
        Page("client payments", reverse("payments:payment_list"), False),
        Page("client credit history", reverse("credits:overview"), False),
        Page("client activity", reverse("accounts:activity_list"), False),
        Page("client DNS zones", reverse("dns:zone_list"), False),
        Page("client dashboard", reverse("dashboard"), False),
    ]
    return zone, changelists, client


def _timed(client, url: str, requests: int) -> list[float]:
    """Milliseconds of each of `requests` GETs of `url` (each must answer 200)."""
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise CannotMeasure(f"{url} answered {response.status_code}")
    return times


def _queries(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    return len(captured)


@dataclass
class Result:
    page: Page
    median_ms: float
    baseline_ms: float
    ratio: float
    queries: int


def _measure(bench: Bench, page: Page, client, rounds: int, requests: int) -> Result:
    subject_ms: list[float] = []
    baseline_ms: list[float] = []

    def rate(url: str, into: list[float]) -> Callable[[], float]:
        def one_round() -> float:
            times = _timed(client, url, requests)
            into.extend(times)
            return 1000 / statistics.median(times)

        return one_round

    _timed(client, page.url, 2)  # warm: templates compiled, connections open
    comparison = bench.compare(
        page.label,
        baseline=rate("/bench/trivial/", baseline_ms),
        subject=rate(page.url, subject_ms),
        rounds=rounds,
        metric="req/s",
    )
    return Result(
        page,
        statistics.median(subject_ms),
        statistics.median(baseline_ms),
        comparison.median,
        _queries(client, page.url),
    )


def _table(title: str, results: list[Result]) -> None:
    print(f"\n{title}")
    print(f"| {'page':<44} | median ms | trivial ms | queries | rate vs trivial |")
    print(f"|{'-' * 46}|-----------|------------|---------|-----------------|")
    for r in results:
        print(
            f"| {r.page.label:<44} | {r.median_ms:9.1f} | {r.baseline_ms:10.1f} | "
            f"{r.queries:7d} | {r.ratio:15.1%} |"
        )
    print(flush=True)


def main() -> None:
    args = _parse()
    # Whitenoise's note that there is no collectstatic output: static files are not measured.
    warnings.filterwarnings("ignore", message="No directory at")
    bench = Bench("pages")
    _setup_django(args.database_url)
    from django.test import Client

    if args.rebuild or not _built(args.rows):
        seed = _build(args.rows)
    else:
        seed = _existing_seed()
        print(f"   kept the {args.rows:,}-row data already built", flush=True)
    staff, customer = Client(), Client()
    staff.force_login(seed.staff)
    customer.force_login(seed.customer.user)
    zone, changelists, client_lists = _pages(seed)
    sections = [
        ("DNS zone page", zone),
        (f"Admin changelists at {args.rows:,} rows", changelists),
        ("Client lists (the customer owns 2% of each table)", client_lists),
    ]
    tables = []
    for title, pages in sections:
        results = [
            _measure(bench, page, staff if page.staff else customer, args.rounds, args.requests)
            for page in pages
            if args.only in page.label
        ]
        tables.append((title, results))
    for title, results in tables:
        if results:
            _table(title, results)
    for _title, results in tables:
        for r in results:
            if r.page.target_ms is not None:
                bench.at_most(f"{r.page.label} median (ms)", r.median_ms, r.page.target_ms)
    bench.finish()


if __name__ == "__main__":
    run(main)
