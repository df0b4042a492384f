"""Benchmark the daily billing run on PostgreSQL (and Celery workers on Redis).

Builds N active services (default 100,000; ten per customer) of which one in 30 falls due
within the renewal window, then measures, printing each figure and the load average:
(a) the whole run (renewals, reminders and every other step) over N services in this
    process: target < 60 s; with the statements per renewal chunk and the cost of a chunk;
(b) renewal creation against a bare `bulk_create` of the same invoice, line and audit rows
    (the rows the run wrote, copied), interleaved A B A B for --rounds rounds, the renewals
    reset between rounds (the run's rows truncated: renewals change no service row):
    target >= 25%;
(c) 2N services against N: the run should take about twice as long (1.6x-2.4x);
(d) the peak of Python memory (tracemalloc) of the run at N and 2N: flat (2N / N <= 1.3);
(e) the run fanned out on 2 Celery worker processes against 1 (real `celery worker`
    processes on Redis, interleaved; the second worker stops consuming in the 1-worker
    rounds), printed with the speed-up but never a failure: on a 2-core machine that also
    runs PostgreSQL the target 1.6x needs cores this box does not have;
and what 1,000,000 services would take, from the measured cost of a chunk.

Usage (from the project root, PostgreSQL and Redis reachable):
    .venv/bin/python bench/billing_run.py [--quick] [--services N] [--rounds 3]
        [--no-scaling] [--no-memory] [--no-workers] [--database-url URL] [--redis-url URL]

The database (default billing_portal_bench; BENCH_DATABASE_URL) is created if missing,
migrated and emptied on every run, and the queues "default" and "bench-mail" of the Redis
database (BENCH_REDIS_URL, default redis://127.0.0.1:6379/2) are emptied: never point
either at real data.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import Bench, CannotMeasure, load_average, run  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/billing_portal_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/2"
SERVICES_PER_CUSTOMER = 10
DUE_ONE_IN = 30
TODAY = date(2026, 6, 1)
SETTINGS = "bench.settings_billing_run"
QUEUES = ("default", "bench-mail")


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10,000 services (development)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-scaling", action="store_true")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--no-workers", action="store_true")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS))
    args = parser.parse_args()
    if args.quick:
        args.services = 10_000
    return args


def _environment(database_url: str, redis_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DEBUG": "true",  # the settings module turns it off again (no production secrets)
        "READ_DOT_ENV_FILE": "false",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "EMAIL_URL": "dummymail://",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": SETTINGS,
    }


def _setup_django(database_url: str, redis_url: str) -> None:
    os.environ.update(_environment(database_url, redis_url))
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    _drop_queues(redis_url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


@contextmanager
def _count_queries() -> Iterator[dict[str, int]]:
    from django.db import connection

    counter = {"queries": 0}

    def count(execute, sql, params, many, context):
        counter["queries"] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        yield counter


def _sql(statement: str, params: list[Any] | None = None) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)


RUN_TABLES = (
    "invoices_invoicenotice, invoices_invoiceline, invoices_invoice, common_auditevent, "
    "common_outboxmessage, billing_billingrunchunk, billing_billingrun, "
    "invoices_invoicenumbersequence"
)


def _drop_queues(redis_url: str) -> None:
    """Empty the queues the benchmark fills (only those: the Redis database may be shared)."""
    import redis

    redis.Redis.from_url(redis_url).delete(*QUEUES)


def _reset_renewals(redis_url: str) -> None:
    """Undo a run: its rows go; renewals change no service (nothing is paid in this data)."""

    _sql(f"TRUNCATE {RUN_TABLES} CASCADE")
    _drop_queues(redis_url)


def _reset_all() -> None:
    _sql(
        f"TRUNCATE {RUN_TABLES}, catalogue_couponredemption, catalogue_order, "
        "provisioning_serviceoption, invoices_usagerecord, provisioning_service, "
        "accounts_customer, accounts_user, catalogue_productprice, catalogue_product, "
        "catalogue_productgroup CASCADE"
    )


def _build(services: int, *, start: int = 0) -> None:
    """`services` more active services (numbered from `start`), one in DUE_ONE_IN due."""
    from djmoney.money import Money

    from accounts.models import Customer, User
    from catalogue.models import Product, ProductGroup, ProductPrice
    from provisioning.models import Service

    product = Product.objects.filter(slug="bench").first()
    if product is None:
        group = ProductGroup.objects.create(name="Bench", slug="bench")
        product = Product.objects.create(group=group, name="Bench server", slug="bench", kind="vps")
        ProductPrice.objects.create(
            product=product,
            cycle="monthly",
            currency="USD",
            price=Money(Decimal("10.00"), "USD"),
            setup_fee=Money(Decimal("0"), "USD"),
        )
    first, count = start // SERVICES_PER_CUSTOMER, max(1, services // SERVICES_PER_CUSTOMER)
    unusable = "!"  # Django's marker for an unusable password: these users cannot log in
    users = User.objects.bulk_create(
        (
            User(email=f"bench{n}@example.com", password=unusable)
            for n in range(first, first + count)
        ),
        batch_size=5_000,
    )
    customers = Customer.objects.bulk_create(
        (
            Customer(user=user, name=f"Customer {first + n}", country="US")
            for n, user in enumerate(users)
        ),
        batch_size=5_000,
    )
    ten = Money(Decimal("10.00"), "USD")
    # One in DUE_ONE_IN falls inside the 7-day renewal window; the rest are due later.
    Service.objects.bulk_create(
        (
            Service(
                customer=customers[n % count],
                product=product,
                cycle="monthly",
                currency="USD",
                recurring_amount=ten,
                status="active",
                next_due_date=TODAY + timedelta(days=3 if (start + n) % DUE_ONE_IN == 0 else 20),
            )
            for n in range(services)
        ),
        batch_size=5_000,
    )
    _sql("ANALYZE")


# --- (a) the whole run --------------------------------------------------------------------


def _run_once() -> tuple[float, Any, int]:
    from billing.services import billing_run

    with _count_queries() as counter:
        started = time.perf_counter()
        billing = billing_run(today=TODAY)
        elapsed = time.perf_counter() - started
    if billing.errors:  # a benchmark of a failing run is void
        raise CannotMeasure(f"the run recorded errors: {billing.errors[:3]}")
    return elapsed, billing, counter["queries"]


def _chunk_seconds(billing: Any) -> list[float]:
    return [
        (chunk.finished_at - chunk.started_at).total_seconds()
        for chunk in billing.chunks.all()
        if chunk.finished_at and chunk.started_at
    ]


def _chunk_queries() -> tuple[int, int]:
    """Statements of the first renewal chunk and of the last (a short one), run alone."""
    from django.db import transaction

    from billing.services.run import renewal_chunks, renewals_renew

    chunks = list(renewal_chunks(today=TODAY))
    figures = []
    for groups in (chunks[0], chunks[-1]):
        with _count_queries() as counter, transaction.atomic():
            renewals_renew(groups)
            transaction.set_rollback(True)
        figures.append(counter["queries"])
    return figures[0], figures[1]


# --- (b) renewals against a bare bulk_create ----------------------------------------------


def _renewals_only() -> tuple[float, int]:
    """Seconds to issue every due renewal, chunk after chunk as the run does."""
    from billing.services.run import RunContext, _renew, renewal_chunks, renewals_renew

    context = RunContext(today=TODAY)
    started = time.perf_counter()
    for groups in renewal_chunks(today=TODAY):
        context.batch("renewals", groups, renewals_renew, _renew)
    elapsed = time.perf_counter() - started
    if context.errors:
        raise CannotMeasure(f"renewals failed: {context.errors[:3]}")
    return elapsed, context.counts["renewals"]


def _templates() -> tuple[list, list, list]:
    from billing_portal.common.models import AuditEvent
    from invoices.models import Invoice, InvoiceLine

    return (
        list(Invoice.objects.order_by("pk")),
        list(InvoiceLine.objects.order_by("pk")),
        list(AuditEvent.objects.order_by("pk")),
    )


def _bare_bulk_create(templates: tuple[list, list, list], chunk: int) -> float:
    """Seconds to write the same rows with bulk_create, a transaction per chunk of renewals."""
    from django.db import transaction

    from billing_portal.common.models import AuditEvent
    from invoices.models import Invoice, InvoiceLine

    invoices, lines, events = templates
    lines_of: dict[int, list] = {}
    for line in lines:
        lines_of.setdefault(line.invoice_id, []).append(line)
    started = time.perf_counter()
    for at in range(0, len(invoices), chunk):
        batch = invoices[at : at + chunk]
        with transaction.atomic():
            old_ids = [invoice.pk for invoice in batch]
            for invoice in batch:
                invoice.pk = None
            Invoice.objects.bulk_create(batch)
            new_lines = []
            for old, invoice in zip(old_ids, batch, strict=True):
                for line in lines_of[old]:
                    line.pk, line.invoice = None, invoice
                    new_lines.append(line)
            InvoiceLine.objects.bulk_create(new_lines)
            batch_events = events[at : at + chunk]
            for event in batch_events:
                event.pk = None
            AuditEvent.objects.bulk_create(batch_events)
    return time.perf_counter() - started


# --- (d) memory ---------------------------------------------------------------------------


def _peak_memory_mb(redis_url: str) -> float:
    _reset_renewals(redis_url)
    tracemalloc.start()
    try:
        _run_once()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 1e6


# --- (c) scaling -------------------------------------------------------------------------


def _second_half(active: bool, boundary: int) -> None:
    """The services built second: active (2N in the run) or cancelled (N: no step of the
    run touches a cancelled service; the scan skips them by the (status, due date) index)."""
    status = "active" if active else "cancelled"
    _sql("UPDATE provisioning_service SET status = %s WHERE id > %s", [status, boundary])
    _sql("VACUUM ANALYZE provisioning_service")


def _scaling(bench: Bench, args: argparse.Namespace, memory: float | None) -> None:
    """Runs over N and 2N services interleaved (the second N services built once, cancelled
    in the N rounds), so both sizes see the same load on this shared machine."""
    from provisioning.models import Service

    boundary = Service.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    _build(args.services, start=args.services)

    def at(active: bool) -> Callable[[], float]:
        def measure() -> float:
            _second_half(active, boundary)
            _reset_renewals(args.redis_url)
            return _run_once()[0]

        return measure

    comparison = bench.compare(
        f"run over {2 * args.services:,} services vs {args.services:,} (seconds)",
        baseline=at(False),
        subject=at(True),
        rounds=args.rounds,
        metric="s",
    )
    ratio = comparison.median
    print(f"(c) time at {2 * args.services:,} / {args.services:,}: {ratio:.2f}x", flush=True)
    label = f"time at {2 * args.services:,} / {args.services:,}"
    if args.quick:
        print("    (--quick: fixed costs weigh more at this size; ratio not judged)")
    else:
        bench.at_least(label, ratio, 1.6)
        bench.at_most(label, ratio, 2.4)
    if memory is not None:
        _second_half(True, boundary)
        doubled = _peak_memory_mb(args.redis_url)
        print(
            f"(d) peak Python memory at {2 * args.services:,}: {doubled:.1f} MB "
            f"({doubled / memory:.2f}x); process peak RSS "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB",
            flush=True,
        )
        # twice the renewals, the same memory: a page of the scan and a chunk bound it
        bench.at_most("peak memory at 2N / at N", doubled / memory, 1.3)
    _second_half(False, boundary)  # the workers' rounds run over N services


# --- (e) Celery workers -------------------------------------------------------------------


class Workers:
    """Real `celery worker` processes (one process each) on the benchmark's Redis."""

    def __init__(self, count: int, env: dict[str, str]) -> None:
        self.names = [f"bench-billing-{n}@localhost" for n in range(1, count + 1)]
        self.processes = [
            subprocess.Popen(  # noqa: S603 (our own celery, fixed arguments)
                [
                    str(ROOT / ".venv/bin/celery"),
                    "-A",
                    "billing_portal",
                    "worker",
                    "-Q",
                    "default",
                    "-c",
                    "1",
                    "-n",
                    name,
                    "--without-gossip",
                    "--without-mingle",
                    "-l",
                    "WARNING",
                ],
                cwd=ROOT,
                env={**os.environ, **env},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for name in self.names
        ]

    def wait_ready(self, timeout: float = 60) -> None:
        from billing_portal.celery import app

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            replies = app.control.ping(destination=self.names, timeout=1)
            if len(replies) == len(self.names):
                return
            if any(process.poll() is not None for process in self.processes):
                break
        raise CannotMeasure("the Celery workers did not start")

    def consume(self, count: int) -> None:
        """Only the first `count` workers take chunks."""
        from billing_portal.celery import app

        for number, name in enumerate(self.names):
            if number < count:
                app.control.add_consumer("default", destination=[name], reply=True)
            else:
                app.control.cancel_consumer("default", destination=[name], reply=True)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _fanned_out(redis_url: str, timeout: float = 600) -> tuple[float, int]:
    """Seconds from the orchestrator's start to the run's completion by the workers."""
    from billing.models import BillingRun
    from billing.services import billing_run

    _reset_renewals(redis_url)
    started = time.perf_counter()
    billing = billing_run(today=TODAY, fan_out=True)
    while billing.finished_at is None:
        if time.perf_counter() - started > timeout:
            raise CannotMeasure("the workers did not finish the run")
        time.sleep(0.05)
        billing = BillingRun.objects.get(pk=billing.pk)
    elapsed = time.perf_counter() - started
    if billing.errors:
        raise CannotMeasure(f"the fanned-out run recorded errors: {billing.errors[:3]}")
    return elapsed, billing.counts["renewals"]


def _measure_workers(bench: Bench, args: argparse.Namespace) -> float | None:
    workers = Workers(2, _environment(args.database_url, args.redis_url))
    try:
        workers.wait_ready()

        def with_workers(count: int) -> Callable[[], float]:
            def measure() -> float:
                workers.consume(count)
                elapsed, renewals = _fanned_out(args.redis_url)
                return renewals / elapsed

            return measure

        comparison = bench.compare(
            "run on 2 Celery workers vs 1",
            baseline=with_workers(1),
            subject=with_workers(2),
            rounds=args.rounds,
            metric="renewals/s",
        )
    finally:
        workers.stop()
    speedup = comparison.median
    print(
        f"   2 workers / 1 worker: {speedup:.2f}x (target 1.6x where the machine has the "
        f"cores; {os.cpu_count()} cores here, shared with PostgreSQL: reported, not judged)",
        flush=True,
    )
    return speedup


# --- main ---------------------------------------------------------------------------------


def main() -> None:
    args = _parse()
    bench = Bench("billing_run")
    _setup_django(args.database_url, args.redis_url)
    from django.conf import settings

    chunk_size = settings.BILLING_RUN_CHUNK_SIZE
    _reset_all()
    started = time.perf_counter()
    _build(args.services)
    print(f"built {args.services:,} services in {time.perf_counter() - started:.1f} s", flush=True)

    # (a) the whole run, in this process
    _reset_renewals(args.redis_url)
    full, short = _chunk_queries()  # rolled back
    elapsed, billing, queries = _run_once()
    renewals, chunks = billing.counts["renewals"], billing.chunks.count()
    per_chunk = _chunk_seconds(billing)
    print(
        f"(a) run over {args.services:,} services ({renewals:,} renewals, "
        f"{billing.counts['reminders']:,} reminders, {chunks} chunks of {chunk_size}): "
        f"{elapsed:.2f} s, {queries:,} queries; {load_average()}",
        flush=True,
    )
    chunk_cost = statistics.median(per_chunk) if per_chunk else 0.0
    print(
        f"    per chunk: {chunk_cost * 1000:.0f} ms median (range "
        f"{min(per_chunk, default=0) * 1000:.0f}-{max(per_chunk, default=0) * 1000:.0f} ms); "
        f"statements per chunk: {full} for a full chunk, {short} for the last one",
        flush=True,
    )
    bench.at_most(f"run over {args.services:,} services (s)", elapsed, 60)

    # (b) renewal creation against a bare bulk_create of the same rows
    templates = _templates()

    def subject() -> float:
        _reset_renewals(args.redis_url)
        seconds, count = _renewals_only()
        return count / seconds

    def baseline() -> float:
        _reset_renewals(args.redis_url)
        return len(templates[0]) / _bare_bulk_create(templates, chunk_size)

    comparison = bench.compare(
        "renewals vs bare bulk_create of their rows",
        baseline=baseline,
        subject=subject,
        rounds=args.rounds,
        metric="renewals/s",
    )
    bench.at_least("renewal creation / bare bulk_create", comparison, 0.25)

    memory = None if args.no_memory else _peak_memory_mb(args.redis_url)
    if memory is not None:
        print(
            f"(d) peak Python memory of the run at {args.services:,}: {memory:.1f} MB", flush=True
        )

    # (c) twice the services, about twice the time; (d) the same memory
    if not args.no_scaling:
        _scaling(bench, args, memory)

    # (e) the run fanned out on Celery workers
    speedup = None if args.no_workers else _measure_workers(bench, args)

    # What 1,000,000 services would take, from the measured chunk cost.
    if chunk_cost:
        due = 1_000_000 // DUE_ONE_IN
        million_chunks = -(-due // chunk_size)
        serial = million_chunks * chunk_cost
        print(
            f"1,000,000 services: {due:,} renewals = {million_chunks} chunks of {chunk_size} at "
            f"{chunk_cost * 1000:.0f} ms = {serial:.0f} s of chunks in one process"
            + (f"; {serial / speedup:.0f} s on 2 workers here" if speedup else "")
            + f"; {serial / 8:.0f} s on 8 workers with the cores",
            flush=True,
        )
    bench.finish()


if __name__ == "__main__":
    run(main)
