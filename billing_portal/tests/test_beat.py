"""Beat is a singleton that survives redeploys: with two workers and two `celery beat`
processes on the real Redis broker, each periodic task is sent once per period, and when the
beat holding the lock stops, the waiting one carries on with the schedule kept in Redis.
The schedule's freshness is what the beat container's healthcheck reports."""

from __future__ import annotations

import contextlib
import itertools
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings

from billing_portal.tests.beat_probe import runs_key

ROOT = Path(__file__).resolve().parents[2]
PERIOD = 2.0  # beat_settings.BEAT_PROBE_PERIOD

pytestmark = pytest.mark.redis


@pytest.fixture
def probe(tmp_path) -> Iterator[tuple[str, dict[str, str], redis.Redis]]:
    """A probe id, the environment of the test's celery processes, and a Redis client; the
    keys the test made are deleted afterwards."""
    probe_id = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "billing_portal.tests.beat_settings",
        "BEAT_PROBE_ID": probe_id,
        "REDIS_URL": settings.REDIS_URL,
        "DEBUG": "true",
        "READ_DOT_ENV_FILE": "false",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "PYTHONPATH": str(ROOT),
    }
    client = redis.Redis.from_url(settings.REDIS_URL)
    yield probe_id, env, client
    keys = [*client.scan_iter(f"redbeat-test-{probe_id}:*"), runs_key(probe_id)]
    client.delete(*keys, f"beat-probe-{probe_id}")


@contextlib.contextmanager
def _celery(args: list[str], log: Path, env: dict[str, str], cwd: Path) -> Iterator[Path]:
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "billing_portal", *args],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield log
    finally:
        process.terminate()
        process.wait(timeout=60)


def _wait(condition, what: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def _runs(client: redis.Redis, probe_id: str) -> list[float]:
    return sorted(float(value) for value in client.lrange(runs_key(probe_id), 0, -1))


def _beat_healthcheck(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "beat_healthcheck", "--max-lag", "3"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_two_beats_and_two_workers_send_each_periodic_task_once_per_period(probe, tmp_path):
    probe_id, env, client = probe
    queue = f"beat-probe-{probe_id}"
    worker = [
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
    beat = ["beat", "--loglevel", "INFO"]
    with contextlib.ExitStack() as stack:
        for n in (1, 2):
            log = stack.enter_context(
                _celery(
                    [*worker, "-n", f"probe{n}-{probe_id}@%h"],
                    tmp_path / f"worker{n}.log",
                    env,
                    ROOT,
                )
            )
            _wait(lambda log=log: " ready." in log.read_text(), f"worker {n} did not start")
        first_log = tmp_path / "beat1.log"
        first = stack.enter_context(contextlib.ExitStack())
        first.enter_context(_celery(beat, first_log, env, tmp_path))
        _wait(lambda: _runs(client, probe_id), "the first beat sent nothing")
        second_log = stack.enter_context(_celery(beat, tmp_path / "beat2.log", env, tmp_path))
        time.sleep(4 * PERIOD)
        assert _beat_healthcheck(env).returncode == 0
        first.close()  # the redeploy: the beat holding the lock stops
        stopped_at = time.time()
        time.sleep(4 * PERIOD)
        healthy = _beat_healthcheck(env)
        assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    logs = f"{first_log.read_text()}\n{second_log.read_text()}"
    runs = _runs(client, probe_id)
    gaps = [later - earlier for earlier, later in itertools.pairwise(runs)]
    # Once per period: never two runs of one period, none skipped beyond the takeover.
    assert len(gaps) >= 4, (runs, logs)
    assert min(gaps) > PERIOD / 2, (runs, logs)
    assert max(gaps) < 3 * PERIOD, (runs, logs)
    assert len([t for t in runs if t > stopped_at]) >= 2, logs  # the second beat took over
    assert logs.count("Sending due task beat-probe") == len(runs), logs
    assert "beat: Acquired lock" in second_log.read_text()
    assert not list(tmp_path.glob("celerybeat-schedule*"))


def test_the_beat_healthcheck_fails_when_the_schedule_is_stale(probe, tmp_path):
    _, env, _ = probe
    no_schedule = _beat_healthcheck(env)
    assert no_schedule.returncode == 1
    assert "no schedule" in no_schedule.stderr
    with _celery(["beat", "--loglevel", "INFO"], tmp_path / "beat.log", env, tmp_path):
        _wait(lambda: _beat_healthcheck(env).returncode == 0, "beat never became healthy")
    time.sleep(3 + 2 * PERIOD)
    stale = _beat_healthcheck(env)
    assert stale.returncode == 1
    assert "overdue" in stale.stderr
