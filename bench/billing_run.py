"""Benchmark the daily billing run on PostgreSQL.

Builds N active services (default 20,000) of which about one in 30 falls due within the
renewal window, runs the billing run once and prints:
- services scanned per second and renewal invoices per second,
- SQL queries per renewal,
- and, measured in the same run as a baseline, the rate of a plain `bulk_create` of as many
  invoice rows, with the ratio between the two (how much a full renewal costs compared with
  just writing an invoice row).

Usage (from the project root, PostgreSQL reachable):
    .venv/bin/python bench/billing_run.py [--services 100000] [--database-url URL]

The database named in --database-url (default billing_portal_bench) is created if missing,
migrated, and emptied of billing data on every run: never point it at real data.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/billing_portal_bench"
CUSTOMERS_PER_SERVICE = 10
DUE_ONE_IN = 30
TODAY = date(2026, 6, 1)


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=20_000)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    return parser.parse_args()


def _setup_django(database_url: str) -> None:
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "DEBUG": "true",
            "READ_DOT_ENV_FILE": "false",
            "CELERY_TASK_ALWAYS_EAGER": "true",
            "EMAIL_URL": "dummymail://",
            "LOG_LEVEL": "WARNING",
        }
    )
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_portal.settings")
    sys.path.insert(0, str(ROOT))
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


@contextmanager
def _count_queries():
    from django.db import connection

    counter = {"queries": 0}

    def count(execute, sql, params, many, context):
        counter["queries"] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        yield counter


def _reset() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE invoices_invoicenotice, invoices_invoiceline, invoices_invoice, "
            "billing_billingrun, invoices_invoicenumbersequence, catalogue_couponredemption, "
            "catalogue_order, provisioning_serviceoption, invoices_usagerecord, "
            "provisioning_service, common_auditevent, accounts_customer, accounts_user, "
            "catalogue_productprice, catalogue_product, catalogue_productgroup CASCADE"
        )


def _build(services: int) -> None:
    from djmoney.money import Money

    from accounts.models import Customer, User
    from catalogue.models import Product, ProductGroup, ProductPrice
    from provisioning.models import Service

    group = ProductGroup.objects.create(name="Bench", slug="bench")
    product = Product.objects.create(group=group, name="Bench server", slug="bench", kind="vps")
    ProductPrice.objects.create(
        product=product,
        cycle="monthly",
        currency="USD",
        price=Money(Decimal("10.00"), "USD"),
        setup_fee=Money(Decimal("0"), "USD"),
    )
    count = max(1, services // CUSTOMERS_PER_SERVICE)
    # "!" is Django's marker for an unusable password: these users cannot log in.
    unusable = "!"
    users = User.objects.bulk_create(
        User(email=f"bench{n}@example.com", password=unusable) for n in range(count)
    )
    customers = Customer.objects.bulk_create(
        Customer(user=user, name=f"Customer {n}", country="US") for n, user in enumerate(users)
    )
    # One in DUE_ONE_IN falls inside the 7-day renewal window; the rest are due later.
    Service.objects.bulk_create(
        (
            Service(
                customer=customers[n % count],
                product=product,
                cycle="monthly",
                currency="USD",
                recurring_amount=Money(Decimal("10.00"), "USD"),
                status="active",
                next_due_date=TODAY + timedelta(days=3 if n % DUE_ONE_IN == 0 else 20),
            )
            for n in range(services)
        ),
        batch_size=5_000,
    )


def _measure_run() -> tuple[float, int, int]:
    from billing.services import billing_run

    with _count_queries() as counter:
        started = time.perf_counter()
        run = billing_run(today=TODAY)
        elapsed = time.perf_counter() - started
    assert not run.errors, run.errors  # a benchmark of a failing run is void
    return elapsed, run.counts["renewals"], counter["queries"]


def _measure_bulk_baseline(rows: int) -> float:
    """Time a plain bulk_create of `rows` invoice rows, rolled back afterwards."""
    from django.db import transaction
    from djmoney.money import Money

    from accounts.models import Customer
    from invoices.models import Invoice

    customer = Customer.objects.first()
    zero, ten = Money(Decimal("0"), "USD"), Money(Decimal("10.00"), "USD")
    invoices = [
        Invoice(
            customer=customer,
            currency="USD",
            kind="renewal",
            subtotal=ten,
            discount_total=zero,
            tax_total=zero,
            total=ten,
            amount_paid=zero,
            amount_refunded=zero,
        )
        for _ in range(rows)
    ]
    with transaction.atomic():
        started = time.perf_counter()
        Invoice.objects.bulk_create(invoices)
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return elapsed


def main() -> None:
    args = _parse()
    _setup_django(args.database_url)
    _reset()
    started = time.perf_counter()
    _build(args.services)
    print(f"built {args.services:,} services in {time.perf_counter() - started:.1f} s")

    elapsed, renewals, queries = _measure_run()
    baseline = _measure_bulk_baseline(renewals)

    run_rate = renewals / elapsed
    baseline_rate = renewals / baseline
    print(f"services:                  {args.services:,} ({renewals:,} due)")
    print(f"billing run:               {elapsed:.2f} s")
    print(f"services scanned per s:    {args.services / elapsed:,.0f}")
    print(f"renewal invoices per s:    {run_rate:,.1f}")
    print(f"queries per renewal:       {queries / max(renewals, 1):.1f}")
    print(f"baseline bulk_create per s: {baseline_rate:,.0f} invoice rows")
    print(f"ratio (baseline / run):    {baseline_rate / run_rate:,.0f}x")


if __name__ == "__main__":
    main()
