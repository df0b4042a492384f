"""Benchmark the credit ledger writer on PostgreSQL against what the database does alone.

Two comparisons, each interleaved round by round (bench/harness.py: baseline, subject,
baseline, subject ... at least 3 rounds), with the same number of client processes on both
sides (default 8; processes, not threads, so Python's GIL is not what is measured):

1. Many accounts: pgbench's built-in TPC-B-like transaction (`pgbench -b tpcb-like`, in its
   own scratch database, scale >= clients) for a fixed duration per round, against debits
   through the portal's writer (`credits.services.credit_entry_append`) spread over 1,000
   accounts for the same duration. Target: >= 30% of pgbench's rate.
2. One hot account: debits through the portal's writer on one account, against a bare
   psycopg transaction issuing the writer's own statement (credits.services.ledger
   .APPEND_SQL: the account row locked, the entry inserted ON CONFLICT DO NOTHING on the
   idempotency key, the balance moved from the INSERT's RETURNING). Targets: >= 50% of the
   bare rate, and the writer's p95 <= 50 ms.

Then the ledger must reconcile (credits_reconcile finds no mismatch), else exit 1.

Usage (from the project root, PostgreSQL reachable, /usr/bin/pgbench installed):
    .venv/bin/python bench/ledger.py             # the full acceptance case
    .venv/bin/python bench/ledger.py --quick     # shorter rounds, for development

The database in --database-url (default BENCH_DATABASE_URL, else billing_portal_bench) is
created if missing, migrated and emptied of customers and ledger data; pgbench's scratch
database (--pgbench-database, default <that name>_pgbench) is re-initialised. Never point
either at real data.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.harness import Bench, CannotMeasure, percentile, run  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/billing_portal_bench"
ACCOUNTS = 1_000
FUNDS = Decimal("1000000.00")
DEBIT = Decimal("-0.01")
PGBENCH = "/usr/bin/pgbench"


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2-second rounds (development)")
    parser.add_argument("--workers", type=int, default=8, help="client processes per side")
    parser.add_argument("--seconds", type=float, help="per round (default 5; 2 with --quick)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--pgbench-database", help="default: <database name>_pgbench")
    args = parser.parse_args()
    if args.seconds is None:
        args.seconds = 2.0 if args.quick else 5.0
    return args


# --- Django, in the parent and in every worker process ------------------------------------


def _setup_django(database_url: str) -> None:
    """Production-like settings (DEBUG off, so no query log and no lock-order bookkeeping),
    no Redis, mail to nowhere."""
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "DEBUG": "false",
            "SECRET_KEY": "bench-only-not-a-secret",
            "FIELD_ENCRYPTION_KEYS": "YmVuY2gtb25seS1rZXktMzItYnl0ZXMtbG9uZyEhISE=",  # bench only
            "ALLOWED_HOSTS": "127.0.0.1",
            "READ_DOT_ENV_FILE": "false",
            "CELERY_TASK_ALWAYS_EAGER": "true",
            "EMAIL_URL": "dummymail://",
            "LOG_LEVEL": "WARNING",
        }
    )
    os.environ.pop("REDIS_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "billing_portal.settings"
    import django

    django.setup()


def _database_create(database_url: str) -> None:
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(_libpq(admin_url), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _libpq(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


def _reset_and_fund() -> list[int]:
    """ACCOUNTS customers, each with a USD account holding FUNDS (one funding entry, as the
    writer would have written it). Returns the customer ids, in account order."""
    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction
    from djmoney.money import Money

    from accounts.models import Customer, User
    from credits.models import CreditAccount, CreditEntry

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE credits_creditentry, credits_creditaccount, common_auditevent, "
            "accounts_customer, accounts_user CASCADE"
        )
    with transaction.atomic():
        users = User.objects.bulk_create(
            User(email=f"ledger{n}@example.com", password=make_password(None))
            for n in range(ACCOUNTS)
        )
        customers = Customer.objects.bulk_create(
            Customer(user=user, name=f"Ledger {n}", country="US") for n, user in enumerate(users)
        )
        funds = Money(FUNDS, "USD")
        accounts = CreditAccount.objects.bulk_create(
            CreditAccount(customer=c, currency="USD", balance=funds, last_sequence=1)
            for c in customers
        )
        CreditEntry.objects.bulk_create(
            CreditEntry(
                account=account,
                sequence=1,
                kind=CreditEntry.Kind.ADMIN_ADD,
                currency="USD",
                amount=funds,
                balance_before=Money(0, "USD"),
                balance_after=funds,
                idempotency_key="fund",
            )
            for account in accounts
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE credits_creditaccount")
        cursor.execute("ANALYZE credits_creditentry")
    return [customer.pk for customer in customers]


# --- The client processes -----------------------------------------------------------------


@dataclass
class Task:
    mode: str  # "portal" (the writer) or "bare" (psycopg, the writer's statement)
    hot: bool  # one account, or spread over all
    label: str  # unique per round, part of each idempotency key
    start: float  # time.time() at which every worker starts
    seconds: float


def _worker(number: int, database_url: str, customer_ids: list[int], pipe: Connection) -> None:
    """One client: Django set up and connected, plus a bare psycopg connection; runs the
    tasks the parent sends and answers with its latencies (seconds, one per debit)."""
    _setup_django(database_url)
    import psycopg
    from django.db import connection
    from django.utils import timezone
    from djmoney.money import Money
    from psycopg.types.json import Jsonb

    from accounts.models import Customer
    from credits.services import credit_entry_append
    from credits.services.ledger import APPEND_SQL

    customers = list(Customer.objects.filter(pk__in=customer_ids).order_by("pk"))
    amount = Money(DEBIT, "USD")
    bare = psycopg.connect(
        _libpq(database_url), autocommit=True, cursor_factory=psycopg.ClientCursor
    )
    empty = Jsonb({})
    connection.ensure_connection()
    pipe.send("ready")

    def portal(customer: Any, key: str) -> None:
        credit_entry_append(
            customer=customer, amount=amount, kind="service_purchase", idempotency_key=key
        )

    def bare_debit(customer: Any, key: str) -> None:
        params = {
            "customer": customer.pk,
            "currency": "USD",
            "amount": DEBIT,
            "kind": "service_purchase",
            "description": "",
            "payment_reference": "",
            "staff_user": None,
            "reason": "",
            "metadata": empty,
            "idempotency_key": key,
            "now": timezone.now(),
        }
        if bare.execute(APPEND_SQL, params).fetchone() is None:
            raise CannotMeasure("the bare statement wrote no entry")

    while (task := pipe.recv()) is not None:
        debit = portal if task.mode == "portal" else bare_debit
        latencies = []
        m = 0
        time.sleep(max(0.0, task.start - time.time()))
        deadline = time.perf_counter() + task.seconds
        try:
            while (started := time.perf_counter()) < deadline:
                n = 0 if task.hot else (number * 7919 + m) % len(customers)
                debit(customers[n], f"{task.label}-{number}-{m}")
                latencies.append(time.perf_counter() - started)
                m += 1
        except Exception as error:  # the parent reports it: it cannot measure
            pipe.send(f"{type(error).__name__}: {error}")
            continue
        pipe.send(latencies)
    bare.close()
    connection.close()


class Clients:
    """`workers` client processes, started once (each sets Django up and connects), then
    given one task per round, all starting at the same instant."""

    def __init__(self, workers: int, database_url: str, customer_ids: list[int]) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes = []
        for number in range(workers):
            parent, child = context.Pipe()
            process = context.Process(
                target=_worker, args=(number, database_url, customer_ids, child), daemon=True
            )
            process.start()
            self.pipes.append(parent)
            self.processes.append(process)
        for pipe in self.pipes:
            if not pipe.poll(120) or pipe.recv() != "ready":
                raise CannotMeasure("a client process did not start")
        self.rounds = 0

    def round(self, *, mode: str, hot: bool, seconds: float) -> tuple[float, list[float]]:
        """Debits per second over all clients, and every debit's latency (seconds)."""
        self.rounds += 1
        task = Task(
            mode, hot, f"{mode}{'h' if hot else 'm'}{self.rounds}", time.time() + 0.3, seconds
        )
        for pipe in self.pipes:
            pipe.send(task)
        latencies: list[float] = []
        for pipe in self.pipes:
            if not pipe.poll(seconds + 60):
                raise CannotMeasure(f"a client process did not finish its {mode} round")
            answer = pipe.recv()
            if isinstance(answer, str):
                raise CannotMeasure(f"a client's {mode} debit failed: {answer}")
            latencies.extend(answer)
        return len(latencies) / seconds, latencies

    def close(self) -> None:
        for pipe in self.pipes:
            pipe.send(None)
        for process in self.processes:
            process.join(10)


