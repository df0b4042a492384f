"""Benchmark the credit ledger writer on PostgreSQL.

8 parallel workers append debits through `credits.services.credit_entry_append` (the
portal's one writer: account row lock, idempotency check, insert, balance update), first
all on one hot account, then spread over 1,000 accounts; printed: debits per second and p95
latency. In the same run, the baseline: a bare psycopg transaction doing the same row lock,
insert and update. Ratios are printed.

Usage (from the project root, PostgreSQL reachable):
    .venv/bin/python bench/ledger.py [--debits 4000] [--workers 8]

The database in --database-url (default billing_portal_bench) is emptied of ledger data.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from billing_run import DEFAULT_URL, _setup_django  # noqa: E402

ACCOUNTS = 1_000


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--debits", type=int, default=4_000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    return parser.parse_args()


def _reset_and_fund() -> list:
    from django.db import connection
    from djmoney.money import Money

    from accounts.models import Customer, User
    from credits.services import credit_entry_append

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE credits_creditentry, credits_creditaccount, common_auditevent, "
            "accounts_customer, accounts_user CASCADE"
        )
    unusable = "!"  # Django's marker for an unusable password
    users = User.objects.bulk_create(
        User(email=f"ledger{n}@example.com", password=unusable) for n in range(ACCOUNTS)
    )
    customers = Customer.objects.bulk_create(
        Customer(user=user, name=f"Ledger {n}", country="US") for n, user in enumerate(users)
    )
    for customer in customers:
        credit_entry_append(
            customer=customer,
            amount=Money(Decimal("1000000"), "USD"),
            kind="admin_add",
            idempotency_key="fund",
        )
    return customers


def _run(workers: int, debits: int, debit) -> tuple[float, list[float]]:
    per_worker = debits // workers
    latencies: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(workers)

    def worker(n: int) -> None:
        from django.db import connections

        mine = []
        barrier.wait()
        for m in range(per_worker):
            started = time.perf_counter()
            debit(n, m)
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)
        connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(workers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, latencies


def _portal_debit(customers, *, hot: bool, run: str):
    from djmoney.money import Money

    from credits.services import credit_entry_append

    def debit(n: int, m: int) -> None:
        customer = customers[0] if hot else customers[(n * 7919 + m) % len(customers)]
        credit_entry_append(
            customer=customer,
            amount=Money(Decimal("-0.01"), "USD"),
            kind="service_purchase",
            idempotency_key=f"{run}-{n}-{m}",
        )

    return debit


def _baseline_debit(database_url: str, account_ids: list[int], *, hot: bool, run: str):
    import psycopg

    local = threading.local()
    url = database_url.replace("postgres://", "postgresql://")

    def debit(n: int, m: int) -> None:
        if not hasattr(local, "conn"):
            local.conn = psycopg.connect(url)
        account = account_ids[0] if hot else account_ids[(n * 7919 + m) % len(account_ids)]
        with local.conn.transaction():
            row = local.conn.execute(
                "SELECT balance, last_sequence FROM credits_creditaccount WHERE id = %s FOR UPDATE",
                [account],
            ).fetchone()
            balance, sequence = row[0], row[1] + 1
            local.conn.execute(
                "INSERT INTO credits_creditentry (account_id, sequence, kind, currency, amount, "
                "balance_before, balance_after, description, payment_reference, reason, "
                "metadata, idempotency_key, created_at) VALUES "
                "(%s, %s, 'service_purchase', 'USD', -0.01, %s, %s, '', '', '', '{}', %s, now())",
                [account, sequence, balance, balance - Decimal("0.01"), f"{run}-{n}-{m}"],
            )
            local.conn.execute(
                "UPDATE credits_creditaccount SET balance = balance - 0.01, last_sequence = %s, "
                "updated_at = now() WHERE id = %s",
                [sequence, account],
            )

    return debit


def _report(label: str, elapsed: float, latencies: list[float]) -> tuple[float, float]:
    rate = len(latencies) / elapsed
    p95 = statistics.quantiles(latencies, n=100)[94] * 1000
    print(f"{label:<28} {rate:8,.0f} debits/s   p95 {p95:6.1f} ms")
    return rate, p95


def main() -> None:
    args = _parse()
    _setup_django(args.database_url)
    from credits.models import CreditAccount
    from credits.services import credits_reconcile

    customers = _reset_and_fund()
    account_ids = list(
        CreditAccount.objects.filter(customer__in=customers)
        .order_by("customer_id")
        .values_list("pk", flat=True)
    )
    print(f"{args.debits:,} debits per case, {args.workers} workers, {ACCOUNTS:,} accounts")
    results = {}
    for hot in (True, False):
        where = "one hot account" if hot else f"spread over {ACCOUNTS:,}"
        portal = _run(args.workers, args.debits, _portal_debit(customers, hot=hot, run=f"p{hot}"))
        baseline = _baseline_debit(args.database_url, account_ids, hot=hot, run=f"b{hot}")
        base = _run(args.workers, args.debits, baseline)
        p_rate, p_p95 = _report(f"portal writer, {where}", *portal)
        b_rate, b_p95 = _report(f"bare psycopg, {where}", *base)
        results[where] = (b_rate / p_rate, p_p95 / b_p95)
    for where, (rate_ratio, p95_ratio) in results.items():
        print(f"ratio ({where}): baseline is {rate_ratio:.1f}x faster, portal p95 {p95_ratio:.1f}x")
    mismatches = credits_reconcile()
    print(f"ledger reconciles after the run: {not mismatches}")


if __name__ == "__main__":
    main()
