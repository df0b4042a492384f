"""Benchmark the Stripe webhook endpoint under gunicorn on loopback.

Starts gunicorn (2 workers x 4 threads) on 127.0.0.1 with the portal, posts N signed Stripe
events from C concurrent clients, and prints acknowledgements per second and p50/p95/p99
latency, next to the same figures for a trivial Django view measured in the same run, with
the ratios. Processing is queued (Redis when REDIS_URL is set, else an in-memory broker), so
this measures what a provider waits for: verify, store, enqueue, answer.

Usage (from the project root, PostgreSQL reachable):
    .venv/bin/python bench/webhooks.py [--events 2000] [--clients 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from payments.tests import stripe_events as se  # noqa: E402

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/billing_portal_bench"
PORT = 8765


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    return parser.parse_args()


def _environment(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings_bench",
        "DATABASE_URL": database_url,
        "DEBUG": "true",
        "READ_DOT_ENV_FILE": "false",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "STRIPE_SECRET_KEY": "sk_test_bench",
        "STRIPE_WEBHOOK_SECRET": se.SECRET,
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }


def _prepare_database(env: dict[str, str]) -> None:
    import psycopg

    url = env["DATABASE_URL"]
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT, env=env, check=True
    )


def _start_gunicorn(env: dict[str, str]) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "billing_portal.wsgi:application",
        "--bind",
        f"127.0.0.1:{PORT}",
        "--workers",
        "2",
        "--threads",
        "4",
        "--worker-class",
        "gthread",
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env)  # noqa: S603
    for _ in range(100):
        try:
            requests.get(f"http://127.0.0.1:{PORT}/bench/trivial/", timeout=1)
            return server
        except requests.ConnectionError:
            time.sleep(0.1)
    server.terminate()
    raise SystemExit("gunicorn did not start")


def _load(url: str, bodies: list[tuple[bytes, dict]], clients: int) -> tuple[float, list[float]]:
    local = __import__("threading").local()

    def post(item) -> float:
        body, headers = item
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        started = time.perf_counter()
        response = session.post(url, data=body, headers=headers, timeout=30)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}: {response.text[:200]}")
        return elapsed

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        latencies = list(pool.map(post, bodies))
    return time.perf_counter() - started, latencies


def _report(label: str, total: float, latencies: list[float]) -> tuple[float, float, float]:
    rate = len(latencies) / total
    cuts = statistics.quantiles(latencies, n=100)
    p50, p95, p99 = (cuts[index] * 1000 for index in (49, 94, 98))
    figures = f"p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   p99 {p99:6.1f} ms"
    print(f"{label:<16} {rate:8,.0f} req/s   {figures}")
    return rate, p95, p99


def main() -> None:
    args = _parse()
    env = _environment(args.database_url)
    _prepare_database(env)
    run = uuid.uuid4().hex[:8]
    webhooks = []
    for n in range(args.events):
        payload = se.event(
            "payment_intent.succeeded",
            se.payment_intent(0, amount=100),
            event_id=f"evt_bench_{run}_{n}",
        )
        body, headers = se.signed(payload)
        signature = headers["HTTP_STRIPE_SIGNATURE"]
        request_headers = {"Content-Type": "application/json", "Stripe-Signature": signature}
        webhooks.append((body.encode(), request_headers))
    trivial = [(b"{}", {"Content-Type": "application/json"})] * args.events
    server = _start_gunicorn(env)
    try:
        base = f"http://127.0.0.1:{PORT}"
        _load(f"{base}/bench/trivial/", trivial[:200], args.clients)  # warm up
        print(f"{args.events:,} requests each, {args.clients} concurrent clients, gunicorn 2x4")
        t_rate, t_p95, t_p99 = _report(
            "trivial view", *_load(f"{base}/bench/trivial/", trivial, args.clients)
        )
        w_rate, w_p95, w_p99 = _report(
            "stripe webhook", *_load(f"{base}/webhooks/stripe/", webhooks, args.clients)
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(
        f"ratio (trivial / webhook): {t_rate / w_rate:.1f}x throughput, "
        f"{w_p95 / t_p95:.1f}x p95, {w_p99 / t_p99:.1f}x p99"
    )


if __name__ == "__main__":
    main()