# --- pgbench ------------------------------------------------------------------------------


class Pgbench:
    def __init__(self, database_url: str, database: str, clients: int, seconds: float) -> None:
        if not shutil.which(PGBENCH):
            raise CannotMeasure(f"{PGBENCH} is not installed")
        parts = urlsplit(database_url)
        self.connect = [
            "-h",
            parts.hostname or "127.0.0.1",
            "-p",
            str(parts.port or 5432),
            "-U",
            parts.username or "postgres",
        ]
        self.env = {**os.environ, **({"PGPASSWORD": parts.password} if parts.password else {})}
        self.database, self.clients, self.seconds = database, clients, seconds
        self.scale = max(clients, 8)
        _database_create(database_url.rsplit("/", 1)[0] + "/" + database)

    def initialise(self) -> None:
        self._run("-i", "-q", "-s", str(self.scale))

    def round(self) -> float:
        threads = str(min(self.clients, os.cpu_count() or 1))
        out = self._run(
            "-b", "tpcb-like", "-n", "-c", str(self.clients), "-j", threads,
            "-T", str(max(1, round(self.seconds))),
        )  # fmt: skip
        found = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out)
        if not found:
            raise CannotMeasure(f"pgbench printed no rate:\n{out}")
        return float(found.group(1))

    def _run(self, *args: str) -> str:
        done = subprocess.run(  # noqa: S603 (our own arguments)
            [PGBENCH, *self.connect, *args, self.database],
            capture_output=True,
            text=True,
            env=self.env,
            check=False,
        )
        if done.returncode != 0:
            raise CannotMeasure(f"pgbench {' '.join(args)} failed:\n{done.stderr}")
        return done.stdout + done.stderr


