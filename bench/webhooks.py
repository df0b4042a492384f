"""Benchmark acknowledging Stripe webhooks under the production gunicorn configuration.

Starts the portal with `gunicorn --config gunicorn.conf.py` (the Dockerfile's command, its
worker and thread defaults) on 127.0.0.1:<free port>, with production settings as far as
loopback allows (DEBUG off, secrets and ALLOWED_HOSTS from the environment, HTTPS as a TLS
proxy reports it), PostgreSQL and the real Redis broker (CELERY_TASK_ALWAYS_EAGER off; no
worker runs: the messages just queue). The load comes from an asyncio client in this process
that keeps HTTP/1.1 connections alive and sends pre-built requests, so it can saturate a
trivial view. Measured:

(a) saturation throughput, trivial view (baseline) against the Stripe webhook (subject),
    interleaved A B A B for at least 3 rounds; both receive the same signed bodies, so they
    differ only by what the webhook does (verify, store, queue): target ratio >= 50%;
(b) webhooks at a fixed rate (50/s for 10 s, open loop: requests go out on schedule whether
    or not earlier ones were answered, and latency counts from the scheduled time): p50,
    p95, p99, target p95 <= 50 ms.

After every webhook round each event must be stored once, have its outbox message, and that
message must be in the broker's queue once, by its outbox id (else: cannot measure, exit 2);
no row is marked sent, since the consuming task does that and no worker runs. The Redis
database is flushed between rounds.

Usage (from the project root, PostgreSQL and Redis reachable):
    .venv/bin/python bench/webhooks.py            # the acceptance case
    .venv/bin/python bench/webhooks.py --quick    # development: smaller, shorter
Options: --requests N (per saturation round), --connections C, --rounds R, --rate R/s,
--seconds S, --database-url (or BENCH_DATABASE_URL), --redis-url (or BENCH_REDIS_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import runpy
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.harness import Bench, CannotMeasure, free_port, percentile, run  # noqa: E402

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bench_webhooks"
DEFAULT_REDIS = "redis://127.0.0.1:6379/3"
HOST = "127.0.0.1"
WEBHOOK_PATH = "/webhooks/stripe/"
TRIVIAL_PATH = "/bench/trivial/"
PROCESS_TASK = "payments.webhook_event_process"
WEBHOOK_SECRET = "whsec_bench"  # noqa: S105 (the endpoint secret of this run's server)
# A stored delivery of Stripe's (the tests' fixture), sent with a new id each time.
EVENT = ROOT / "payments" / "tests" / "fixtures" / "stripe" / "payment_intent.succeeded.json"
OUTBOX_HEADER = "outbox_id"  # billing_portal.common.outbox.OUTBOX_HEADER
QUEUE = "default"  # where the processing task is routed (CELERY_TASK_ROUTES: no route)


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small and short, for development")
    parser.add_argument("--requests", type=int, help="requests per saturation round")
    parser.add_argument("--connections", type=int, default=32, help="saturation clients")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=50.0, help="fixed-rate requests/s")
    parser.add_argument("--seconds", type=float, help="fixed-rate duration")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS))
    args = parser.parse_args()
    args.requests = args.requests or (1_500 if args.quick else 6_000)
    args.seconds = args.seconds or (4.0 if args.quick else 10.0)
    return args


# --- the server ---------------------------------------------------------------------------


def _environment(args: argparse.Namespace, port: int) -> dict[str, str]:
    """Production settings, as far as loopback allows: DEBUG off with its secrets, the
    reverse proxy's X-Forwarded-Proto trusted (it terminates TLS in production), the Redis
    broker with no eager tasks, logging at its default level."""
    from cryptography.fernet import Fernet

    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "CELERY_", "DATABASE_", "REDIS_", "CACHE_"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings_bench",
            "PYTHONPATH": str(ROOT),
            "READ_DOT_ENV_FILE": "false",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "ALLOWED_HOSTS": HOST,
            "BEHIND_TLS_PROXY": "true",
            "DATABASE_URL": args.database_url,
            "REDIS_URL": args.redis_url,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "EMAIL_URL": "dummymail://",
            "STRIPE_SECRET_KEY": "sk_test_bench",
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "GUNICORN_BIND": f"{HOST}:{port}",
        }
    )
    return env


def _gunicorn_config(env: dict[str, str]) -> dict[str, object]:
    """gunicorn.conf.py's values under `env` (what the server will run with)."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        return runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    finally:
        os.environ.clear()
        os.environ.update(saved)


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
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE payments_webhookevent, common_outboxmessage")


