"""The production shape in docker-compose.yml (acceptance 1 of issue 12): the file validates
with Compose, and its services are the ones DESIGN.md §4 names: a one-shot migrate that the
portal's processes wait for, a TLS proxy as the only published port, web, a worker per queue
class, one beat, PostgreSQL, a broker Redis that never evicts and a cache Redis that may, and
a healthcheck on every long-running service."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
PORTAL = ("web", "worker-default", "worker-panels", "worker-backups", "beat")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _command(service: str) -> list[str]:
    command = SERVICES[service].get("command", [])
    return command if isinstance(command, list) else command.split()


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def _seconds(duration: str) -> int:
    """A Compose duration ("1m30s", "6m", "40s") in seconds."""
    units = {"h": 3600, "m": 60, "s": 1}
    parts = re.findall(r"(\d+)([hms])", duration)
    assert "".join(n + u for n, u in parts) == duration, duration
    return sum(int(number) * units[unit] for number, unit in parts)


def _healthcheck(service: str) -> list[str]:
    test = SERVICES[service]["healthcheck"]["test"]
    return test if isinstance(test, list) else ["CMD-SHELL", test]


def test_the_services_are_the_production_shape():
    assert set(SERVICES) == {
        "migrate",
        "proxy",
        "web",
        "worker-default",
        "worker-panels",
        "worker-backups",
        "beat",
        "db",
        "broker",
        "cache",
    }
    assert SERVICES["db"]["image"].startswith("postgres:")
    assert SERVICES["broker"]["image"].startswith("redis:")
    assert SERVICES["cache"]["image"].startswith("redis:")
    for name in ("migrate", *PORTAL):
        environment = SERVICES[name]["environment"]
        assert environment["DATABASE_URL"].startswith("postgres://")
        assert environment["READ_DOT_ENV_FILE"] == "false"
        # Production whatever .env says (.env.example, copied, is the development set-up).
        assert environment["DEBUG"] == "false"


def test_migrations_run_once_in_a_one_shot_service_that_the_processes_wait_for():
    migrate = SERVICES["migrate"]
    assert _command("migrate")[:3] == ["python", "manage.py", "migrate_locked"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    for name in PORTAL:
        assert "migrate" not in " ".join(_command(name)), name
        condition = SERVICES[name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully", name


def test_only_the_tls_proxy_publishes_ports_so_web_scales():
    published = {name for name, service in SERVICES.items() if service.get("ports")}
    assert published == {"proxy"}
    proxy = SERVICES["proxy"]
    assert proxy["image"].startswith("caddy:")
    assert {"80:80", "443:443"} <= set(proxy["ports"])
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    assert proxy["environment"]["PORTAL_UPSTREAM"] == "web:8000"
    assert proxy["depends_on"]["web"]["condition"] == "service_healthy"
    # Web is reachable on the compose network only, however many replicas run.
    assert SERVICES["web"]["expose"] == ["8000"]
    assert _command("web") == [
        "gunicorn",
        "--config",
        "gunicorn.conf.py",
        "billing_portal.wsgi:application",
    ]


def test_a_worker_per_queue_class_each_with_its_own_concurrency_and_grace_period():
    queues = {queue.name for queue in settings.CELERY_TASK_QUEUES}
    workers = [name for name in SERVICES if "worker" in _command(name)]
    assert sorted(workers) == sorted(f"worker-{queue}" for queue in queues)
    concurrency = set()
    for queue in queues:
        name = f"worker-{queue}"
        command = _command(name)
        assert command[:4] == ["celery", "-A", "billing_portal", "worker"]
        assert _option(command, "--queues") == queue
        assert _option(command, "--hostname") == f"{queue}@%h"
        concurrency.add(_option(command, "--concurrency"))
        # A warm shutdown lets the running tasks finish within their time limit.
        grace = _seconds(SERVICES[name]["stop_grace_period"])
        assert grace > settings.CELERY_TASK_TIME_LIMIT, name
    assert len(concurrency) == len(queues)  # each class is sized by a variable of its own
    assert all(re.fullmatch(r"\$\{WORKER_[A-Z]+_CONCURRENCY:-\d+\}", c) for c in concurrency)


def test_one_beat_on_the_persistent_locked_scheduler():
    beats = [name for name in SERVICES if "beat" in _command(name)]
    assert beats == ["beat"]
    command = _command("beat")
    assert command[:4] == ["celery", "-A", "billing_portal", "beat"]
    # The scheduler (and its lock) come from settings; no schedule file anywhere.
    assert not {"--schedule", "-s", "--scheduler", "-S", "-B", "--beat"} & set(command)
    assert settings.CELERY_BEAT_SCHEDULER == "redbeat.RedBeatScheduler"


def test_every_long_running_service_has_a_healthcheck():
    for name in set(SERVICES) - {"migrate"}:  # a one-shot is judged by its exit code
        test = _healthcheck(name)
        assert test[0] in ("CMD", "CMD-SHELL"), name
        assert len(test) > 1, name
        assert SERVICES[name]["healthcheck"].get("disable") is not True, name
    # Web through /healthz with a host it accepts, a worker by pinging its own node, beat
    # by the freshness of the schedule, the proxy on a loopback-only site of its own.
    assert _healthcheck("web") == ["CMD", "python", "deploy/healthcheck.py"]
    for queue in ("default", "panels", "backups"):
        ping = " ".join(_healthcheck(f"worker-{queue}")[1:])
        assert f"celery -A billing_portal inspect ping --destination {queue}@$$HOSTNAME" in ping
    assert _healthcheck("beat") == ["CMD", "python", "manage.py", "beat_healthcheck"]
    assert "http://127.0.0.1:2020/healthz" in _healthcheck("proxy")


def test_broker_cache_and_results_live_apart_and_the_broker_never_evicts():
    environment = SERVICES["web"]["environment"]
    broker, cache = environment["CELERY_BROKER_URL"], environment["CACHE_URL"]
    results = environment["CELERY_RESULT_BACKEND"]
    assert broker.startswith("redis://broker:")
    assert cache.startswith("redis://cache:")
    assert results.startswith("redis://broker:")
    assert results != broker
    broker_command = _command("broker")
    assert _option(broker_command, "--maxmemory-policy") == "noeviction"
    assert _option(broker_command, "--appendonly") == "yes"
    assert _option(_command("cache"), "--maxmemory-policy") == "allkeys-lru"
    for name in PORTAL:
        assert SERVICES[name]["environment"].items() >= environment.items(), name


def test_backups_are_written_to_a_volume_the_backups_worker_keeps():
    backups = SERVICES["worker-backups"]
    assert backups["environment"]["BACKUP_DIR"] == "/var/lib/portal/backups"
    assert "backups:/var/lib/portal/backups" in backups["volumes"]
    assert "backups" in COMPOSE["volumes"]


@pytest.mark.skipif(
    not IN_CI and not shutil.which("docker-compose"), reason="docker-compose is not installed"
)
def test_docker_compose_config_validates(tmp_path):
    # Debian's docker-compose (installed by .ci/run) validates the file against the Compose
    # specification and resolves anchors, variables and dependencies, with no engine.
    for name in ("docker-compose.yml", "Dockerfile"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    environ = {key: value for key, value in os.environ.items() if not key.startswith("COMPOSE")}
    result = subprocess.run(
        ["docker-compose", "config"],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert set(resolved["services"]) == set(SERVICES)
    worker = resolved["services"]["worker-panels"]
    assert worker["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert _option(worker["command"], "--concurrency").isdigit()