# --- main ---------------------------------------------------------------------------------


def main() -> None:
    args = _parse()
    _database_create(args.database_url)
    _setup_django(args.database_url)
    from django.core.management import call_command

    from credits.services import credits_reconcile

    call_command("migrate", verbosity=0)
    customer_ids = _reset_and_fund()
    bench = Bench("ledger")
    seconds, workers = args.seconds, args.workers
    pgbench = Pgbench(
        args.database_url,
        args.pgbench_database or args.database_url.rsplit("/", 1)[1] + "_pgbench",
        workers,
        seconds,
    )
    pgbench.initialise()
    print(
        f"   {workers} client processes a side, {seconds:g} s rounds, {ACCOUNTS:,} accounts, "
        f"pgbench scale {pgbench.scale}",
        flush=True,
    )
    clients = Clients(workers, args.database_url, customer_ids)
    try:
        for mode, one in (("portal", False), ("portal", True), ("bare", True)):  # warm up
            clients.round(mode=mode, hot=one, seconds=min(seconds, 1.0))
        many = bench.compare(
            f"debits over {ACCOUNTS:,} accounts vs pgbench tpcb-like",
            baseline=pgbench.round,
            subject=lambda: clients.round(mode="portal", hot=False, seconds=seconds)[0],
            rounds=args.rounds,
            metric="tps",
        )
        hot_latencies: dict[str, list[float]] = {"portal": [], "bare": []}

        def hot_round(mode: str) -> float:
            rate, latencies = clients.round(mode=mode, hot=True, seconds=seconds)
            hot_latencies[mode].extend(latencies)
            return rate

        hot = bench.compare(
            "debits on one hot account vs bare psycopg, same statement",
            baseline=lambda: hot_round("bare"),
            subject=lambda: hot_round("portal"),
            rounds=args.rounds,
            metric="debits/s",
        )
    finally:
        clients.close()
    p95, bare_p95 = (percentile(hot_latencies[mode], 95) * 1000 for mode in ("portal", "bare"))
    print(
        f"   hot account, {workers} workers: p95 {p95:.1f} ms through the writer, "
        f"{bare_p95:.1f} ms bare psycopg"
    )
    bench.at_least("many accounts, portal / pgbench", many, 0.30)
    bench.at_least("hot account, portal / bare psycopg", hot, 0.50)
    bench.at_most(f"hot account p95 at {workers} workers (ms)", p95, 50)
    mismatches = credits_reconcile()
    print(f"   credits_reconcile after the runs: {len(mismatches)} mismatch(es)")
    bench.at_most("ledger mismatches after the runs", len(mismatches), 0)
    bench.finish()


if __name__ == "__main__":
    run(main)