class Server:
    """gunicorn as the Dockerfile runs it, its output in a file (printed if it fails)."""

    def __init__(self, env: dict[str, str], port: int) -> None:
        self.env, self.port = env, port
        # Appending: the server writes at the end whatever this process reads.
        self.log: IO[bytes] = tempfile.TemporaryFile(mode="a+b")  # noqa: SIM115
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "gunicorn.conf.py",
            "billing_portal.wsgi:application",
        ]
        self.process = subprocess.Popen(  # noqa: S603 (our own gunicorn command line)
            command, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise CannotMeasure(f"gunicorn exited: {self.output()}")
            try:
                status = asyncio.run(_one_request(self.port, _request(TRIVIAL_PATH, b"{}", {})))
            except OSError:
                time.sleep(0.2)
                continue
            if status != 200:
                raise CannotMeasure(f"{TRIVIAL_PATH} answered {status}: {self.output()}")
            return
        raise CannotMeasure(f"gunicorn did not answer within 60 s: {self.output()}")

    def output(self, tail: int = 3000) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-tail:]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


# --- the client ---------------------------------------------------------------------------


def _request(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {HOST}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "X-Forwarded-Proto: https",
        "User-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Connection:
    """One keep-alive HTTP/1.1 connection; reconnects when the server closed it (keep-alive
    timeout, a worker replaced after max_requests) and sends the request again."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, request: bytes) -> int:
        for _attempt in range(3):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
            try:
                return await self._exchange(request)
            except (asyncio.IncompleteReadError, ConnectionError):
                self.close()
        raise CannotMeasure("the server closed the connection three times running")

    async def _exchange(self, request: bytes) -> int:
        assert self.reader is not None
        assert self.writer is not None
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lowered = head.lower()
        start = lowered.find(b"\r\ncontent-length:")
        if start < 0:
            raise CannotMeasure(f"a response without Content-Length: {head[:200]!r}")
        end = lowered.index(b"\r\n", start + 2)
        await self.reader.readexactly(int(lowered[start + 17 : end]))
        if b"\r\nconnection: close" in lowered:
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _one_request(port: int, request: bytes) -> int:
    connection = Connection(port)
    try:
        return await connection.send(request)
    finally:
        connection.close()


def _check(status: int, what: str) -> None:
    if status != 200:
        raise CannotMeasure(f"{what} answered {status}")


async def _saturate(port: int, requests: list[bytes], connections: int) -> float:
    """Send every request over `connections` keep-alive connections, each sending its next
    as soon as the last was answered; requests per second."""
    pending = iter(requests)

    async def client() -> None:
        connection = Connection(port)
        try:
            for request in pending:
                _check(await connection.send(request), "a saturation request")
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(connections)))
    return len(requests) / (time.perf_counter() - started)


async def _fixed_rate(port: int, requests: list[bytes], rate: float) -> list[float]:
    """Send request i at start + i / rate whatever happened to the earlier ones (open
    loop, a connection of its own when every open one is busy); latencies in seconds from
    each request's scheduled time, so a stall counts for every request it delays."""
    idle: list[Connection] = []
    latencies: list[float] = []
    loop = asyncio.get_running_loop()

    async def one(request: bytes, scheduled: float) -> None:
        connection = idle.pop() if idle else Connection(port)
        _check(await connection.send(request), "a fixed-rate webhook")
        latencies.append(loop.time() - scheduled)
        idle.append(connection)

    start = loop.time() + 0.1
    tasks = []
    for number, request in enumerate(requests):
        scheduled = start + number / rate
        await asyncio.sleep(max(0.0, scheduled - loop.time()))
        tasks.append(asyncio.create_task(one(request, scheduled)))
    await asyncio.gather(*tasks)
    for connection in idle:
        connection.close()
    return latencies


# --- one run ------------------------------------------------------------------------------


@dataclass
class Events:
    """A batch of signed Stripe deliveries, each a distinct event id under one prefix."""

    prefix: str
    bodies: list[tuple[bytes, dict[str, str]]]

    @classmethod
    def make(cls, count: int) -> Events:
        import stripe

        prefix = f"evt_bench_{uuid.uuid4().hex[:12]}_"
        payload = json.loads(EVENT.read_text())
        intent = payload["data"]["object"]
        bodies = []
        for n in range(count):
            payload["id"], payload["created"] = f"{prefix}{n}", int(time.time())
            intent["id"], intent["metadata"] = f"pi_bench_{n}", {"invoice_id": str(n)}
            body = json.dumps(payload)
            signature = stripe.WebhookSignature.generate_signature_header(body, WEBHOOK_SECRET)
            bodies.append((body.encode(), {"Stripe-Signature": signature}))
        return cls(prefix, bodies)

    def webhooks(self) -> list[bytes]:
        return [_request(WEBHOOK_PATH, body, headers) for body, headers in self.bodies]

    def trivial(self) -> list[bytes]:
        """The same bodies and signatures, to the view that ignores them."""
        return [_request(TRIVIAL_PATH, body, headers) for body, headers in self.bodies]


class Checks:
    """What must hold after a webhook round: each event stored once, with its outbox
    message, published to the broker's queue; and no result subscriptions."""

    def __init__(self, database_url: str, redis_url: str) -> None:
        import psycopg
        import redis

        self.db = psycopg.connect(database_url, autocommit=True)
        self.redis = redis.Redis.from_url(redis_url)

    def flush(self) -> None:
        self.redis.flushdb()

    def verify(self, events: Events) -> str:
        """Each event stored once with one outbox message, and each of those messages in
        the broker's queue once (matched by the `outbox_id` header). No row is marked sent:
        the consuming task marks it, and no worker runs here; none may have failed."""
        rows = self.db.execute(
            """
            SELECT e.id, o.id, o.last_error
            FROM payments_webhookevent e
            LEFT JOIN common_outboxmessage o
              ON o.task_name = %s AND o.args = jsonb_build_array(e.id)
            WHERE e.provider = 'stripe' AND e.event_id LIKE %s
            """,
            [PROCESS_TASK, events.prefix + "%"],
        ).fetchall()
        stored = len({event for event, _message, _error in rows})
        messages = {message for _event, message, _error in rows if message is not None}
        failed = sum(1 for _event, _message, error in rows if error)
        queued = [
            json.loads(raw)["headers"].get(OUTBOX_HEADER) for raw in self.redis.lrange(QUEUE, 0, -1)
        ]
        expected = len(events.bodies)
        figures = (
            f"{stored:,} stored, {len(messages):,} with an outbox message, {failed:,} failed to "
            f"publish, {len(queued):,} in the broker's queue (of {expected:,})"
        )
        if not (
            stored == len(rows) == len(messages) == len(queued) == expected
            and set(queued) == messages
            and failed == 0
        ):
            raise CannotMeasure(f"webhook deliveries went missing: {figures}")
        return figures

    def subscriptions(self) -> int:
        """Result-backend channels anyone subscribes to (celery-task-meta-<task id>)."""
        return len(self.redis.pubsub_channels("celery-task-meta-*"))

    def close(self) -> None:
        self.db.close()
        self.redis.close()


def _measure(args: argparse.Namespace, server: Server, checks: Checks, bench: Bench) -> None:
    warm = Events.make(max(200, args.connections * 10))
    for requests in (warm.trivial(), warm.webhooks()):  # every worker imports and connects
        asyncio.run(_saturate(server.port, requests, args.connections))
    checks.flush()
    verified: list[str] = []

    def trivial_round() -> float:
        requests = Events.make(args.requests).trivial()
        return asyncio.run(_saturate(server.port, requests, args.connections))

    def webhook_round() -> float:
        checks.flush()
        events = Events.make(args.requests)
        rate = asyncio.run(_saturate(server.port, events.webhooks(), args.connections))
        verified.append(checks.verify(events))
        return rate

    comparison = bench.compare(
        f"saturation, {args.requests:,} requests a round over {args.connections} connections",
        baseline=trivial_round,
        subject=webhook_round,
        rounds=args.rounds,
        metric="req/s",
    )
    for number, figures in enumerate(verified, 1):
        print(f"   webhook round {number}: {figures}")
    subscribed = checks.subscriptions()
    print(f"   result-backend subscriptions open on the Redis server: {subscribed}")

    checks.flush()
    events = Events.make(int(args.rate * args.seconds))
    latencies = asyncio.run(_fixed_rate(server.port, events.webhooks(), args.rate))
    print(f"   fixed rate: {checks.verify(events)}")
    p50, p95, p99 = (percentile(latencies, pct) * 1000 for pct in (50, 95, 99))
    print(
        f"   fixed rate {args.rate:g}/s for {args.seconds:g} s ({len(latencies)} webhooks): "
        f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms, max {max(latencies) * 1000:.1f} ms"
    )
    bench.at_least("webhook / trivial view, saturation throughput", comparison, 0.50)
    bench.at_most(f"webhook p95 at {args.rate:g}/s (ms)", p95, 50)


def main() -> None:
    args = _parse()
    port = free_port()
    env = _environment(args, port)
    config = _gunicorn_config(env)
    bench = Bench("webhooks")
    print(
        f"   gunicorn --config gunicorn.conf.py: {config['workers']} workers x "
        f"{config['threads']} threads (gthread), max_requests {config['max_requests']} "
        f"(+0..{config['max_requests_jitter']}), access log on; DEBUG off; broker "
        f"{args.redis_url}; database {args.database_url.rsplit('/', 1)[1]}",
        flush=True,
    )
    _prepare_database(env)
    checks = Checks(args.database_url, args.redis_url)
    checks.flush()
    server = Server(env, port)
    try:
        server.start()
        _measure(args, server, checks, bench)
    except CannotMeasure:
        print(f"gunicorn's output (tail):\n{server.output()}")
        raise
    finally:
        server.stop()
        checks.flush()
        checks.close()
    bench.finish()


if __name__ == "__main__":
    run(main)
