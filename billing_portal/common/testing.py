"""Test helpers shared by every app's tests."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from django.db import connections
from djmoney.money import Money

# The VirtFusion API the tests configure (conftest `virtfusion_settings`) and mock.
VIRTFUSION_API = "https://cp.example.test/api/v1"


def money(amount: str, currency: str) -> Money:
    """An exact amount (from its text, never a float) in `currency`: `money("12.00", "USD")`."""
    return Money(Decimal(amount), currency)


def load_fixture(tests_dir: str | Path, vendor: str, name: str) -> Any:
    """A vendor's payload a test uses, stored as `<tests_dir>/fixtures/<vendor>/<name>.json`
    (`tests_dir`: an app's tests folder, or a module in it: pass `__file__`); a new copy each
    call, so a test may change it."""
    base = Path(tests_dir)
    if base.suffix == ".py":
        base = base.parent
    return json.loads((base / "fixtures" / vendor / f"{name}.json").read_text())


def usd(amount: str) -> Money:
    return money(amount, "USD")


def eur(amount: str) -> Money:
    return money(amount, "EUR")


class _FormValues(HTMLParser):
    """Collects what a browser submits for one form (no button pressed): named inputs,
    checked boxes and radios, each select's selected options (else its first), textareas."""

    SKIPPED = {"submit", "button", "image", "reset", "file"}

    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id, self.inside = form_id, False
        self.values: dict[str, list[str]] = {}
        self._select: tuple[str, bool, list[str], list[str]] | None = None
        self._textarea: tuple[str, list[str]] | None = None

    def _add(self, name: str, value: str) -> None:
        self.values.setdefault(name, []).append(value)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside or "disabled" in a:
            return
        if tag == "input" and a.get("name") and a.get("type", "text") not in self.SKIPPED:
            if a.get("type") not in ("checkbox", "radio") or "checked" in a:
                self._add(a["name"], a.get("value", "on" if "checked" in a else ""))
        elif tag == "select" and a.get("name"):
            self._select = (a["name"], "multiple" in a, [], [])
        elif tag == "option" and self._select is not None:
            self._select[2].append(a.get("value", ""))
            if "selected" in a:
                self._select[3].append(a.get("value", ""))
        elif tag == "textarea" and a.get("name"):
            self._textarea = (a["name"], [])

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea[1].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select is not None:
            name, multiple, options, selected = self._select
            for value in selected if multiple else (selected[-1:] or options[:1]):
                self._add(name, value)
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            name, parts = self._textarea
            text = "".join(parts)
            self._add(name, text.removeprefix("\n"))  # browsers drop the newline after <textarea>
            self._textarea = None


def form_values(html: str, form_id: str) -> dict[str, list[str]]:
    """What submitting the form with id `form_id` in `html` unchanged would post (for the
    test client: a value list per field name)."""
    parser = _FormValues(form_id)
    parser.feed(html)
    return parser.values


def run_together(calls: Iterable[Callable[[], Any]], *, timeout: float = 120) -> list[Any]:
    """Run each call in its own thread, all released at once by a barrier, each on its own
    database connection (closed afterwards); returns each call's result, or the exception it
    raised, in the order given. For races on PostgreSQL."""
    calls = list(calls)
    barrier = threading.Barrier(len(calls))
    outcomes: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            outcomes[index] = call()
        except BaseException as exc:  # reported to the test, which decides
            outcomes[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return outcomes


def errors_of(outcomes: Iterable[Any]) -> list[BaseException]:
    return [outcome for outcome in outcomes if isinstance(outcome, BaseException)]


ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port free on loopback now, for a server a test starts (never a fixed port)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process_group(process: subprocess.Popen, *, grace: float = 30) -> None:
    """Stop a command started with `start_new_session=True` and everything it started (make
    and runserver's reloader and child, for one): SIGTERM, then SIGKILL after `grace`
    seconds, as a loaded machine may take a while."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def repository_copy(destination: Path) -> Path:
    """Copy the repository's files (tracked and new ones, as `git` lists them) into
    `destination`: a checkout of the working tree for commands that write where they run
    (a .env, a database, collected static files)."""
    listed = subprocess.run(
        # git from PATH, as a developer runs it; fixed arguments, no input.
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        if (ROOT / name).is_file():  # not a file deleted in the working tree
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, destination / name)
    return destination


def database_url_for_tests(*, scheme: str = "postgres") -> str:
    """The URL of the database the tests run on, for worker processes and raw psycopg
    connections (`scheme="postgresql"` for psycopg)."""
    db = connections["default"].settings_dict
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return f"{scheme}://{db['USER']}@{host}:{port}/{db['NAME']}"


@contextlib.contextmanager
def celery_worker(
    log_path: Path, *, env: dict[str, str] | None = None, queue: str | None = None
) -> Iterator[tuple[str, subprocess.Popen]]:
    """A real `celery worker` process on the Redis broker, consuming a private queue (or
    `queue`, e.g. "default" on a broker of the test's own); yields (queue, process). Tasks
    sent meanwhile go to the broker (eager mode is off) and the worker is stopped at the end
    (or killed earlier by the test)."""
    from celery import current_app
    from django.conf import settings

    celery_app = current_app._get_current_object()

    queue = queue or f"test-{uuid.uuid4().hex[:8]}"
    variables = {
        **os.environ,
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "DEBUG": "true",
        "READ_DOT_ENV_FILE": "false",
        **(env or {}),
    }
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "billing_portal",
        "worker",
        "--pool",
        "solo",
        "-Q",
        queue,
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    with log_path.open("w") as log:
        process = subprocess.Popen(  # noqa: S603 (a fixed command: this Python, celery)
            command, cwd=ROOT, env=variables, stdout=log, stderr=subprocess.STDOUT
        )
        eager = celery_app.conf.task_always_eager
        celery_app.conf.task_always_eager = False
        try:
            yield queue, process
        finally:
            celery_app.conf.task_always_eager = eager
            if process.poll() is None:
                process.terminate()
            process.wait(timeout=30)


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    """Whether `predicate` became true within `timeout` seconds (polled)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


class RedisServer:
    """A `redis-server` of the test's own on a free loopback port, nothing persisted; the
    test stops and starts it (same port) to make a broker outage."""

    def __init__(self, directory: Path) -> None:
        self.port, self.directory = free_port(), directory
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        command = [
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.directory),
        ]
        log = (self.directory / "redis.log").open("a")
        # Our own command line (redis-server and fixed options), no shell.
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        if not wait_for(self._answers, 10):
            raise RuntimeError(f"redis-server did not start on port {self.port}")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def llen(self, key: str) -> int:
        """The length of a list (a queue of the Redis transport)."""
        import redis

        client = redis.Redis.from_url(self.url)
        try:
            return client.llen(key)
        finally:
            client.close()


@contextlib.contextmanager
def celery_broker(url: str) -> Iterator[None]:
    """Publish from this process to the broker at `url`, which is also the result backend
    (as one REDIS_URL makes them), eager mode off, until the end."""
    from celery import current_app

    celery_app = current_app._get_current_object()

    conf = celery_app.conf
    names = ("broker_url", "broker_write_url", "result_backend", "task_always_eager")
    saved = {name: conf[name] for name in names}

    def reset_connections() -> None:
        from kombu import pools

        pools.reset()  # closes every pooled connection and forgets the pools
        celery_app._pool = None
        celery_app.amqp._producer_pool = None
        celery_app._backend_cache = None  # the result backend, made again from conf
        celery_app._local = threading.local()

    reset_connections()
    conf.update(broker_url=url, broker_write_url=None, result_backend=url, task_always_eager=False)
    try:
        yield
    finally:
        reset_connections()
        conf.update(saved)


class CuttableRelay:
    """Relays loopback TCP connections to `target`; `cut()` severs them until `restore()`:
    while cut it drops every open connection and closes each new one at once, as a network
    partition or a restarting database server would."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.severed = threading.Event()
        self.open: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.severed.is_set():
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass  # the other side was cut
        finally:
            for end in (source, sink):
                end.close()

    def cut(self) -> None:
        self.severed.set()
        with self.lock:
            for end in self.open:
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()
            self.open.clear()

    def restore(self) -> None:
        self.severed.clear()

    def close(self) -> None:
        self.cut()
        self.listener.close()


def drop_unfired(rsps: Any, *registered: Any) -> None:
    """Forget shared set-up calls (an OAuth token, a catalogue product) that this test did not
    need, so the strict mock's end-of-test check judges only the calls the test registered
    itself. Call it after the test, before the mock closes."""
    for response in registered:
        if not response.call_count:
            rsps.remove(response)


# --- Lists read in an index's order --------------------------------------------------------


def order_by_columns(queryset: Any) -> list[tuple[str, bool]]:
    """(column, descending) of each ORDER BY term of `queryset`, as Django compiles it. A term
    no index of the table can give (a joined table's column, an expression, NULLS placed
    against the index's default) comes back as its SQL text, which matches no column."""
    from django.db.models.expressions import Col

    compiler = queryset.query.get_compiler(using=queryset.db)
    compiler.setup_query()
    table = queryset.model._meta.db_table
    columns = []
    for order_by, (sql, _params, _is_ref) in compiler.get_order_by():
        term = order_by.expression
        # An index ascending has NULLS LAST, read backwards NULLS FIRST: both are PostgreSQL's
        # defaults, so only an explicit placement against them needs an index of its own.
        against = order_by.nulls_first if not order_by.descending else order_by.nulls_last
        if isinstance(term, Col) and term.alias == table and not against:
            columns.append((term.target.column, order_by.descending))
        else:
            columns.append((sql, order_by.descending))
    return columns


def index_for_order(queryset: Any, *, equal: Iterable[str] = ()) -> str | None:
    """The name of an index of the queryset's table (from the database's catalogue, so the
    migrations made it) that reads the queryset in its order: its first columns are `equal`
    (the columns the list filters on with `=`, in any order), then the ORDER BY columns, all
    in the index's directions or all against them (an index is read backwards as well);
    None when there is none."""
    connection = connections[queryset.db]
    table = queryset.model._meta.db_table
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    meta = queryset.model._meta
    # A partial index (or unique constraint) holds only some rows; a "_like" index is
    # PostgreSQL's pattern-matching copy of a text column, in byte order, not the list's.
    partial = {c.name for c in [*meta.indexes, *meta.constraints] if getattr(c, "condition", None)}
    equal = set(equal)
    wanted = order_by_columns(queryset)
    for name, constraint in sorted(constraints.items()):
        btree = constraint.get("index") or constraint.get("primary_key") or constraint["unique"]
        if not btree or constraint.get("check") or constraint.get("foreign_key"):
            continue
        if (
            name in partial
            or name.endswith("_like")
            or constraint.get("type") not in (None, "btree", "idx")
        ):
            continue
        columns = constraint["columns"]
        orders = constraint.get("orders") or ["ASC"] * len(columns)
        if set(columns[: len(equal)]) != equal:
            continue
        rest = list(zip(columns[len(equal) :], orders[len(equal) :], strict=True))
        if len(rest) < len(wanted):
            continue
        same = [(c, o == "DESC") for c, o in rest[: len(wanted)]]
        flipped = [(c, not descending) for c, descending in same]
        if wanted in (same, flipped):
            return name
    return None
