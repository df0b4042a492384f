"""Acceptance 2 of issue 12: following the README exactly, `make run`, `make worker` and
`make beat` start (with the development defaults, no secrets set), and
`cp .env.example .env && make run` serves pages.

Each command runs in a copy of the repository, so its `.env`, SQLite database and anything
else it writes stay there, from a developer's shell (none of the portal's variables set but
what the README says to set); the tests' interpreter stands in for `.venv`."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
import requests
from django.conf import settings

from billing_portal.common.testing import free_port, repository_copy, stop_process_group

ROOT = Path(__file__).resolve().parents[2]
QUEUES = ("default", "panels", "backups")


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    return repository_copy(tmp_path_factory.mktemp("checkout"))


def _shell(**variables: str) -> dict[str, str]:
    """A developer's shell: none of the portal's variables, make's own neither."""
    ours = {
        "DATABASE_URL",
        "REDIS_URL",
        "DEBUG",
        "READ_DOT_ENV_FILE",
        "SECRET_KEY",
        "ALLOWED_HOSTS",
        "FIELD_ENCRYPTION_KEYS",
        "DJANGO_SETTINGS_MODULE",
        "PORT",
        "PORTAL_BASE_URL",
        "MAKEFLAGS",
        "MFLAGS",
        "MAKELEVEL",
    }
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ours and not key.startswith(("CELERY_", "CACHE_"))
    }
    return {**env, **variables}


@contextlib.contextmanager
def _make(
    checkout: Path, target: str, log: Path, env: dict[str, str], *args: str
) -> Iterator[subprocess.Popen]:
    # The tests' own interpreter stands in for .venv (already installed: not remade).
    command = [
        "make",
        "--no-print-directory",
        target,
        *args,
        f"BIN={Path(sys.executable).parent}",
        "-o",
        ".venv/.runtime-installed",
    ]
    with log.open("w") as out:
        process = subprocess.Popen(
            command,
            cwd=checkout,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        stop_process_group(process, grace=60)


def _until(condition: Callable[[], bool], process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 240
    while not condition():
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.5)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


def test_cp_env_example_and_make_run_serves_pages(checkout, tmp_path):
    shutil.copy(checkout / ".env.example", checkout / ".env")
    port = free_port()
    log = tmp_path / "make-run.log"
    with _make(checkout, "run", log, _shell(), f"PORT={port}") as process:
        base = f"http://127.0.0.1:{port}"
        _until(lambda: _answers(f"{base}/accounts/login/"), process, log)
        login = requests.get(f"{base}/accounts/login/", timeout=10)
        assert "csrfmiddlewaretoken" in login.text
        home = requests.get(f"{base}/", allow_redirects=False, timeout=10)
        assert home.status_code == 302
        assert home.headers["Location"] == "/accounts/login/?next=/"
        health = requests.get(f"{base}/healthz", timeout=10).json()
        # The development set-up as copied: SQLite and in-process tasks.
        assert health["database"]["vendor"] == "sqlite"
        assert health["broker"]["mode"] == "in-process"
    assert (checkout / "db.sqlite3").is_file()


@pytest.fixture
def broker() -> Iterator[redis.Redis]:
    """The tests' Redis, with the portal's queues and the default RedBeat keys cleared before
    and after (a command started here must not run tasks queued by another test)."""
    if not settings.REDIS_URL:
        pytest.skip("needs a Redis broker; REDIS_URL is not set")
    client = redis.Redis.from_url(settings.REDIS_URL)

    def clear() -> None:
        client.delete(*QUEUES, *client.scan_iter("redbeat:*"))

    clear()
    yield client
    clear()


def _readme_exports(checkout: Path) -> dict[str, str]:
    # README: "export DATABASE_URL=... export REDIS_URL=..., make run, make worker".
    database = f"sqlite:///{checkout / 'worker.sqlite3'}"  # no task of another test runs here
    return _shell(DATABASE_URL=database, REDIS_URL=settings.REDIS_URL)


def test_make_worker_starts_on_every_queue_without_beat(checkout, tmp_path, broker):
    log = tmp_path / "make-worker.log"
    with _make(checkout, "worker", log, _readme_exports(checkout)) as process:
        _until(lambda: " ready." in log.read_text(), process, log)
    output = log.read_text()
    assert "SECRET_KEY is not set" not in output
    for queue in QUEUES:
        assert re.search(rf"\.> {queue} +exchange=", output), queue
    assert "beat: Starting" not in output  # beat is `make beat`, a process of its own


def test_make_beat_starts_and_writes_no_schedule_file(checkout, tmp_path, broker):
    log = tmp_path / "make-beat.log"
    with _make(checkout, "beat", log, _readme_exports(checkout)) as process:
        _until(lambda: "beat: Acquired lock" in log.read_text(), process, log)
    assert "scheduler -> redbeat.schedulers.RedBeatScheduler" in log.read_text()
    assert not list(checkout.glob("celerybeat-schedule*"))
    assert "celerybeat-schedule*" in (ROOT / ".gitignore").read_text().splitlines()


def test_make_worker_with_redis_url_only_in_dot_env(checkout, tmp_path, broker):
    # README: "Set DATABASE_URL and REDIS_URL (in the environment or a .env file)".
    env_file = checkout / ".env"
    saved = env_file.read_text() if env_file.exists() else None
    env_file.write_text(f"{saved or ''}\nREDIS_URL={settings.REDIS_URL}\n")
    log = tmp_path / "make-worker.log"
    try:
        with _make(checkout, "worker", log, _shell()) as process:
            _until(lambda: " ready." in log.read_text(), process, log)
    finally:
        if saved is None:
            env_file.unlink()
        else:
            env_file.write_text(saved)


def test_make_worker_and_beat_without_a_broker_say_what_to_set(checkout, tmp_path):
    for target in ("worker", "beat"):
        result = subprocess.run(
            [
                "make",
                "--no-print-directory",
                target,
                f"BIN={Path(sys.executable).parent}",
                "-o",
                ".venv/.runtime-installed",
            ],
            cwd=checkout,
            env=_shell(READ_DOT_ENV_FILE="false"),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode != 0
        assert "Set REDIS_URL" in result.stdout + result.stderr
